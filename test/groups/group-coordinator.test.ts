import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import { StickyAssignor } from '../../src/groups/assignors/sticky-assignor.js';
import { resolveGroupConfig } from '../../src/groups/group-config.js';
import { GroupCoordinator, type HeartbeatRequest, type RemovalReason } from '../../src/groups/group-coordinator.js';

const CONFIG = resolveGroupConfig({ sessionTimeoutMs: 10_000, heartbeatIntervalMs: 1_000, processingTimeoutMs: 30_000, revocationTimeoutMs: 5_000, initialRebalanceDelayMs: 1_000, rebalanceDelayMs: 200 });

function setup() {
  const clock = new ManualClock(0);
  const removed: Array<{ memberId: string; reason: RemovalReason }> = [];
  let next = 0;
  const partitionCounts = new Map<string, number>([['t', 6]]);
  const coordinator = new GroupCoordinator({
    clock,
    assignor: new StickyAssignor(),
    topics: { partitionCount: (t) => partitionCounts.get(t) },
    config: CONFIG,
    logger: silentLogger,
    newMemberId: () => `m${next++}`,
    events: { onMemberRemoved: (_g, memberId, reason) => removed.push({ memberId, reason }) },
  });
  const beat = (request: Partial<HeartbeatRequest> & { memberId: string; memberEpoch: number }) =>
    coordinator.heartbeat({ groupId: 'g', topics: ['t'], owned: [], idleMs: 0, ...request });
  return { clock, coordinator, removed, beat, partitionCounts };
}

const partitionsOf = (response: { assignment: Array<{ partitions: number[] }> }) => response.assignment.flatMap((a) => a.partitions);

