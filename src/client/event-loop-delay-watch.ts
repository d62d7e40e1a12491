import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

/**
 * Measures how long the event loop went without a turn (perf_hooks' event-loop delay histogram),
 * and reports the longest stall seen since the last check when it reaches a threshold. A group
 * member's heartbeats and signal handlers are timers and I/O callbacks: a handler that computes for
 * seconds without awaiting starves them, and the member is removed while it still works. The check
 * itself runs on a timer, so it reports a stall once the loop is back, with its length.
 */
export class EventLoopDelayWatch {
  private readonly histogram: IntervalHistogram = monitorEventLoopDelay({ resolution: 20 });
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly options: {
      checkEveryMs: number;
      /** Stalls this long or longer are reported. */
      thresholdMs: () => number;
      onStall: (maxDelayMs: number) => void;
    },
  ) {}

  start(): void {
    if (this.timer) return;
    this.histogram.enable();
    this.timer = setInterval(() => this.check(), this.options.checkEveryMs);
    this.timer.unref();
  }

  /** Reports the longest stall since the last check if it reached the threshold, and starts over. */
  check(): void {
    const maxDelayMs = this.histogram.max / 1e6;
    this.histogram.reset();
    if (maxDelayMs >= this.options.thresholdMs()) this.options.onStall(Math.round(maxDelayMs));
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.histogram.disable();
  }
}
