import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { MAX_GROUPS } from '../../src/core/limits.js';
import { silentLogger } from '../../src/core/logger.js';
import { StickyAssignor } from '../../src/groups/assignors/sticky-assignor.js';
import { resolveGroupConfig } from '../../src/groups/group-config.js';
import { GroupCoordinator, type HeartbeatRequest } from '../../src/groups/group-coordinator.js';
import { CountQuotas } from '../../src/quotas/count-quotas.js';
import { StaticQuotaSource } from '../../src/quotas/principal-quotas.js';

const CONFIG = resolveGroupConfig({ sessionTimeoutMs: 10_000, heartbeatIntervalMs: 1_000, processingTimeoutMs: 30_000, revocationTimeoutMs: 5_000, initialRebalanceDelayMs: 1_000, rebalanceDelayMs: 200 });

function setup() {
  const clock = new ManualClock(0);
  let next = 0;
  const quotas = new CountQuotas(new StaticQuotaSource(new Map([['mallory', { max_groups: 2 }]])));
  const coordinator = new GroupCoordinator({
    clock,
    assignor: new StickyAssignor(),
    topics: { partitionCount: (t) => (t === 't' ? 6 : undefined) },
    config: CONFIG,
    logger: silentLogger,
    newMemberId: () => `m${next++}`,
    groupQuota: quotas,
  });
  const join = (groupId: string, principal: string, request: Partial<HeartbeatRequest> = {}) =>
    coordinator.heartbeat({ groupId, memberId: '', memberEpoch: 0, topics: ['t'], owned: [], idleMs: 0, principal, ...request });
  const leave = (groupId: string, memberId: string) => coordinator.heartbeat({ groupId, memberId, memberEpoch: -1, topics: ['t'], owned: [], idleMs: 0 });
  return { clock, coordinator, quotas, join, leave };
}