describe('GroupCoordinator', () => {
  it('gathers joins of a new group for the initial delay, then assigns everything, balanced', () => {
    const { clock, coordinator, beat } = setup();
    const a = beat({ memberId: '', memberEpoch: 0 });
    const b = beat({ memberId: '', memberEpoch: 0 });
    expect(partitionsOf(a)).toEqual([]);
    clock.advance(CONFIG.initialRebalanceDelayMs);
    const ra = beat({ memberId: a.memberId, memberEpoch: a.memberEpoch });
    const rb = beat({ memberId: b.memberId, memberEpoch: b.memberEpoch });
    expect(partitionsOf(ra).length).toBe(3);
    expect(partitionsOf(rb).length).toBe(3);
    expect(new Set([...partitionsOf(ra), ...partitionsOf(rb)]).size).toBe(6);
    expect(coordinator.describeGroup('g')!.members).toHaveLength(2);
    coordinator.close();
  });

  it('assigns partitions of a topic created or grown after the target was computed, and drops a deleted one', () => {
    const { clock, coordinator, beat, partitionCounts } = setup();
    const a = beat({ memberId: '', memberEpoch: 0, topics: ['t', 'later'] });
    clock.advance(CONFIG.initialRebalanceDelayMs);
    let r = beat({ memberId: a.memberId, memberEpoch: a.memberEpoch, topics: ['t', 'later'] });
    expect(r.assignment).toEqual([{ topic: 't', partitions: [0, 1, 2, 3, 4, 5] }]);
    const owned = () => r.assignment.map((x) => ({ topic: x.topic, partitions: x.partitions }));
    const beatAfterDelay = () => {
      r = beat({ memberId: a.memberId, memberEpoch: r.memberEpoch, topics: ['t', 'later'], owned: owned() });
      clock.advance(CONFIG.rebalanceDelayMs);
      coordinator.tick();
      r = beat({ memberId: a.memberId, memberEpoch: r.memberEpoch, topics: ['t', 'later'], owned: owned() });
      r = beat({ memberId: a.memberId, memberEpoch: r.memberEpoch, topics: ['t', 'later'], owned: owned() });
    };
    partitionCounts.set('later', 2);
    partitionCounts.set('t', 8);
    beatAfterDelay();
    expect(r.assignment).toEqual([{ topic: 'later', partitions: [0, 1] }, { topic: 't', partitions: [0, 1, 2, 3, 4, 5, 6, 7] }]);
    partitionCounts.delete('later');
    beatAfterDelay();
    expect(r.assignment).toEqual([{ topic: 't', partitions: [0, 1, 2, 3, 4, 5, 6, 7] }]);
    // Nothing changed: no more recomputation.
    const epoch = coordinator.describeGroup('g')!.groupEpoch;
    beatAfterDelay();
    expect(coordinator.describeGroup('g')!.groupEpoch).toBe(epoch);
    coordinator.close();
  });

  it('moves a partition only after its old owner reports it released', () => {
    const { clock, coordinator, beat } = setup();
    const a = beat({ memberId: '', memberEpoch: 0 });
    clock.advance(CONFIG.initialRebalanceDelayMs);
    const full = beat({ memberId: a.memberId, memberEpoch: a.memberEpoch });
    expect(partitionsOf(full)).toHaveLength(6);
    const b = beat({ memberId: '', memberEpoch: 0 });
    clock.advance(CONFIG.rebalanceDelayMs);
    // b's target holds 3 partitions, but a still owns them: b gets nothing yet.
    expect(partitionsOf(beat({ memberId: b.memberId, memberEpoch: b.memberEpoch }))).toEqual([]);
    // a is told to keep 3; it still reports all 6, so nothing moves.
    const keep = partitionsOf(beat({ memberId: a.memberId, memberEpoch: full.memberEpoch, owned: [{ topic: 't', partitions: partitionsOf(full) }] }));
    expect(keep).toHaveLength(3);
    expect(partitionsOf(beat({ memberId: b.memberId, memberEpoch: b.memberEpoch }))).toEqual([]);
    // a lets go: b can take them.
    beat({ memberId: a.memberId, memberEpoch: full.memberEpoch, owned: [{ topic: 't', partitions: keep }] });
    const taken = partitionsOf(beat({ memberId: b.memberId, memberEpoch: b.memberEpoch }));
    expect(taken).toHaveLength(3);
    expect(taken.some((p) => keep.includes(p))).toBe(false);
    coordinator.close();
  });

  it('removes a member that stops heartbeating after the session timeout, and one that never releases after the revocation timeout', () => {
    const { clock, coordinator, removed, beat } = setup();
    const a = beat({ memberId: '', memberEpoch: 0 });
    clock.advance(CONFIG.initialRebalanceDelayMs);
    const full = beat({ memberId: a.memberId, memberEpoch: a.memberEpoch });
    const b = beat({ memberId: '', memberEpoch: 0 });
    for (let t = 0; t < CONFIG.revocationTimeoutMs; t += 1_000) {
      clock.advance(1_000);
      // a keeps heartbeating but never lets go of what it must revoke.
      beat({ memberId: a.memberId, memberEpoch: full.memberEpoch, owned: [{ topic: 't', partitions: partitionsOf(full) }] });
      beat({ memberId: b.memberId, memberEpoch: b.memberEpoch });
    }
    clock.advance(1_000);
    expect(removed).toContainEqual({ memberId: a.memberId, reason: 'revocation-timeout' });
    expect(partitionsOf(beat({ memberId: b.memberId, memberEpoch: b.memberEpoch }))).toHaveLength(6);
    clock.advance(CONFIG.sessionTimeoutMs);
    expect(removed).toContainEqual({ memberId: b.memberId, reason: 'session-timeout' });
    // An empty group is forgotten (its offsets would stay in the offset store).
    expect(coordinator.describeGroup('g')).toBeUndefined();
    coordinator.close();
  });

  it('removes a member stuck past the processing timeout, and fences zombies and stale epochs', () => {
    const { clock, coordinator, removed, beat } = setup();
    const a = beat({ memberId: '', memberEpoch: 0 });
    clock.advance(CONFIG.initialRebalanceDelayMs);
    const r = beat({ memberId: a.memberId, memberEpoch: a.memberEpoch });
    expect(() => beat({ memberId: a.memberId, memberEpoch: r.memberEpoch + 5 })).toThrow(expect.objectContaining({ code: 'FENCED_MEMBER_EPOCH' }));
    expect(() => beat({ memberId: a.memberId, memberEpoch: r.memberEpoch, idleMs: CONFIG.processingTimeoutMs + 1 })).toThrow(expect.objectContaining({ code: 'UNKNOWN_MEMBER_ID' }));
    expect(removed).toContainEqual({ memberId: a.memberId, reason: 'processing-timeout' });
    expect(() => beat({ memberId: a.memberId, memberEpoch: r.memberEpoch })).toThrow(expect.objectContaining({ code: 'UNKNOWN_MEMBER_ID' }));
    expect(() => coordinator.validateMember('g', a.memberId, r.memberEpoch, 0)).toThrow(expect.objectContaining({ code: 'UNKNOWN_MEMBER_ID' }));
    expect(() => beat({ memberId: '', memberEpoch: 0, topics: [] })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => coordinator.heartbeat({ groupId: 'bad group', memberId: '', memberEpoch: 0, topics: ['t'], owned: [], idleMs: 0 })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    coordinator.close();
  });

  it('lets a static member step away (-2) and come back under a new id with the same partitions', () => {
    const { clock, coordinator, removed, beat } = setup();
    const s = beat({ memberId: '', memberEpoch: 0, instanceId: 'i-1' });
    const d = beat({ memberId: '', memberEpoch: 0 });
    clock.advance(CONFIG.initialRebalanceDelayMs);
    const owned = partitionsOf(beat({ memberId: s.memberId, memberEpoch: s.memberEpoch, instanceId: 'i-1' }));
    const others = partitionsOf(beat({ memberId: d.memberId, memberEpoch: d.memberEpoch }));
    beat({ memberId: s.memberId, memberEpoch: -2, instanceId: 'i-1' });
    clock.advance(CONFIG.sessionTimeoutMs / 2);
    beat({ memberId: d.memberId, memberEpoch: d.memberEpoch });
    const back = beat({ memberId: '', memberEpoch: 0, instanceId: 'i-1' });
    expect(back.memberId).not.toBe(s.memberId);
    expect(partitionsOf(back)).toEqual(owned);
    expect(partitionsOf(beat({ memberId: d.memberId, memberEpoch: d.memberEpoch }))).toEqual(others);
    expect(removed).toEqual([{ memberId: s.memberId, reason: 'replaced' }]);
    // The old id is fenced.
    expect(() => beat({ memberId: s.memberId, memberEpoch: s.memberEpoch })).toThrow(expect.objectContaining({ code: 'UNKNOWN_MEMBER_ID' }));
    coordinator.close();
  });

  it('fences commits made before an offset reset', () => {
    const { clock, coordinator, beat } = setup();
    const a = beat({ memberId: '', memberEpoch: 0 });
    clock.advance(CONFIG.initialRebalanceDelayMs);
    const r = beat({ memberId: a.memberId, memberEpoch: a.memberEpoch });
    expect(() => coordinator.validateMember('g', a.memberId, r.memberEpoch, 0)).not.toThrow();
    coordinator.fenceOffsets('g');
    expect(() => coordinator.validateMember('g', a.memberId, r.memberEpoch, 0)).toThrow(expect.objectContaining({ code: 'FENCED_MEMBER_EPOCH' }));
    // Announced only once the reset is written (notifyOffsetsReset).
    expect(beat({ memberId: a.memberId, memberEpoch: r.memberEpoch }).offsetsEpoch).toBe(0);
    coordinator.notifyOffsetsReset('g');
    expect(beat({ memberId: a.memberId, memberEpoch: r.memberEpoch }).offsetsEpoch).toBe(1);
    expect(() => coordinator.validateMember('g', a.memberId, r.memberEpoch, 1)).not.toThrow();
    coordinator.close();
  });
});

describe('GroupCoordinator after a restart', () => {
  it('keeps the assignment: members rejoin with what they own and keep it', () => {
    const first = setup();
    const a = first.beat({ memberId: '', memberEpoch: 0 });
    const b = first.beat({ memberId: '', memberEpoch: 0 });
    first.clock.advance(CONFIG.initialRebalanceDelayMs);
    const ownedA = partitionsOf(first.beat({ memberId: a.memberId, memberEpoch: a.memberEpoch }));
    const ownedB = partitionsOf(first.beat({ memberId: b.memberId, memberEpoch: b.memberEpoch }));
    first.coordinator.close();

    // A new coordinator knows nobody: both rejoin, each reporting what it owns.
    const second = setup();
    const a2 = second.beat({ memberId: '', memberEpoch: 0, owned: [{ topic: 't', partitions: ownedA }] });
    const b2 = second.beat({ memberId: '', memberEpoch: 0, owned: [{ topic: 't', partitions: ownedB }] });
    expect(partitionsOf(a2)).toEqual(ownedA);
    expect(partitionsOf(b2)).toEqual(ownedB);
    second.clock.advance(CONFIG.initialRebalanceDelayMs);
    expect(partitionsOf(second.beat({ memberId: a2.memberId, memberEpoch: a2.memberEpoch, owned: [{ topic: 't', partitions: ownedA }] }))).toEqual(ownedA);
    expect(partitionsOf(second.beat({ memberId: b2.memberId, memberEpoch: b2.memberEpoch, owned: [{ topic: 't', partitions: ownedB }] }))).toEqual(ownedB);

    // A member claiming what another holds gets only the free part, and may not commit the rest.
    const c = second.beat({ memberId: '', memberEpoch: 0, owned: [{ topic: 't', partitions: [ownedA[0]!, 99] }] });
    expect(partitionsOf(c)).toEqual([]);
    expect(() => second.coordinator.validateOwnership('g', c.memberId, [{ topic: 't', partition: ownedA[0]! }])).toThrow(expect.objectContaining({ code: 'FENCED_MEMBER_EPOCH' }));
    expect(() => second.coordinator.validateOwnership('g', a2.memberId, [{ topic: 't', partition: ownedA[0]! }])).not.toThrow();
    second.coordinator.close();
  });
});

describe('GroupCoordinator revocations', () => {
  it('drops a pending revocation when a newer target gives the partitions back (no false revocation timeout)', () => {
    const { clock, coordinator, removed, beat } = setup();
    const a = beat({ memberId: '', memberEpoch: 0 });
    clock.advance(CONFIG.initialRebalanceDelayMs);
    const all = partitionsOf(beat({ memberId: a.memberId, memberEpoch: a.memberEpoch }));
    expect(all).toHaveLength(6);
    const b = beat({ memberId: '', memberEpoch: 0 });
    clock.advance(CONFIG.rebalanceDelayMs);
    // a is asked to give up 3 but is slow; meanwhile b leaves, and the next target gives them back.
    expect(partitionsOf(beat({ memberId: a.memberId, memberEpoch: a.memberEpoch, owned: [{ topic: 't', partitions: all }] }))).toHaveLength(3);
    beat({ memberId: b.memberId, memberEpoch: -1 });
    clock.advance(CONFIG.rebalanceDelayMs);
    for (let t = 0; t < 3 * CONFIG.revocationTimeoutMs; t += CONFIG.heartbeatIntervalMs) {
      expect(partitionsOf(beat({ memberId: a.memberId, memberEpoch: a.memberEpoch, owned: [{ topic: 't', partitions: all }] }))).toHaveLength(6);
      clock.advance(CONFIG.heartbeatIntervalMs);
    }
    expect(removed.filter((r) => r.memberId === a.memberId)).toEqual([]);
    coordinator.close();
  });
});
