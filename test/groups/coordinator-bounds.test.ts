import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { MAX_GROUPS } from '../../src/core/limits.js';
import { silentLogger } from '../../src/core/logger.js';
import { StickyAssignor } from '../../src/groups/assignors/sticky-assignor.js';
import { resolveGroupConfig } from '../../src/groups/group-config.js';
import { GroupCoordinator, type HeartbeatRequest } from '../../src/groups/group-coordinator.js';

const CONFIG = resolveGroupConfig({ sessionTimeoutMs: 10_000, heartbeatIntervalMs: 1_000, processingTimeoutMs: 30_000, revocationTimeoutMs: 5_000, initialRebalanceDelayMs: 1_000, rebalanceDelayMs: 200 });

function setup() {
  const clock = new ManualClock(0);
  let next = 0;
  const coordinator = new GroupCoordinator({
    clock,
    assignor: new StickyAssignor(),
    topics: { partitionCount: (t) => (t === 't' ? 6 : undefined) },
    config: CONFIG,
    logger: silentLogger,
    newMemberId: () => `m${next++}`,
  });
  const join = (request: Partial<HeartbeatRequest> = {}) =>
    coordinator.heartbeat({ groupId: 'g', memberId: '', memberEpoch: 0, topics: ['t'], owned: [], idleMs: 0, ...request });
  return { clock, coordinator, join };
}

describe('GroupCoordinator bounds', () => {
  it('leaves no group behind for a refused join, so refused joins never use up MAX_GROUPS', () => {
    const { coordinator, join } = setup();
    for (let i = 0; i < MAX_GROUPS; i++) {
      expect(() => join({ groupId: `refused-${i}`, topics: [] })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    }
    expect(coordinator.listGroups()).toEqual([]);
    expect(coordinator.hasGroup('refused-0')).toBe(false);
    expect(coordinator.describeGroup('refused-0')).toBeUndefined();
    // A real group still gets in.
    const member = join({ groupId: 'real' });
    expect(coordinator.describeGroup('real')!.members.map((m) => m.memberId)).toEqual([member.memberId]);
    coordinator.close();
  });

  it('forgets a group when its last member leaves or times out: it stops counting against MAX_GROUPS', () => {
    const { clock, coordinator, join } = setup();
    const left = join({ groupId: 'left' });
    join({ groupId: 'timed-out' });
    coordinator.heartbeat({ groupId: 'left', memberId: left.memberId, memberEpoch: -1, topics: ['t'], owned: [], idleMs: 0 });
    expect(coordinator.listGroups().map((g) => g.groupId)).toEqual(['timed-out']);
    clock.advance(CONFIG.sessionTimeoutMs);
    expect(coordinator.listGroups()).toEqual([]);
    coordinator.close();
  });
});