describe('GroupCoordinator max_groups', () => {
  it('refuses a principal a group past max_groups with QUOTA_EXCEEDED, creating nothing, while another principal still creates groups', () => {
    const { coordinator, quotas, join } = setup();
    join('m-1', 'mallory');
    join('m-2', 'mallory');
    expect(() => join('m-3', 'mallory')).toThrow(expect.objectContaining({ code: 'QUOTA_EXCEEDED', retriable: false }));
    expect(() => join('m-3', 'mallory')).toThrow(/mallory holds 2 consumer groups and queue groups.*max_groups quota \(2\)/);
    expect(coordinator.hasGroup('m-3')).toBe(false);
    expect(quotas.heldBy('max_groups', 'mallory')).toBe(2);
    expect(quotas.refusalCount('max_groups')).toBe(2);
    // Another principal is not locked out, also of a group mallory tried to make.
    for (let i = 0; i < 5; i++) join(`alice-${i}`, 'alice');
    join('m-3', 'alice');
    expect(coordinator.holdersOf('m-3')).toEqual(['alice']);
    coordinator.close();
  });

  it('lets a principal at max_groups add members to a group it holds, and join a group someone else holds only within its quota', () => {
    const { coordinator, quotas, join } = setup();
    join('m-1', 'mallory');
    join('m-2', 'mallory');
    join('m-1', 'mallory');
    join('shared', 'alice');
    const members = coordinator.describeGroup('shared')!.members.length;
    expect(() => join('shared', 'mallory')).toThrow(expect.objectContaining({ code: 'QUOTA_EXCEEDED' }));
    // The other members untouched: no member added, no epoch bumped by the refused join.
    expect(coordinator.describeGroup('shared')!.members.length).toBe(members);
    expect(coordinator.holdersOf('m-1')).toEqual(['mallory']);
    expect(quotas.heldBy('max_groups', 'mallory')).toBe(2);
    coordinator.close();
  });

  it('releases a group when the principal\'s last member in it leaves, not before', () => {
    const { coordinator, quotas, join, leave } = setup();
    const a = join('m-1', 'mallory');
    const b = join('m-1', 'mallory');
    join('m-2', 'mallory');
    leave('m-1', a.memberId);
    expect(() => join('m-3', 'mallory')).toThrow(expect.objectContaining({ code: 'QUOTA_EXCEEDED' }));
    leave('m-1', b.memberId);
    expect(quotas.heldBy('max_groups', 'mallory')).toBe(1);
    join('m-3', 'mallory');
    expect(coordinator.holdersOf('m-3')).toEqual(['mallory']);
    coordinator.close();
  });

  it('releases a group when its member expires (session timeout), on the virtual clock', () => {
    const { clock, coordinator, quotas, join } = setup();
    join('m-1', 'mallory');
    clock.advance(CONFIG.sessionTimeoutMs / 2);
    const kept = join('m-2', 'mallory');
    expect(() => join('m-3', 'mallory')).toThrow(expect.objectContaining({ code: 'QUOTA_EXCEEDED' }));
    clock.advance(CONFIG.sessionTimeoutMs / 2);
    // m-1's member timed out; m-2's heartbeats keep it.
    coordinator.heartbeat({ groupId: 'm-2', memberId: kept.memberId, memberEpoch: kept.memberEpoch, topics: ['t'], owned: [], idleMs: 0 });
    expect(coordinator.hasGroup('m-1')).toBe(false);
    expect(quotas.heldBy('max_groups', 'mallory')).toBe(1);
    join('m-3', 'mallory');
    coordinator.close();
  });

  it('moves the hold when a static member is replaced by one of another principal; refuses the replacement over quota, leaving the holder', () => {
    const { coordinator, quotas, join } = setup();
    join('m-1', 'mallory');
    join('m-2', 'mallory');
    const first = join('static', 'alice', { instanceId: 'worker-1' });
    expect(() => join('static', 'mallory', { instanceId: 'worker-1' })).toThrow(expect.objectContaining({ code: 'QUOTA_EXCEEDED' }));
    // Refused: alice's member is still the instance, not fenced.
    expect(coordinator.describeGroup('static')!.members.map((m) => m.memberId)).toEqual([first.memberId]);
    join('other', 'bob', { instanceId: 'worker-2' });
    join('other', 'carol', { instanceId: 'worker-2' });
    expect(coordinator.holdersOf('other')).toEqual(['carol']);
    expect(quotas.heldBy('max_groups', 'bob')).toBe(0);
    coordinator.close();
  });

  it('counts a join without a principal (the coordinator used directly) for nobody', () => {
    const { coordinator, quotas, join } = setup();
    for (let i = 0; i < 3; i++) coordinator.heartbeat({ groupId: `x-${i}`, memberId: '', memberEpoch: 0, topics: ['t'], owned: [], idleMs: 0 });
    join('m-1', 'mallory');
    expect(coordinator.holdersOf('x-0')).toEqual([]);
    expect(quotas.topHolders('max_groups', 10)).toEqual({ top: [{ principal: 'mallory', count: 1 }], otherCount: 0 });
    coordinator.close();
  });

  it('refuses a new group past MAX_GROUPS with GROUP_MAX_SIZE_REACHED (retriable), naming the limit, and counts nothing for the principal', () => {
    const { coordinator, quotas, join } = setup();
    for (let i = 0; i < MAX_GROUPS; i++) join(`g-${i}`, 'alice');
    expect(() => join('one-more', 'bob')).toThrow(expect.objectContaining({ code: 'GROUP_MAX_SIZE_REACHED', retriable: true }));
    expect(() => join('one-more', 'bob')).toThrow(/10000 consumer groups with members.*MAX_GROUPS/);
    expect(quotas.heldBy('max_groups', 'bob')).toBe(0);
    // An existing group still takes members.
    join('g-0', 'bob');
    expect(coordinator.holdersOf('g-0')).toEqual(['alice', 'bob']);
    coordinator.close();
  });
});
