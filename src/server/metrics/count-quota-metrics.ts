import { Counter, Gauge, type Registry } from 'prom-client';
import { COUNT_QUOTA_KEYS, type CountQuotas } from '../../quotas/count-quotas.js';

/** Principals shown by name per quota in `strata_quota_held`; the rest are summed under OTHER_PRINCIPALS_LABEL. */
export const MAX_QUOTA_PRINCIPAL_SERIES = 10;
export const OTHER_PRINCIPALS_LABEL = '(other)';

/**
 * The count quotas' metrics, read at scrape time from CountQuotas (nothing on the hot path):
 * - `strata_quota_refusals_total{quota}`: calls and joins refused by max_groups, max_connections,
 *   max_streams since the server started (one series per key, always present);
 * - `strata_quota_held{quota,principal}`: what the MAX_QUOTA_PRINCIPAL_SERIES principals holding the
 *   most hold now, the others summed as principal "(other)": bounded however many principals connect.
 */
export function registerCountQuotaMetrics(registry: Registry, quotas: CountQuotas): void {
  const registers = [registry];
  new Counter({
    name: 'strata_quota_refusals_total',
    help: 'Joins, connections and streaming calls refused with QUOTA_EXCEEDED, by the count quota that refused them (max_groups, max_connections, max_streams).',
    labelNames: ['quota'],
    registers,
    collect() {
      this.reset();
      for (const quota of COUNT_QUOTA_KEYS) this.inc({ quota }, quotas.refusalCount(quota));
    },
  });
  new Gauge({
    name: 'strata_quota_held',
    help: `Groups (held through live members), open connections and open streaming calls of the ${MAX_QUOTA_PRINCIPAL_SERIES} principals holding the most of each, by quota; the others summed as principal "${OTHER_PRINCIPALS_LABEL}".`,
    labelNames: ['quota', 'principal'],
    registers,
    collect() {
      this.reset();
      for (const quota of COUNT_QUOTA_KEYS) {
        const { top, otherCount } = quotas.topHolders(quota, MAX_QUOTA_PRINCIPAL_SERIES);
        for (const { principal, count } of top) this.set({ quota, principal }, count);
        if (otherCount > 0) this.set({ quota, principal: OTHER_PRINCIPALS_LABEL }, otherCount);
      }
    },
  });
}
