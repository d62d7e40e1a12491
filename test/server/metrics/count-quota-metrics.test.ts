import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { CountQuotas } from '../../../src/quotas/count-quotas.js';
import { StaticQuotaSource } from '../../../src/quotas/principal-quotas.js';
import { MAX_QUOTA_PRINCIPAL_SERIES, OTHER_PRINCIPALS_LABEL, registerCountQuotaMetrics } from '../../../src/server/metrics/count-quota-metrics.js';
import { parseExposition, valueOf } from '../../helpers/prometheus-text.js';

describe('count quota metrics', () => {
  it('shows the principals holding the most by name in strata_quota_held, the rest folded into "(other)", and refusals per quota', async () => {
    const quotas = new CountQuotas(new StaticQuotaSource(new Map([['p-0', { max_connections: 1 }]])));
    const principals = MAX_QUOTA_PRINCIPAL_SERIES + 5;
    for (let i = 0; i < principals; i++) for (let n = 0; n <= i; n++) quotas.acquire('max_streams', `p-${i}`);
    quotas.acquire('max_connections', 'p-0');
    expect(() => quotas.acquire('max_connections', 'p-0')).toThrow();
    const registry = new Registry();
    registerCountQuotaMetrics(registry, quotas);
    const samples = parseExposition(await registry.metrics());
    const held = samples.filter((s) => s.name === 'strata_quota_held' && s.labels['quota'] === 'max_streams');
    expect(held).toHaveLength(MAX_QUOTA_PRINCIPAL_SERIES + 1);
    // p-14 holds 15, ... p-5 holds 6: named; p-0..p-4 hold 1+2+3+4+5.
    expect(valueOf(samples, 'strata_quota_held', { quota: 'max_streams', principal: `p-${principals - 1}` })).toBe(principals);
    expect(valueOf(samples, 'strata_quota_held', { quota: 'max_streams', principal: 'p-4' })).toBeUndefined();
    expect(valueOf(samples, 'strata_quota_held', { quota: 'max_streams', principal: OTHER_PRINCIPALS_LABEL })).toBe(15);
    expect(valueOf(samples, 'strata_quota_refusals_total', { quota: 'max_connections' })).toBe(1);
    expect(valueOf(samples, 'strata_quota_refusals_total', { quota: 'max_streams' })).toBe(0);
  });
});
