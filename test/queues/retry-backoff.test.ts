import { describe, expect, it } from 'vitest';
import { DEFAULT_QUEUE_GROUP_CONFIG } from '../../src/queues/queue-group-config.js';
import { retryBackoffMs } from '../../src/queues/retry-backoff.js';

const fixed = (value: number) => ({ next: () => value });

describe('retryBackoffMs', () => {
  it('is min(max, base * factor^(deliveries - 1)) at the middle of the jitter', () => {
    const config = { ...DEFAULT_QUEUE_GROUP_CONFIG };
    expect([1, 2, 3, 4, 5].map((n) => retryBackoffMs(config, n, fixed(0.5)))).toEqual([1_000, 2_000, 4_000, 8_000, 16_000]);
    expect(retryBackoffMs(config, 20, fixed(0.5))).toBe(300_000);
    expect(retryBackoffMs(config, 5_000, fixed(0.5))).toBe(300_000); // factor^n overflows to Infinity; the max holds
  });

  it('spreads over [1 - jitter, 1 + jitter] of it', () => {
    const config = { ...DEFAULT_QUEUE_GROUP_CONFIG, backoffJitter: 0.2 };
    expect(retryBackoffMs(config, 3, fixed(0))).toBe(3_200);
    expect(retryBackoffMs(config, 3, fixed(0.999_999_9))).toBe(4_800);
    expect(retryBackoffMs({ ...config, backoffJitter: 0 }, 3, fixed(0.9))).toBe(4_000);
  });

  it('is 0 with a zero base', () => {
    expect(retryBackoffMs({ ...DEFAULT_QUEUE_GROUP_CONFIG, backoffBaseMs: 0 }, 4, fixed(0.3))).toBe(0);
  });
});
