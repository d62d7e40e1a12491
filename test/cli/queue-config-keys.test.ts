import { describe, expect, it } from 'vitest';
import { parseQueueConfig } from '../../src/cli/queue-command.js';
import { InvalidArgumentError } from '../../src/core/errors.js';

describe('strata queue config --set keys', () => {
  it('takes the Kafka-style dotted names and the client names, numbers as numbers', () => {
    expect(parseQueueConfig({ 'lock.duration.ms': '5000', 'max.delivery.attempts': '3', 'backoff.factor': '1.5', 'backoff.jitter': '0.1', ordering: 'key', 'dead.letter.topic.suffix': '.dead' })).toEqual({
      lockDurationMs: 5_000,
      maxDeliveryAttempts: 3,
      backoffFactor: 1.5,
      backoffJitter: 0.1,
      ordering: 'key',
      deadLetterTopicSuffix: '.dead',
    });
    expect(parseQueueConfig({ backoffBaseMs: '250', delivery: 'at-most-once', start: 'latest' })).toEqual({ backoffBaseMs: 250, delivery: 'at-most-once', start: 'latest' });
  });

  it('refuses an unknown key or a number that is not one, naming the keys it knows', () => {
    expect(() => parseQueueConfig({ 'lock.ms': '5' })).toThrow(InvalidArgumentError);
    expect(() => parseQueueConfig({ 'lock.ms': '5' })).toThrow(/known: lock\.duration\.ms, max\.delivery\.attempts/);
    expect(() => parseQueueConfig({ 'backoff.base.ms': 'soon' })).toThrow(/backoff\.base\.ms must be a number, got 'soon'/);
    expect(() => parseQueueConfig({ 'backoff.base.ms': '' })).toThrow(/must be a number/);
  });
});
