import { describe, expect, it } from 'vitest';
import { EventLoopDelayWatch } from '../../src/client/event-loop-delay-watch.js';
import { HeartbeatLiveness } from '../../src/client/heartbeat-liveness.js';

describe('HeartbeatLiveness', () => {
  it('counts the session from the sending of the last answered heartbeat, not from when the answer was read', () => {
    const liveness = new HeartbeatLiveness();
    expect(liveness.isExpired(1_000_000, 100)).toBe(false);
    liveness.sent(1_000);
    liveness.sent(1_050);
    // The first answer is read late (a blocked loop): it still vouches only for the heartbeat of 1000.
    liveness.answered();
    expect(liveness.isExpired(1_099, 100)).toBe(false);
    expect(liveness.isExpired(1_100, 100)).toBe(true);
    liveness.answered();
    expect(liveness.isExpired(1_149, 100)).toBe(false);
    // What a broken stream carried unanswered never counts.
    liveness.sent(1_120);
    liveness.streamLost();
    liveness.answered();
    expect(liveness.sinceAnsweredMs(1_200)).toBe(150);
    liveness.reset();
    expect(liveness.isExpired(1_000_000, 100)).toBe(false);
  });
});

describe('EventLoopDelayWatch', () => {
  it('reports a stall of the event loop at or past its threshold, with its length, and nothing shorter', async () => {
    const stalls: number[] = [];
    const watch = new EventLoopDelayWatch({ sampleEveryMs: 20, thresholdMs: () => 100, onStall: (ms) => void stalls.push(ms) });
    watch.start();
    try {
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(stalls).toEqual([]);
      const until = performance.now() + 250;
      while (performance.now() < until);
      await new Promise((resolve) => setTimeout(resolve, 60));
      expect(stalls).toHaveLength(1);
      expect(stalls[0]).toBeGreaterThanOrEqual(200);
    } finally {
      watch.stop();
    }
  });
});
