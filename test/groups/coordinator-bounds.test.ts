import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { MAX_GROUPS, MAX_INSTANCE_ID_LENGTH, MAX_MEMBER_ID_LENGTH, MAX_PARTITIONS, MAX_SUBSCRIBED_TOPICS_PER_MEMBER, MAX_TOPIC_NAME_LENGTH } from '../../src/core/limits.js';
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

  const tooMany = Array.from({ length: MAX_SUBSCRIBED_TOPICS_PER_MEMBER + 1 }, (_, i) => `topic-${i}`);
  const refusals: Array<[string, Partial<HeartbeatRequest>, string]> = [
    ['more topics than a member may subscribe to', { topics: tooMany }, 'INVALID_ARGUMENT'],
    ['a topic name over the length limit', { topics: ['t', 'x'.repeat(MAX_TOPIC_NAME_LENGTH + 1)] }, 'INVALID_TOPIC_NAME'],
    ['a name no topic can have', { topics: ['t', 'no/such topic'] }, 'INVALID_TOPIC_NAME'],
    ['an instance id over the length limit', { instanceId: 'i'.repeat(500_000) }, 'INVALID_ARGUMENT'],
    ['an instance id outside [a-zA-Z0-9._-]', { instanceId: 'host:1\n' }, 'INVALID_ARGUMENT'],
    ['a member id over the length limit', { memberId: 'm'.repeat(MAX_MEMBER_ID_LENGTH + 1) }, 'INVALID_ARGUMENT'],
    ['more owned topics than a member may subscribe to', { owned: tooMany.map((topic) => ({ topic, partitions: [0] })) }, 'INVALID_ARGUMENT'],
    ['an owned topic no topic can have', { owned: [{ topic: '', partitions: [0] }] }, 'INVALID_TOPIC_NAME'],
    ['more owned partitions than a topic has', { owned: [{ topic: 't', partitions: Array.from({ length: MAX_PARTITIONS + 1 }, (_, p) => p) }] }, 'INVALID_ARGUMENT'],
  ];
  for (const [what, fields, code] of refusals) {
    it(`refuses a join with ${what}, with a short message, and keeps nothing`, () => {
      const { coordinator, join } = setup();
      let error: { code?: string; message?: string } | undefined;
      try {
        join(fields);
      } catch (e) {
        error = e as { code?: string; message?: string };
      }
      expect(error?.code).toBe(code);
      expect(error!.message!.length).toBeLessThan(500);
      expect(coordinator.listGroups()).toEqual([]);
      coordinator.close();
    });
  }

  it('refuses a heartbeat of a member that changes to a subscription past the bounds, and leaves the member as it was', () => {
    const { coordinator, join } = setup();
    const member = join({ instanceId: 'i'.repeat(MAX_INSTANCE_ID_LENGTH) });
    const before = coordinator.describeGroup('g');
    expect(() => coordinator.heartbeat({ groupId: 'g', memberId: member.memberId, memberEpoch: member.memberEpoch, topics: tooMany, owned: [], idleMs: 0 })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
    expect(coordinator.describeGroup('g')).toEqual(before);
    coordinator.close();
  });

  it('takes a subscription of exactly the bound, and an instance id of the longest length', () => {
    const { coordinator, join } = setup();
    join({ topics: tooMany.slice(1), instanceId: 'i'.repeat(MAX_INSTANCE_ID_LENGTH) });
    expect(coordinator.describeGroup('g')!.members[0]!.topics).toHaveLength(MAX_SUBSCRIBED_TOPICS_PER_MEMBER);
    coordinator.close();
  });
});
