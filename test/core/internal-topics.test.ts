import { describe, expect, it } from 'vitest';
import { InternalTopicError } from '../../src/core/errors.js';
import { isInternalTopic, OFFSETS_TOPIC, refuseInternalTopic } from '../../src/core/internal-topics.js';

describe('internal topics', () => {
  it('are the offsets topic, named as Kafka names it', () => {
    expect(OFFSETS_TOPIC).toBe('__consumer_offsets');
    expect(isInternalTopic(OFFSETS_TOPIC)).toBe(true);
    expect(isInternalTopic('orders')).toBe(false);
  });

  it('refuse a client change with INTERNAL_TOPIC, naming the action', () => {
    for (const action of ['produce to', 'delete', 'add partitions to'] as const) {
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
