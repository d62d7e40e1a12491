import { Counter, Histogram, type Registry } from 'prom-client';

/** The principal label of throttles past the principal cap: the rest, together. */
export const OTHER_PRINCIPAL_LABEL = 'other';
/** Principals the throttle metrics name one by one (a label each); the rest are `principal="other"`. */
export const MAX_THROTTLE_METRIC_PRINCIPALS = 100;

/** Throttle times reach MAX_THROTTLE_TIME_MS (30 s); most are well under a second. */
const THROTTLE_BUCKETS_SECONDS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * Rate-quota throttling (quotas/rate-quotas.ts), by principal and quota key: how long answers were
 * held back (histogram, seconds) and how many were (counter). Cardinality is bounded as the partition
 * series are: the first MAX_THROTTLE_METRIC_PRINCIPALS principals throttled since the start keep their
 * own label for the life of the server (so their series stay continuous), every later one is counted
 * under `principal="other"`; the quota label has three values. Only throttled answers are recorded,
 * so an unthrottled principal adds no series.
 */
export class ThrottleMetrics {
  private readonly throttleTime: Histogram;
  private readonly throttled: Counter;
  private readonly namedPrincipals = new Set<string>();

  constructor(registry: Registry, private readonly maxPrincipals = MAX_THROTTLE_METRIC_PRINCIPALS) {
    const registers = [registry];
    this.throttleTime = new Histogram({ name: 'strata_quota_throttle_time_seconds', help: 'How long answers were held back for a rate quota (producer_byte_rate, consumer_byte_rate, admin_request_rate), by principal ("other": past the principal cap) and quota.', labelNames: ['principal', 'quota'], buckets: THROTTLE_BUCKETS_SECONDS, registers });
    this.throttled = new Counter({ name: 'strata_quota_throttled_total', help: 'Answers held back for a rate quota, by principal ("other": past the principal cap) and quota.', labelNames: ['principal', 'quota'], registers });
  }

  /** One answer held back `throttleTimeMs` for `quota`. */
  record(principal: string, quota: string, throttleTimeMs: number): void {
    const labels = { principal: this.labelOf(principal), quota };
    this.throttleTime.observe(labels, throttleTimeMs / 1000);
    this.throttled.inc(labels);
  }

  private labelOf(principal: string): string {
    if (this.namedPrincipals.has(principal)) return principal;
    if (this.namedPrincipals.size >= this.maxPrincipals) return OTHER_PRINCIPAL_LABEL;
    this.namedPrincipals.add(principal);
    return principal;
  }
}
