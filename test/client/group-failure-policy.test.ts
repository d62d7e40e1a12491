import { describe, expect, it } from 'vitest';
import { cutUtf8, deadLetterHeaders, errorText } from '../../src/client/dead-letter-publisher.js';
import { isNonRetriable, resolveFailurePolicy, retryDelayMs } from '../../src/client/group-failure-policy.js';
import { NonRetriableError } from '../../src/client/non-retriable-error.js';
import { DEAD_LETTER_HEADERS } from '../../src/core/dead-letter-headers.js';
import { MAX_QUEUE_REASON_BYTES } from '../../src/core/limits.js';

describe('the group consumer failure policy', () => {
  it('defaults to 5 attempts and 1 s doubling to 5 min with 20 % jitter, the queue groups defaults', () => {
    const policy = resolveFailurePolicy({});
    expect(policy).toMatchObject({ maxAttempts: 5, baseMs: 1_000, factor: 2, maxMs: 300_000, jitter: 0.2 });
    expect(policy.deadLetterTopic('orders')).toBe('orders.dlq');
    // A base past the default maximum raises the maximum with it rather than being refused.
    expect(resolveFailurePolicy({ backoff: { baseMs: 600_000 } }).maxMs).toBe(600_000);
  });

  it('waits min(max, base * factor^(attempt-1)) after each failed attempt, spread by the jitter', () => {
    const at = (random: number) => resolveFailurePolicy({ backoff: { baseMs: 100, factor: 3, maxMs: 1_000, jitter: 0.5 }, random: () => random });
    expect([1, 2, 3, 4].map((attempt) => retryDelayMs(at(0.5), attempt))).toEqual([100, 300, 900, 1_000]);
    expect([1, 2, 3, 4].map((attempt) => retryDelayMs(at(0), attempt))).toEqual([50, 150, 450, 500]);
    expect([1, 2, 3, 4].map((attempt) => retryDelayMs(at(0.999_999), attempt))).toEqual([150, 450, 1_350, 1_500]);
    expect(retryDelayMs(resolveFailurePolicy({ backoff: { baseMs: 0, jitter: 0 } }), 7)).toBe(0);
  });

  it('knows a NonRetriableError, also one of another copy of the class (by name), and nothing else', () => {
    class CopiedNonRetriable extends Error {
      override name = 'NonRetriableError';
    }
    expect(isNonRetriable(new NonRetriableError('x'))).toBe(true);
    expect(isNonRetriable(new CopiedNonRetriable('x'))).toBe(true);
    expect(isNonRetriable(new Error('x'))).toBe(false);
    expect(isNonRetriable('NonRetriableError')).toBe(false);
  });
});

describe('dead-letter headers', () => {
  const record = { topic: 'orders', partition: 2, offset: 41, timestampMs: 5, key: null, value: null, headers: [
    { key: 'a', value: Buffer.from('1') },
    { key: DEAD_LETTER_HEADERS.sourceOffset, value: Buffer.from('7') },
    { key: DEAD_LETTER_HEADERS.cause, value: Buffer.from('rejected') },
    { key: 'b', value: null },
  ] };

  it("keeps the record's own headers in order and replaces Strata's dead-letter headers it already had (a redriven record that failed again)", () => {
    const headers = deadLetterHeaders({ record, attempts: 3, cause: 'handler-failed', error: new RangeError('bad amount') }, 'billing', 1_234);
    expect(headers.map((h) => [h.key, h.value?.toString() ?? null])).toEqual([
      ['a', '1'],
      ['b', null],
      [DEAD_LETTER_HEADERS.sourceTopic, 'orders'],
      [DEAD_LETTER_HEADERS.sourcePartition, '2'],
      [DEAD_LETTER_HEADERS.sourceOffset, '41'],
      [DEAD_LETTER_HEADERS.group, 'billing'],
      [DEAD_LETTER_HEADERS.attempts, '3'],
      [DEAD_LETTER_HEADERS.cause, 'handler-failed'],
      [DEAD_LETTER_HEADERS.error, 'RangeError: bad amount'],
      [DEAD_LETTER_HEADERS.deadLetteredAtMs, '1234'],
    ]);
  });

  it('cuts the error text to MAX_QUEUE_REASON_BYTES of UTF-8, never inside a character', () => {
    const long = 'é'.repeat(MAX_QUEUE_REASON_BYTES);
    const cut = cutUtf8(long, MAX_QUEUE_REASON_BYTES);
    expect(cut.length).toBe(MAX_QUEUE_REASON_BYTES);
    expect(cut.toString('utf8')).toBe('é'.repeat(MAX_QUEUE_REASON_BYTES / 2));
    const odd = cutUtf8(`x${long}`, MAX_QUEUE_REASON_BYTES);
    expect(odd.length).toBe(MAX_QUEUE_REASON_BYTES - 1);
    expect(odd.toString('utf8')).not.toContain('\ufffd');
    expect(errorText('plain string thrown')).toBe('plain string thrown');
    expect(errorText(new Error(''))).toBe('Error');
  });
});
