import type { Clock } from '../core/clock.js';
import type { QuotaSource } from './principal-quotas.js';
import { RateMeter, type RateMeterOptions } from './rate-meter.js';

/** The rate quotas, by their key in the contract (principal-quotas.ts). */
export type RateQuotaKey = 'producer_byte_rate' | 'consumer_byte_rate' | 'admin_request_rate';

/** Told of every throttled answer (the server's metrics). */
export type ThrottleObserver = (principal: string, key: RateQuotaKey, throttleTimeMs: number) => void;

/**
 * The three rate quotas of every principal: one RateMeter per key, fed by the services that see the
 * bytes and calls, and the quota in force read from the QuotaSource on each record (a cached map
 * lookup). A principal whose quota for a key is unlimited is not metered for it at all: with no
 * quotas configured the hot paths pay one lookup per request. So a quota set later starts from an
 * empty window, as a new principal does.
 */
export class RateQuotas {
  private readonly meters: Record<RateQuotaKey, RateMeter>;

  constructor(
    private readonly source: QuotaSource,
    options: { clock: Clock } & Omit<RateMeterOptions, 'clock'>,
    private readonly observer?: ThrottleObserver,
  ) {
    this.meters = {
      producer_byte_rate: new RateMeter(options),
      consumer_byte_rate: new RateMeter(options),
      admin_request_rate: new RateMeter(options),
    };
  }

  /** Bytes of record batches a principal produced (appended): the throttle time for its answer, in ms. */
  produced(principal: string, bytes: number): number {
    return this.record(principal, 'producer_byte_rate', bytes);
  }

  /** Bytes of record batches sent to a principal (fetch, subscribe, queue delivery): the throttle time. */
  consumed(principal: string, bytes: number): number {
    return this.record(principal, 'consumer_byte_rate', bytes);
  }

  /** One admin call of a principal: the throttle time for its answer. */
  adminCall(principal: string): number {
    return this.record(principal, 'admin_request_rate', 1);
  }

  /** The principal's measured rate for a key now (per second): for tests and benchmarks. */
  rate(principal: string, key: RateQuotaKey): number {
    return this.meters[key].rate(principal);
  }

  private record(principal: string, key: RateQuotaKey, amount: number): number {
    const throttleTimeMs = this.meters[key].record(principal, amount, this.source.quotasFor(principal)[key]);
    if (throttleTimeMs > 0) this.observer?.(principal, key, throttleTimeMs);
    return throttleTimeMs;
  }
}
