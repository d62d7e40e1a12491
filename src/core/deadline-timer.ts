import type { Clock, TimerHandle } from './clock.js';

/**
 * One timer on the injected clock for the earliest of many deadlines (a consumer group coordinator's
 * timeouts and recomputations; a queue group's locks, backoffs and dead-letter retries). It
 * remembers when it is due, so pushing a deadline later costs nothing; a timer that fires early
 * finds nothing due, and its owner re-arms it.
 */
export class DeadlineTimer {
  private timer: TimerHandle | undefined;
  private dueMs = Number.POSITIVE_INFINITY;

  constructor(
    private readonly clock: Clock,
    private readonly onDue: () => void,
  ) {}

  /** Makes sure the timer fires no later than `dueMs`. */
  fireBy(dueMs: number): void {
    if (dueMs >= this.dueMs && this.timer) return;
    this.arm(dueMs);
  }

  /** Makes the timer fire at `dueMs` (never, for +Infinity): the earliest deadline of all. */
  fireAt(dueMs: number): void {
    if (dueMs === this.dueMs && this.timer) return;
    this.arm(dueMs);
  }

  cancel(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  private arm(dueMs: number): void {
    this.timer?.cancel();
    this.timer = undefined;
    this.dueMs = dueMs;
    if (dueMs === Number.POSITIVE_INFINITY) return;
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      this.dueMs = Number.POSITIVE_INFINITY;
      this.onDue();
    }, Math.max(0, dueMs - this.clock.nowMs()));
  }
}
