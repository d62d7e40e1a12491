/**
 * Time is injected so that timeouts, rolls and retention can be tested deterministically. Production
 * code uses systemClock; tests use ManualClock and advance it by hand.
 */
export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  nowMs(): number;
  /** Runs `callback` once after `delayMs`; the returned handle cancels it. Never keeps the process alive. */
  setTimeout(callback: () => void, delayMs: number): TimerHandle;
}

export const systemClock: Clock = {
  nowMs: () => Date.now(),
  setTimeout(callback, delayMs) {
    const timer = setTimeout(callback, delayMs);
    timer.unref();
    return { cancel: () => clearTimeout(timer) };
  },
};

interface ManualTimer {
  dueMs: number;
  sequence: number;
  callback: () => void;
  isCancelled: boolean;
}

/** A virtual clock: time moves only through advance(); due timers fire in (due time, creation) order. */
export class ManualClock implements Clock {
  private currentMs: number;
  private sequence = 0;
  private timers: ManualTimer[] = [];

  constructor(startMs = 0) {
    this.currentMs = startMs;
  }

  nowMs(): number {
    return this.currentMs;
  }

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    const timer: ManualTimer = {
      dueMs: this.currentMs + Math.max(0, delayMs),
      sequence: this.sequence++,
      callback,
      isCancelled: false,
    };
    this.timers.push(timer);
    return { cancel: () => void (timer.isCancelled = true) };
  }

  advance(deltaMs: number): void {
    const targetMs = this.currentMs + deltaMs;
    for (;;) {
      this.timers = this.timers.filter((t) => !t.isCancelled);
      const due = this.timers
        .filter((t) => t.dueMs <= targetMs)
        .sort((a, b) => a.dueMs - b.dueMs || a.sequence - b.sequence)[0];
      if (!due) break;
      this.currentMs = Math.max(this.currentMs, due.dueMs);
      due.isCancelled = true;
      due.callback();
    }
    this.currentMs = targetMs;
  }
}
