import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, InvalidConfigError } from '../../src/core/errors.js';
import { DEFAULT_TOPIC_CONFIG, resolveTopicConfig } from '../../src/storage/topic-config.js';
import { planTopicConfigChange } from '../../src/storage/topic-config-change.js';

describe('planTopicConfigChange', () => {
  const current = Object.freeze({ 'retention.ms': '60000', flush: 'interval' });

  it('sets and deletes overrides, and resolves the result as a whole over the defaults', () => {
    const { overrides, config } = planTopicConfigChange(current, { set: { 'retention.bytes': '1048576', 'retention.ms': '120000' }, delete: ['flush'] });
    expect(overrides).toEqual({ 'retention.ms': '120000', 'retention.bytes': '1048576' });
    expect(config).toEqual({ ...DEFAULT_TOPIC_CONFIG, retentionMs: 120000, retentionBytes: 1048576 });
    expect(config).toEqual(resolveTopicConfig(overrides));
    // The input is not touched (the caller keeps the old overrides until the change is committed).
    expect(current).toEqual({ 'retention.ms': '60000', flush: 'interval' });
  });

  it('deletes a known key that is not overridden as a no-op, as Kafka does', () => {
    expect(planTopicConfigChange(current, { set: {}, delete: ['segment.ms', 'segment.ms'] }).overrides).toEqual(current);
  });

  it('refuses, with the parser of topic creation, what a new topic would be refused', () => {
    const cases: Array<[Record<string, string>, string[], RegExp]> = [
      [{ 'retention.msx': '1' }, [], /unknown topic config 'retention.msx' \(known: segment.bytes, /],
      [{}, ['nosuch'], /unknown topic config 'nosuch'/],
      [{}, ['__proto__'], /unknown topic config '__proto__'/],
      // An own '__proto__' key, as JSON (or a protobuf map) can carry: a key, refused as unknown.
      [JSON.parse('{"__proto__": "1"}') as Record<string, string>, [], /unknown topic config '__proto__'/],
      [{ 'retention.ms': 'soon' }, [], /retention.ms must be an integer in \[0, \d+\] or -1 for unlimited, got 'soon'/],
      [{ flush: 'sometimes' }, [], /flush must be one of always, interval, never; got 'sometimes'/],
      [{ 'max.message.bytes': '10' }, [], /max.message.bytes must be an integer in \[64, /],
      [{ 'segment.bytes': '1.5' }, [], /segment.bytes must be an integer/],
    ];
    for (const [set, deleted, message] of cases) {
      let error: unknown;
      try {
        planTopicConfigChange(current, { set, delete: deleted });
      } catch (caught) {
        error = caught;
      }
      expect(error, JSON.stringify({ set, deleted })).toBeInstanceOf(Error);
      expect((error as Error).message).toMatch(message);
    }
    expect(() => planTopicConfigChange(current, { set: { 'retention.ms': 'x' }, delete: [] })).toThrow(InvalidConfigError);
    expect(() => planTopicConfigChange(current, { set: {}, delete: ['bad.key'] })).toThrow(InvalidConfigError);
  });

  it('refuses an empty change and a key both set and deleted (INVALID_ARGUMENT)', () => {
    expect(() => planTopicConfigChange(current, { set: {}, delete: [] })).toThrow(InvalidArgumentError);
    expect(() => planTopicConfigChange(current, { set: {}, delete: [] })).toThrow(/nothing to change/);
    expect(() => planTopicConfigChange(current, { set: { flush: 'always' }, delete: ['flush'] })).toThrow(/'flush' is both set and deleted/);
  });
});
