import { describe, expect, it } from 'vitest';
import { InternalTopicError } from '../../src/core/errors.js';
import { INTERNAL_TOPIC_PREFIX, isInternalTopic, OFFSETS_TOPIC, refuseInternalTopic } from '../../src/core/internal-topics.js';

describe('internal topics', () => {
  it('are the offsets topic, named as Kafka names it', () => {
    expect(OFFSETS_TOPIC).toBe('__consumer_offsets');
    expect(isInternalTopic(OFFSETS_TOPIC)).toBe(true);
    expect(isInternalTopic('orders')).toBe(false);
  });

  it('are every name starting with __, reserved for the server; one underscore, or __ inside a name, is a client topic', () => {
    expect(INTERNAL_TOPIC_PREFIX).toBe('__');
    expect(OFFSETS_TOPIC.startsWith(INTERNAL_TOPIC_PREFIX)).toBe(true);
    for (const name of ['__queue_state', '__', '___x']) expect(isInternalTopic(name), name).toBe(true);
    for (const name of ['_private', 'a__b', 'orders__', '.__x']) expect(isInternalTopic(name), name).toBe(false);
    expect(() => refuseInternalTopic('__mine', 'create')).toThrow(
      new InternalTopicError("'__mine' is an internal topic name (names starting with __ are the server's): clients may not create it"),
    );
    expect(() => refuseInternalTopic('_mine', 'create')).not.toThrow();
  });

  it('refuse a client change with INTERNAL_TOPIC, naming the action', () => {
    for (const action of ['create', 'produce to', 'delete', 'add partitions to'] as const) {
      let refusal: unknown;
      try {
        refuseInternalTopic(OFFSETS_TOPIC, action);
      } catch (error) {
        refusal = error;
      }
      expect(refusal).toBeInstanceOf(InternalTopicError);
      expect(refusal).toMatchObject({ code: 'INTERNAL_TOPIC', retriable: false, message: `${OFFSETS_TOPIC} is the server's internal topic of committed offsets: clients may not ${action} it` });
    }
    expect(() => refuseInternalTopic('orders', 'delete')).not.toThrow();
  });
});
