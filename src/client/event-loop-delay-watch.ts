/**
 * Measures how long the event loop went without a turn, and reports a stall that reached a
 * threshold, with its length. A group member's heartbeats and signal handlers are timers and I/O
 * callbacks: a handler that computes for seconds without awaiting starves them, and the member is
 * removed while it still works. A timer samples the loop every `sampleEveryMs`: how much later than
 * due it fires is how long the loop was held, reported once the loop is back.
 *
 * Not perf_hooks' monitorEventLoopDelay: its histogram is read and reset by a check, and a reset
 * forgets the stall under way (measured: a 250 ms stall begun right after a reset was recorded as 20).
 */
export class EventLoopDelayWatch {
  private timer: NodeJS.Timeout | undefined;
  private lastTickMs = 0;

  constructor(
    private readonly options: {
      sampleEveryMs: number;
      /** Stalls this long or longer are reported. */
      thresholdMs: () => number;
      onStall: (delayMs: number) => void;
    },
  ) {}

  start(): void {
    if (this.timer) return;
    this.lastTickMs = performance.now();
    this.timer = setInterval(() => this.tick(), this.options.sampleEveryMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    const nowMs = performance.now();
    const delayMs = nowMs - this.lastTickMs - this.options.sampleEveryMs;
    this.lastTickMs = nowMs;
    if (delayMs >= this.options.thresholdMs()) this.options.onStall(Math.round(delayMs));
  }
}
