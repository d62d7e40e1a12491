import { ManualClock, type Clock, type TimerHandle } from '../../src/core/clock.js';

/**
 * The ManualClock, with a hook before and after every timer callback. Everything that changes the
 * state of the world (member heartbeats, releases, scheduled actions, the coordinator's own timer) is
 * a timer callback, so ownership is constant between two callbacks and can be integrated exactly.
 */
export class SimClock implements Clock {
  private readonly manual: ManualClock;
  beforeEvent: () => void = () => undefined;
  afterEvent: () => void = () => undefined;

  constructor(startMs = 0) {
    this.manual = new ManualClock(startMs);
  }

  nowMs(): number {
    return this.manual.nowMs();
  }

  monotonicMs(): number {
    return this.manual.monotonicMs();
  }

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    return this.manual.setTimeout(() => {
      this.beforeEvent();
      callback();
      this.afterEvent();
    }, delayMs);
  }

  at(timeMs: number, callback: () => void): TimerHandle {
    return this.setTimeout(callback, timeMs - this.nowMs());
  }

  runUntil(timeMs: number): void {
    this.manual.advance(timeMs - this.nowMs());
    this.beforeEvent();
  }
}
