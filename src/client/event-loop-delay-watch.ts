import { setRepeating, type Clock, type TimerHandle } from '../core/clock.js';

/**
 * Measures how long the event loop went without a turn, and reports a stall that reached a
 * threshold, with its length. A group member's heartbeats and signal handlers are timers and I/O
 * callbacks: a handler that computes for seconds without awaiting starves them, and the member is
 * removed while it still works. A timer samples the loop every `sampleEveryMs`: how much later than
 * due it fires is how long the loop was held, reported once the loop is back.
 *
 * Not perf_hooks' monitorEventLoopDelay: its histogram is read and reset by a check, and a reset
 * forgets the stall under way (measured: a 250 ms stall begun right after a reset was recorded as 20).
 * Read on the clock's monotonic time: a step of the wall clock (NTP) between two samples is no stall,
 * and one backwards does not hide a real one.
 */
export class EventLoopDelayWatch {
  private timer: TimerHandle | undefined;
  private lastTickMs = 0;

  constructor(
    private readonly options: {
      /** Its samples' timer and readings (a manual clock never stalls: it fires each sample on time). */
      clock: Clock;
      sampleEveryMs: number;
      /** Stalls this long or longer are reported. */
      thresholdMs: () => number;
      onStall: (delayMs: number) => void;
    },
  ) {}

  start(): void {
    if (this.timer) return;
    this.lastTickMs = this.options.clock.monotonicMs();
    this.timer = setRepeating(this.options.clock, () => this.tick(), this.options.sampleEveryMs);
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  private tick(): void {
    const tickMs = this.options.clock.monotonicMs();
    const delayMs = tickMs - this.lastTickMs - this.options.sampleEveryMs;
    this.lastTickMs = tickMs;
    if (delayMs >= this.options.thresholdMs()) this.options.onStall(Math.round(delayMs));
  }
}
