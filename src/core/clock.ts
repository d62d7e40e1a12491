/**
 * Time is injected so that timeouts, rolls and retention can be tested deterministically. Production
 * code uses systemClock; tests use ManualClock and advance it by hand.
 */
export interface TimerHandle {
  cancel(): void;
}

export interface TimerOptions {
  /**
   * Whether the pending timer keeps a Node process alive, as a plain setTimeout does: for work that
   * is still owed to someone (a batch to send after its linger, a retry after its backoff). Default
   * false: watchdogs and deadlines never hold a process that has nothing else to do.
   */
  keepsProcessAlive?: boolean;
}

export interface Clock {
  /** Wall time (ms since the epoch): for timestamps and deadlines others read. It can jump (NTP, an operator). */
  nowMs(): number;
  /**
   * A monotonic reading in ms from an arbitrary origin, for durations (elapsed time, stalls, rate
   * windows): it never goes back and does not follow steps of the wall clock. Only differences of two
   * readings of one clock mean anything; never compare it with nowMs().
   */
  monotonicMs(): number;
  /** Runs `callback` once after `delayMs`; the returned handle cancels it. */
  setTimeout(callback: () => void, delayMs: number, options?: TimerOptions): TimerHandle;
}

export const systemClock: Clock = {
  nowMs: () => Date.now(),
  monotonicMs: () => performance.now(),
  setTimeout(callback, delayMs, options) {
    const timer = setTimeout(callback, delayMs);
    if (options?.keepsProcessAlive !== true) timer.unref();
    return { cancel: () => clearTimeout(timer) };
  },
};

/**
 * Runs `callback` every `everyMs` on `clock` until the handle is cancelled (a setInterval for any
 * Clock: each run schedules the next, so a ManualClock fires it once per period it is advanced over).
 */
export function setRepeating(clock: Clock, callback: () => void, everyMs: number, options?: TimerOptions): TimerHandle {
  let isCancelled = false;
  let timer: TimerHandle;
  const run = () => {
    if (isCancelled) return;
    timer = clock.setTimeout(run, everyMs, options);
    callback();
  };
  timer = clock.setTimeout(run, everyMs, options);
  return {
    cancel: () => {
      isCancelled = true;
      timer.cancel();
    },
  };
}

interface ManualTimer {
  dueMs: number;
  sequence: number;
  callback: () => void;
  isCancelled: boolean;
}

/**
 * A virtual clock: time moves only through advance(); due timers fire in (due time, creation) order.
 * Its monotonic reading is the same virtual time; stepWallClock() moves the wall reading alone, as
 * NTP or an operator moves a real one.
 */
export class ManualClock implements Clock {
  private currentMs: number;
  private wallOffsetMs = 0;
  private sequence = 0;
  private timers: ManualTimer[] = [];

  constructor(startMs = 0) {
    this.currentMs = startMs;
  }

  nowMs(): number {
    return this.currentMs + this.wallOffsetMs;
  }

  monotonicMs(): number {
    return this.currentMs;
  }

  /** Steps the wall clock by `deltaMs` (either way): no timer fires, monotonicMs() does not move. */
  stepWallClock(deltaMs: number): void {
    this.wallOffsetMs += deltaMs;
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

/**
 * Resolves after `delayMs` on `clock`, or at once when `signal` aborts (it never rejects: the caller
 * looks at the signal to tell the two apart).
 */
export function delay(clock: Clock, delayMs: number, options: TimerOptions & { signal?: AbortSignal } = {}): Promise<void> {
  const { signal } = options;
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      timer.cancel();
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = clock.setTimeout(done, delayMs, options);
    signal?.addEventListener('abort', done, { once: true });
  });
}
