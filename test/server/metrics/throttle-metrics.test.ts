import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { OTHER_PRINCIPAL_LABEL, ThrottleMetrics } from '../../../src/server/metrics/throttle-metrics.js';
import { parseExposition, valueOf } from '../../helpers/prometheus-text.js';

describe('ThrottleMetrics', () => {
  it('names the first principals throttled, folds later ones into principal="other", and keeps the quota label', async () => {
    const registry = new Registry();
    const metrics = new ThrottleMetrics(registry, 2);
    metrics.record('a', 'producer_byte_rate', 500);
    metrics.record('b', 'consumer_byte_rate', 250);
    metrics.record('c', 'producer_byte_rate', 1_000);
    metrics.record('d', 'producer_byte_rate', 2_000);
    metrics.record('a', 'admin_request_rate', 100);
    const samples = parseExposition(await registry.metrics());
    expect(valueOf(samples, 'strata_quota_throttled_total', { principal: 'a', quota: 'producer_byte_rate' })).toBe(1);
    expect(valueOf(samples, 'strata_quota_throttled_total', { principal: 'a', quota: 'admin_request_rate' })).toBe(1);
    expect(valueOf(samples, 'strata_quota_throttled_total', { principal: OTHER_PRINCIPAL_LABEL, quota: 'producer_byte_rate' })).toBe(2);
    expect(valueOf(samples, 'strata_quota_throttle_time_seconds_sum', { principal: OTHER_PRINCIPAL_LABEL, quota: 'producer_byte_rate' })).toBe(3);
    expect(valueOf(samples, 'strata_quota_throttle_time_seconds_count', { principal: 'b', quota: 'consumer_byte_rate' })).toBe(1);
    expect(new Set(samples.filter((s) => s.name === 'strata_quota_throttled_total').map((s) => s.labels.principal))).toEqual(new Set(['a', 'b', OTHER_PRINCIPAL_LABEL]));
  });
});
