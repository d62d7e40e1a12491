import { assert } from '../core/assert.js';
import type { Clock } from '../core/clock.js';
import { MAX_THROTTLE_TIME_MS } from './principal-quotas.js';

/** Kafka's quota.window.size.seconds: one sample covers this long. */
export const DEFAULT_SAMPLE_WINDOW_MS = 1_000;
/** Kafka's quota.window.num: the rate is measured over this many samples (the current one included). */
export const DEFAULT_SAMPLE_COUNT = 11;
/** Principals one meter follows at once; past it the least recently seen is forgotten. */
export const MAX_METERED_PRINCIPALS = 10_000;

export interface RateMeterOptions {
  clock: Clock;
  sampleWindowMs?: number;
  sampleCount?: number;
  maxPrincipals?: number;
}

/** One sample: what was recorded from `startMs` (the first record in it) for one sample window. */
interface Sample {
  startMs: number;
  value: number;
}

/** A principal's samples: a ring, `current` the one being filled. */
interface PrincipalSamples {
  samples: Sample[];
  current: number;
  lastRecordMs: number;
}

/**
 * A windowed rate per principal, as Kafka's quota sensors measure it (SampledStat + Rate, KIP-13):
 *
 * - A sample starts at the first record after the previous one completed and is complete
 *   `sampleWindowMs` later; `sampleCount` samples are kept in a ring. A sample that started more than
 *   `sampleCount * sampleWindowMs` ago is obsolete and counts nothing.
 * - rate = sum of the samples / window, in units per second, where the window is the time since the
 *   oldest sample started, but at least `sampleCount - 1` whole sample windows: a principal's first
 *   burst is spread over (by default) ten seconds, so a single request is never throttled for being
 *   the only one measured.
 * - Past the quota Q (units per second), the throttle time that brings the rate back to Q over the
 *   same window: (rate - Q) / Q * window, rounded, at most MAX_THROTTLE_TIME_MS. Holding the answer
 *   that long is what makes a principal that keeps sending converge on Q.
 *
 * The value is recorded whether or not it is over the quota (nothing is refused: the caller delays).
 * Bounded: at most `maxPrincipals` principals (least recently seen forgotten first: a principal
 * forgotten starts over with an empty window); a principal idle for the whole window is dropped at the
 * next sweep (at most one per sample window). Time is the clock's monotonic reading. Not thread-safe
 * and need not be: Node runs it on one thread, and nothing in it awaits.
 */
export class RateMeter {
  readonly sampleWindowMs: number;
  readonly sampleCount: number;
  private readonly maxPrincipals: number;
  private readonly clock: Clock;
  /** Map order is the order of last use: a record moves its principal to the end. */
  private readonly principals = new Map<string, PrincipalSamples>();
  private lastSweepMs = -Infinity;

  constructor(options: RateMeterOptions) {
    this.clock = options.clock;
    this.sampleWindowMs = options.sampleWindowMs ?? DEFAULT_SAMPLE_WINDOW_MS;
    this.sampleCount = options.sampleCount ?? DEFAULT_SAMPLE_COUNT;
    this.maxPrincipals = options.maxPrincipals ?? MAX_METERED_PRINCIPALS;
    assert(Number.isFinite(this.sampleWindowMs) && this.sampleWindowMs > 0, 'sampleWindowMs must be positive');
    assert(Number.isInteger(this.sampleCount) && this.sampleCount >= 2, 'sampleCount must be at least 2');
    assert(Number.isInteger(this.maxPrincipals) && this.maxPrincipals >= 1, 'maxPrincipals must be at least 1');
  }

  /** How many principals are followed now. */
  get principalCount(): number {
    return this.principals.size;
  }

  /**
   * Records `amount` for the principal now and returns the throttle time in ms its answer should be
   * held back by under `quotaPerSecond` (0 when within it; a null quota records nothing and is 0).
   */
  record(principal: string, amount: number, quotaPerSecond: number | null): number {
    if (quotaPerSecond === null) return 0;
    assert(quotaPerSecond > 0, 'a quota is positive');
    const nowMs = this.clock.monotonicMs();
    this.sweep(nowMs);
    const state = this.stateOf(principal, nowMs);
    let sample = state.samples[state.current]!;
    if (nowMs >= sample.startMs + this.sampleWindowMs) {
      state.current = (state.current + 1) % this.sampleCount;
      sample = state.samples[state.current]!;
      sample.startMs = nowMs;
      sample.value = 0;
    }
    sample.value += amount;
    state.lastRecordMs = nowMs;
    return this.throttleTimeMs(state, nowMs, quotaPerSecond);
  }

  /** The principal's measured rate now (units per second; 0 for a principal not followed). */
  rate(principal: string): number {
    const state = this.principals.get(principal);
    if (state === undefined) return 0;
    const nowMs = this.clock.monotonicMs();
    return this.measure(state, nowMs).rate;
  }

  private throttleTimeMs(state: PrincipalSamples, nowMs: number, quotaPerSecond: number): number {
    const { rate, windowMs } = this.measure(state, nowMs);
    if (rate <= quotaPerSecond) return 0;
    return Math.min(MAX_THROTTLE_TIME_MS, Math.round(((rate - quotaPerSecond) / quotaPerSecond) * windowMs));
  }

  private measure(state: PrincipalSamples, nowMs: number): { rate: number; windowMs: number } {
    const obsoleteBeforeMs = nowMs - this.sampleCount * this.sampleWindowMs;
    let total = 0;
    let oldestStartMs = nowMs;
    for (const sample of state.samples) {
      if (sample.startMs === -Infinity || sample.startMs < obsoleteBeforeMs) continue;
      total += sample.value;
      oldestStartMs = Math.min(oldestStartMs, sample.startMs);
    }
    // Kafka's Rate.windowSize: the elapsed time, topped up to sampleCount - 1 whole windows.
    let windowMs = nowMs - oldestStartMs;
    const fullWindowCount = Math.floor(windowMs / this.sampleWindowMs);
    if (fullWindowCount < this.sampleCount - 1) windowMs += (this.sampleCount - 1 - fullWindowCount) * this.sampleWindowMs;
    return { rate: (total * 1000) / windowMs, windowMs };
  }

  private stateOf(principal: string, nowMs: number): PrincipalSamples {
    let state = this.principals.get(principal);
    if (state !== undefined) {
      this.principals.delete(principal);
      this.principals.set(principal, state);
      return state;
    }
    if (this.principals.size >= this.maxPrincipals) this.principals.delete(this.principals.keys().next().value!);
    const samples = Array.from({ length: this.sampleCount }, () => ({ startMs: -Infinity, value: 0 }));
    samples[0]!.startMs = nowMs;
    state = { samples, current: 0, lastRecordMs: nowMs };
    this.principals.set(principal, state);
    return state;
  }

  /** Drops principals with nothing in the window (least recently seen first, so it stops at the first live one). */
  private sweep(nowMs: number): void {
    if (nowMs - this.lastSweepMs < this.sampleWindowMs) return;
    this.lastSweepMs = nowMs;
    const idleBeforeMs = nowMs - this.sampleCount * this.sampleWindowMs;
    for (const [principal, state] of this.principals) {
      if (state.lastRecordMs >= idleBeforeMs) break;
      this.principals.delete(principal);
    }
  }
}
