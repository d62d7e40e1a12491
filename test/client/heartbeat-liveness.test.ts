import { describe, expect, it } from 'vitest';
import { EventLoopDelayWatch } from '../../src/client/event-loop-delay-watch.js';
import { HeartbeatLiveness } from '../../src/client/heartbeat-liveness.js';
import { eventually } from '../helpers/eventually.js';
import { ManualClock, systemClock } from '../../src/core/clock.js';

describe('HeartbeatLiveness', () => {
  it('counts the session from the sending of the last answered heartbeat, not from when the answer was read', () => {
    const liveness = new HeartbeatLiveness();
    expect(liveness.isExpired(1_000_000, 100)).toBe(false);
    liveness.sent(1_000);
    liveness.sent(1_050);
    liveness.sent(1_060);
    // The first answer is read late (a blocked loop): it still vouches only for the heartbeat of 1000.
    liveness.vouch(liveness.answered()!);
    expect(liveness.isExpired(1_099, 100)).toBe(false);
    expect(liveness.isExpired(1_100, 100)).toBe(true);
    // A failure answers the heartbeat of 1050 without vouching; the next answer is 1060's.
    expect(liveness.answered()).toBe(1_050);
    liveness.vouch(liveness.answered()!);
    expect(liveness.isExpired(1_159, 100)).toBe(false);
    // What a broken stream carried unanswered never counts.
    liveness.sent(1_120);
    liveness.streamLost(1_130);
    expect(liveness.answered()).toBeUndefined();
    expect(liveness.sinceAnsweredMs(1_200)).toBe(140);
    liveness.reset();
    expect(liveness.isExpired(1_000_000, 100)).toBe(false);
  });
});

describe('HeartbeatLiveness of a broken stream', () => {
  it('expires once the stream has been broken for the limit given, until a heartbeat sent after the break is answered', () => {
    const liveness = new HeartbeatLiveness();
    liveness.sent(1_000);
    liveness.vouch(liveness.answered()!);
    liveness.streamLost(1_100);
    // Another failed reconnect does not move the break later.
    liveness.streamLost(1_600);
    expect(liveness.isExpired(2_099, 60_000, 1_000)).toBe(false);
    expect(liveness.isExpired(2_100, 60_000, 1_000)).toBe(true);
    // Without a limit (a static member) only the session counts.
    expect(liveness.isExpired(2_100, 60_000)).toBe(false);
    expect(liveness.isStreamBroken).toBe(true);
    // A heartbeat answered on the new stream ends the break.
    liveness.sent(1_700);
    liveness.vouch(liveness.answered()!);
    expect(liveness.isStreamBroken).toBe(false);
    expect(liveness.isExpired(5_000, 60_000, 1_000)).toBe(false);
  });
});

describe('HeartbeatLiveness across a server shutdown', () => {
  it('does not run the grace clock from a break at the server\'s shutdown nor from the failed reconnects after it', () => {
    const liveness = new HeartbeatLiveness();
    liveness.sent(1_000);
    liveness.vouch(liveness.answered()!);
    liveness.streamLost(1_100, true);
    liveness.streamLost(1_700);
    expect(liveness.isExpired(5_000, 60_000, 1_000)).toBe(false);
    expect(liveness.isStreamBroken).toBe(true);
    // A new server answers: later breaks count again.
    liveness.sent(5_100);
    liveness.vouch(liveness.answered()!);
    expect(liveness.isStreamBroken).toBe(false);
    liveness.streamLost(6_000);
    expect(liveness.isExpired(7_000, 60_000, 1_000)).toBe(true);
  });
});

describe('EventLoopDelayWatch', () => {
  it('reports a stall of the event loop past its threshold, with its length', async () => {
    const stalls: number[] = [];
    // A real stall needs the real clock: a manual one fires every sample on time.
    const watch = new EventLoopDelayWatch({ clock: systemClock, sampleEveryMs: 20, thresholdMs: () => 100, onStall: (ms) => void stalls.push(ms) });
    watch.start();
    try {
      // Not a race guard: the watch samples a while first, so the stall begins between two samples as
      // in use (the test holds either way).
      await new Promise((resolve) => setTimeout(resolve, 50));
      const until = performance.now() + 300;
      while (performance.now() < until);
      await eventually(() => stalls.some((ms) => ms >= 250), { what: 'the 300 ms stall reported', timeoutMs: 2_000 });
      // Only stalls at or past the threshold are reported (a loaded machine may add some of its own).
      expect(stalls.every((ms) => ms >= 100)).toBe(true);
    } finally {
      watch.stop();
    }
  });

  it('reports no stall when the wall clock steps (NTP) between two samples: it reads the monotonic clock', () => {
    const stalls: number[] = [];
    const clock = new ManualClock(1_700_000_000_000);
    const watch = new EventLoopDelayWatch({ clock, sampleEveryMs: 20, thresholdMs: () => 100, onStall: (ms) => void stalls.push(ms) });
    watch.start();
    try {
      clock.advance(40);
      // Forward a minute, then back an hour: on the wall clock, a 60-second stall and a hidden one.
      clock.stepWallClock(60_000);
      clock.advance(20);
      clock.stepWallClock(-3_600_000);
      clock.advance(20);
      expect(stalls).toEqual([]);
    } finally {
      watch.stop();
    }
  });
});
