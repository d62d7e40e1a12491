import { describe, expect, it } from 'vitest';
import { checkJoinConfig, DEFAULT_QUEUE_GROUP_CONFIG, resolveQueueGroupConfig } from '../../src/queues/queue-group-config.js';

describe('resolveQueueGroupConfig', () => {
  it('takes the given fields over the defaults, or over an existing config', () => {
    expect(resolveQueueGroupConfig({})).toEqual(DEFAULT_QUEUE_GROUP_CONFIG);
    const altered = resolveQueueGroupConfig({ ordering: 'key', maxDeliveryAttempts: 3 });
    expect(altered).toEqual({ ...DEFAULT_QUEUE_GROUP_CONFIG, ordering: 'key', maxDeliveryAttempts: 3 });
    expect(resolveQueueGroupConfig({ lockDurationMs: 5_000 }, altered)).toEqual({ ...altered, lockDurationMs: 5_000 });
  });

  it.each([
    [{ lockDurationMs: 0 }, /lockDurationMs/],
    [{ lockDurationMs: 1.5 }, /lockDurationMs/],
    [{ maxDeliveryAttempts: 0 }, /maxDeliveryAttempts/],
    [{ backoffBaseMs: -1 }, /backoffBaseMs/],
    [{ backoffFactor: 0.5 }, /backoffFactor/],
    [{ backoffFactor: Number.NaN }, /backoffFactor/],
    [{ backoffJitter: 1 }, /backoffJitter/],
    [{ backoffMaxMs: 10, backoffBaseMs: 20 }, /backoffMaxMs \(10\) must be at least backoffBaseMs \(20\)/],
    [{ ordering: 'fifo' }, /ordering/],
    [{ delivery: 'exactly-once' }, /delivery/],
    [{ start: 'middle' }, /start/],
    [{ deadLetterTopicSuffix: '' }, /deadLetterTopicSuffix/],
    [{ deadLetterTopicSuffix: '/dlq' }, /deadLetterTopicSuffix/],
    [{ colour: 'blue' }, /no field 'colour'/],
  ])('refuses %j with InvalidArgumentError naming the field', (partial, message) => {
    expect(() => resolveQueueGroupConfig(partial as never)).toThrow(message);
    try {
      resolveQueueGroupConfig(partial as never);
    } catch (error) {
      expect((error as { code: string }).code).toBe('INVALID_ARGUMENT');
    }
  });
});

describe('checkJoinConfig', () => {
  it('accepts a join giving no fields or the same values, and names every difference', () => {
    const existing = resolveQueueGroupConfig({ ordering: 'key' });
    expect(() => checkJoinConfig({}, existing, 'g')).not.toThrow();
    expect(() => checkJoinConfig({ ordering: 'key' }, existing, 'g')).not.toThrow();
    expect(() => checkJoinConfig({ ordering: 'none', maxDeliveryAttempts: 9 }, existing, 'g')).toThrow(
      /maxDeliveryAttempts 9 \(the group has 5\), ordering "none" \(the group has "key"\)/,
    );
  });
});
