import { describe, expect, it } from 'vitest';
import { CountQuotas } from '../../src/quotas/count-quotas.js';
import { StaticQuotaSource } from '../../src/quotas/principal-quotas.js';

describe('CountQuotas', () => {
  it('counts per principal and key against the resolved quota (own entry, then *, then defaults), refusing one more and counting nothing', () => {
    const source = new StaticQuotaSource(new Map([['alice', { max_streams: 1 }], ['*', { max_streams: 2, max_connections: 1 }]]), { max_groups: 3 });
    const refusals: string[] = [];
    const quotas = new CountQuotas(source, (key, principal) => refusals.push(`${key}:${principal}`));
    quotas.acquire('max_streams', 'alice');
    expect(() => quotas.acquire('max_streams', 'alice')).toThrow(expect.objectContaining({ code: 'QUOTA_EXCEEDED', retriable: false }));
    quotas.acquire('max_streams', 'bob');
    quotas.acquire('max_streams', 'bob');
    expect(() => quotas.acquire('max_streams', 'bob')).toThrow(/bob holds 2 streaming calls, as many as its max_streams quota \(2\) allows/);
    quotas.acquire('max_connections', 'alice');
    expect(() => quotas.acquire('max_connections', 'alice')).toThrow(/max_connections/);
    for (let i = 0; i < 3; i++) quotas.acquireGroup('carol');
    expect(() => quotas.acquireGroup('carol')).toThrow(/max_groups quota \(3\)/);
    expect(quotas.heldBy('max_streams', 'alice')).toBe(1);
    expect(quotas.heldBy('max_groups', 'carol')).toBe(3);
    expect(refusals).toEqual(['max_streams:alice', 'max_streams:bob', 'max_connections:alice', 'max_groups:carol']);
    expect(quotas.refusalCount('max_streams')).toBe(2);
    quotas.release('max_streams', 'alice');
    quotas.acquire('max_streams', 'alice');
    quotas.releaseGroup('carol');
    quotas.acquireGroup('carol');
  });

  it('leaves principals without a quota unlimited, and forgets a principal once it holds nothing', () => {
    const quotas = new CountQuotas(new StaticQuotaSource());
    for (let i = 0; i < 1_000; i++) quotas.acquire('max_streams', 'anyone');
    expect(quotas.heldBy('max_streams', 'anyone')).toBe(1_000);
    for (let i = 0; i < 1_000; i++) quotas.release('max_streams', 'anyone');
    expect(quotas.topHolders('max_streams', 10)).toEqual({ top: [], otherCount: 0 });
  });
});
