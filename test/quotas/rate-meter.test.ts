import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { MAX_THROTTLE_TIME_MS, StaticQuotaSource } from '../../src/quotas/principal-quotas.js';
import { DEFAULT_SAMPLE_COUNT, DEFAULT_SAMPLE_WINDOW_MS, RateMeter } from '../../src/quotas/rate-meter.js';
import { RateQuotas } from '../../src/quotas/rate-quotas.js';

describe('RateMeter (Kafka samples: 11 of 1 s)', () => {
  it('pins Kafka\'s defaults', () => {
    expect(DEFAULT_SAMPLE_WINDOW_MS).toBe(1_000);
    expect(DEFAULT_SAMPLE_COUNT).toBe(11);
    expect(MAX_THROTTLE_TIME_MS).toBe(30_000);
  });

  it('spreads a first burst over ten whole windows: at the quota is no throttle, past it (rate - Q) / Q * window', () => {
    const clock = new ManualClock(0);
    const meter = new RateMeter({ clock });
    // 1000 bytes over the minimum window of 10 s: 100 B/s, exactly the quota.
    expect(meter.record('a', 1000, 100)).toBe(0);
    expect(meter.rate('a')).toBe(100);
    // 2000 bytes: 200 B/s, twice the quota: (200 - 100) / 100 * 10 s.
    expect(meter.record('a', 1000, 100)).toBe(10_000);
    // 5.5 s later, a new sample: 2500 bytes over 5.5 s topped up to 10.5 s (5 whole windows + 5 more).
    clock.advance(5_500);
    expect(meter.record('a', 500, 100)).toBe(14_500);
    expect(meter.rate('a')).toBeCloseTo(2_500_000 / 10_500, 9);
  });

  it('measures over the elapsed time once it passes ten windows, and forgets samples older than eleven', () => {
    const clock = new ManualClock(0);
    const meter = new RateMeter({ clock });
    expect(meter.record('a', 2000, 100)).toBe(10_000);
    clock.advance(10_500);
    // 2000 + 1100 over 10.5 s (10 whole windows: no top-up): (295.24 - 100) / 100 * 10500 = 20500.
    expect(meter.record('a', 1100, 100)).toBe(20_500);
    clock.advance(500);
    // At 11 s the sample started at 0 is still in (obsolete only when older than 11 windows).
    expect(meter.rate('a')).toBeCloseTo(3_100_000 / 11_000, 9);
    clock.advance(1);
    // The first sample is gone: 1100 over 0.501 s topped up to 10.501 s.
    expect(meter.rate('a')).toBeCloseTo(1_100_000 / 10_501, 9);
  });

  it('caps a throttle time at MAX_THROTTLE_TIME_MS', () => {
    const meter = new RateMeter({ clock: new ManualClock(0) });
    expect(meter.record('a', 10_000, 10)).toBe(MAX_THROTTLE_TIME_MS);
  });

  it('keeps principals apart, and records nothing under no quota', () => {
    const meter = new RateMeter({ clock: new ManualClock(0) });
    expect(meter.record('a', 5000, 100)).toBe(40_000 > MAX_THROTTLE_TIME_MS ? MAX_THROTTLE_TIME_MS : 40_000);
    expect(meter.record('b', 500, 100)).toBe(0);
    expect(meter.record('c', 1e9, null)).toBe(0);
    expect(meter.principalCount).toBe(2);
    expect(meter.rate('c')).toBe(0);
  });

  it('converges on the quota for a sender that waits out every throttle time (virtual time)', () => {
    const clock = new ManualClock(0);
    const meter = new RateMeter({ clock });
    const quota = 5_000_000;
    const requestBytes = 64 * 1024;
    let sentBytes = 0;
    let steadyBytes = 0;
    // As fast as it can: the next request goes as soon as the answer arrives (1 ms a round trip).
    while (clock.monotonicMs() < 300_000) {
      const throttleMs = meter.record('a', requestBytes, quota);
      sentBytes += requestBytes;
      if (clock.monotonicMs() >= 30_000) steadyBytes += requestBytes;
      clock.advance(1 + throttleMs);
    }
    // The first burst of up to ten windows' worth goes unthrottled (as in Kafka); after it, the quota.
    const steadyRate = (steadyBytes * 1000) / (clock.monotonicMs() - 30_000);
    expect(Math.abs(steadyRate - quota) / quota).toBeLessThan(0.03);
    const overallRate = (sentBytes * 1000) / clock.monotonicMs();
    expect(Math.abs(overallRate - quota) / quota).toBeLessThan(0.05);
  });

  it('follows at most maxPrincipals, forgetting the least recently seen; drops idle ones', () => {
    const clock = new ManualClock(0);
    const meter = new RateMeter({ clock, maxPrincipals: 2 });
    meter.record('a', 2000, 100);
    meter.record('b', 2000, 100);
    meter.record('a', 1, 100);
    meter.record('c', 2000, 100);
    expect(meter.principalCount).toBe(2);
    expect(meter.rate('b')).toBe(0);
    expect(meter.rate('a')).toBeGreaterThan(0);
    // Nothing from a or c for the whole window: both go at the next record's sweep.
    clock.advance(11 * 1000 + 1);
    meter.record('d', 1, 100);
    expect(meter.principalCount).toBe(1);
  });
});

describe('RateQuotas', () => {
  it('meters each key against the principal\'s quota from the source, and tells the observer of throttles', () => {
    const clock = new ManualClock(0);
    const source = new StaticQuotaSource(new Map([['alice', { producer_byte_rate: 100, admin_request_rate: 1 }]]));
    const throttled: Array<[string, string, number]> = [];
    const quotas = new RateQuotas(source, { clock }, (principal, key, ms) => throttled.push([principal, key, ms]));
    expect(quotas.produced('alice', 2000)).toBe(10_000);
    expect(quotas.consumed('alice', 1e9)).toBe(0);
    expect(quotas.produced('bob', 1e9)).toBe(0);
    // 11 calls over the 10 s minimum window: 1.1/s against 1/s.
    for (let i = 0; i < 10; i++) expect(quotas.adminCall('alice')).toBe(0);
    expect(quotas.adminCall('alice')).toBe(1_000);
    expect(throttled).toEqual([
      ['alice', 'producer_byte_rate', 10_000],
      ['alice', 'admin_request_rate', 1_000],
    ]);
  });
});
