import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { FencedMemberEpochError, GroupNotFoundError, InvalidArgumentError, PartitionNotFoundError, TopicNotFoundError, UnknownMemberIdError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import { StickyAssignor } from '../../src/groups/assignors/sticky-assignor.js';
import { GroupAdmin } from '../../src/groups/group-admin.js';
import { resolveGroupConfig } from '../../src/groups/group-config.js';
import { GroupCoordinator, type HeartbeatResponse } from '../../src/groups/group-coordinator.js';
import { GroupOffsets } from '../../src/groups/group-offsets.js';
import { OffsetStore } from '../../src/groups/offset-store.js';
import { LogManager } from '../../src/storage/log-manager.js';
import { FakePartition, FakeTopicLogs } from '../helpers/fake-topic-logs.js';
import { rejection } from '../helpers/rejection.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const CONFIG = resolveGroupConfig({ sessionTimeoutMs: 10_000, heartbeatIntervalMs: 1_000, initialRebalanceDelayMs: 0, rebalanceDelayMs: 0 });

/**
 * Group admin and members' offsets without gRPC: a real coordinator on a manual clock, a real offset
 * store (its log in a temp dir), and topics as an in-memory view: `orders` has offsets [100, 200) in
 * partition 0 and [0, 10) in partition 1, the record at offset n written at n seconds.
 */
describe('GroupAdmin and GroupOffsets', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let logs: LogManager;
  let clock: ManualClock;
  let topics: FakeTopicLogs;
  let coordinator: GroupCoordinator;
  let offsets: OffsetStore;
  let admin: GroupAdmin;
  let groupOffsets: GroupOffsets;
  let pushed: HeartbeatResponse[];

  beforeEach(async () => {
    dir = await makeTempDir();
    logs = await LogManager.open({ dataDir: dir.path, logger: silentLogger });
    clock = new ManualClock(1_000_000);
    topics = new FakeTopicLogs();
    topics.topics.set('orders', [new FakePartition(100, 200), new FakePartition(0, 10)]);
    pushed = [];
    let next = 0;
    coordinator = new GroupCoordinator({ clock, assignor: new StickyAssignor(), topics, config: CONFIG, logger: silentLogger, newMemberId: () => `m${next++}`, events: { onAssignmentChanged: (_g, response) => pushed.push(response) } });
    offsets = await OffsetStore.open(logs, () => clock.nowMs(), silentLogger);
    admin = new GroupAdmin({ coordinator, offsets, topics, nowMs: () => clock.nowMs() });
    groupOffsets = new GroupOffsets({ coordinator, offsets, topics });
  });
  afterEach(async () => {
    coordinator.close();
    await logs.close();
    await dir.remove();
  });

  /** A member of group g holding both partitions of orders. */
  function joinMember(): HeartbeatResponse {
    const joined = coordinator.heartbeat({ groupId: 'g', memberId: '', memberEpoch: 0, topics: ['orders'], owned: [], idleMs: 0 });
    coordinator.tick();
    const response = coordinator.heartbeat({ groupId: 'g', memberId: joined.memberId, memberEpoch: joined.memberEpoch, topics: ['orders'], owned: [], idleMs: 0 });
    expect(response.assignment).toEqual([{ topic: 'orders', partitions: [0, 1] }]);
    return response;
  }

  describe('describeGroup', () => {
    it('gives lag per partition of a group with only offsets: records and age from the committed offset, the log start without one', async () => {
      await offsets.commit('g', 'gone', [{ topic: 'orders', partition: 0, offset: 150 }]);
      clock.advance(5_000);
      const description = await admin.describeGroup('g');
      expect(description).toMatchObject({ groupId: 'g', groupEpoch: 0, members: [], fencedMembers: [], rebalanceWindowMs: 0, recentChurn: 0 });
      expect(description.lag).toEqual([
        { topic: 'orders', partition: 0, committedOffset: 150, logEndOffset: 200, lagRecords: 50, lagMs: 1_005_000 - 150_000, ownerMemberId: '', sinceCommitMs: 5_000 },
        { topic: 'orders', partition: 1, committedOffset: -1, logEndOffset: 10, lagRecords: 10, lagMs: 1_005_000, ownerMemberId: '', sinceCommitMs: -1 },
      ]);
    });

    it('counts from the log start when retention passed the committed offset, and names the owner of a live member', async () => {
      const member = joinMember();
      await offsets.commit('g', member.memberId, [{ topic: 'orders', partition: 0, offset: 40 }]);
      const [p0] = (await admin.describeGroup('g')).lag;
      expect(p0).toMatchObject({ committedOffset: 40, lagRecords: 100, lagMs: 1_000_000 - 100_000, ownerMemberId: member.memberId });
      expect((await admin.describeGroup('g')).members.map((m) => m.memberId)).toEqual([member.memberId]);
    });

    it('skips a topic that was deleted, refuses an unknown group and a malformed id', async () => {
      await offsets.commit('g', 'gone', [{ topic: 'orders', partition: 0, offset: 150 }]);
      topics.topics.delete('orders');
      expect((await admin.describeGroup('g')).lag).toEqual([]);
      expect(await rejection(admin.describeGroup('nobody'))).toBeInstanceOf(GroupNotFoundError);
      expect(await rejection(admin.describeGroup('bad id!'))).toBeInstanceOf(InvalidArgumentError);
    });
  });

  describe('resetOffsets', () => {
    const request = { groupId: 'g', topic: 'orders', partitions: [], execute: false, requestedBy: 'ops' };

    it('says what would change without writing on a dry run, and writes it on execute, with who asked', async () => {
      await offsets.commit('g', 'gone', [{ topic: 'orders', partition: 0, offset: 150 }]);
      const dry = await admin.resetOffsets({ ...request, target: { shiftBy: -20 } });
      expect(dry).toEqual({
        executed: false,
        changes: [
          { topic: 'orders', partition: 0, previousOffset: 150, newOffset: 130 },
          { topic: 'orders', partition: 1, previousOffset: -1, newOffset: 0 },
        ],
      });
      expect(offsets.fetch('g').get('orders')!.get(0)!.offset).toBe(150);
      const done = await admin.resetOffsets({ ...request, partitions: [0], target: { point: 'earliest' }, execute: true, requestedBy: '' });
      expect(done).toEqual({ executed: true, changes: [{ topic: 'orders', partition: 0, previousOffset: 150, newOffset: 100 }] });
      expect(offsets.fetch('g').get('orders')!.get(0)).toMatchObject({ offset: 100, memberId: 'unknown' });
    });

    it('fences live members commits made before the reset and tells each to reload its offsets', async () => {
      const member = joinMember();
      const identity = { groupId: 'g', memberId: member.memberId, memberEpoch: member.memberEpoch, offsetsEpoch: member.offsetsEpoch };
      await groupOffsets.commit(identity, [{ topic: 'orders', partition: 0, offset: 180 }]);
      pushed = [];
      await admin.resetOffsets({ ...request, target: { timestampMs: 120_000 }, execute: true });
      expect(offsets.fetch('g').get('orders')!.get(0)!.offset).toBe(120);
      expect(pushed.map((p) => p.memberId)).toEqual([member.memberId]);
      expect(pushed[0]!.offsetsEpoch).toBe(member.offsetsEpoch + 1);
      expect(await rejection(groupOffsets.commit(identity, [{ topic: 'orders', partition: 0, offset: 190 }]))).toBeInstanceOf(FencedMemberEpochError);
      await groupOffsets.commit({ ...identity, offsetsEpoch: pushed[0]!.offsetsEpoch }, [{ topic: 'orders', partition: 0, offset: 190 }]);
      expect(offsets.fetch('g').get('orders')!.get(0)!.offset).toBe(190);
    });

    it('announces the new offsets epoch only once the reset is written: a member answered during the write does not reload the old offsets', async () => {
      const member = joinMember();
      const identity = { groupId: 'g', memberId: member.memberId, memberEpoch: member.memberEpoch, offsetsEpoch: member.offsetsEpoch };
      let release!: () => void;
      const written = new Promise<void>((resolve) => (release = resolve));
      let writing!: () => void;
      const isWriting = new Promise<void>((resolve) => (writing = resolve));
      const reset = offsets.reset.bind(offsets);
      offsets.reset = async (...args) => {
        writing();
        await written;
        return reset(...args);
      };
      pushed = [];
      const resetting = admin.resetOffsets({ ...request, target: { timestampMs: 120_000 }, execute: true });
      await isWriting;
      // The write is in progress: commits from before it are refused, and heartbeats still carry the old epoch.
      const during = coordinator.heartbeat({ groupId: 'g', memberId: member.memberId, memberEpoch: member.memberEpoch, topics: ['orders'], owned: member.assignment, idleMs: 0 });
      expect(during.offsetsEpoch).toBe(member.offsetsEpoch);
      expect(await rejection(groupOffsets.commit(identity, [{ topic: 'orders', partition: 0, offset: 190 }]))).toBeInstanceOf(FencedMemberEpochError);
      expect(pushed).toEqual([]);
      release();
      await resetting;
      expect(pushed.map((p) => p.offsetsEpoch)).toEqual([member.offsetsEpoch + 1]);
      const after = coordinator.heartbeat({ groupId: 'g', memberId: member.memberId, memberEpoch: member.memberEpoch, topics: ['orders'], owned: member.assignment, idleMs: 0 });
      expect(after.offsetsEpoch).toBe(member.offsetsEpoch + 1);
    });

    it('announces an epoch only once its own reset is written, also when two resets overlap: the first one done does not announce the second', async () => {
      const member = joinMember();
      let release!: () => void;
      const written = new Promise<void>((resolve) => (release = resolve));
      let secondWriting!: () => void;
      const isSecondWriting = new Promise<void>((resolve) => (secondWriting = resolve));
      const reset = offsets.reset.bind(offsets);
      let calls = 0;
      // The first reset is written at once; the second waits (a slow fsync) until released.
      offsets.reset = async (...args) => {
        if (++calls === 1) return reset(...args);
        secondWriting();
        await written;
        return reset(...args);
      };
      pushed = [];
      const first = admin.resetOffsets({ ...request, partitions: [0], target: { point: 'earliest' }, execute: true });
      const second = admin.resetOffsets({ ...request, partitions: [0], target: { timestampMs: 120_000 }, execute: true });
      await isSecondWriting;
      await first;
      // The first is written; the second is not: members are told the first's epoch, not the second's.
      const during = coordinator.heartbeat({ groupId: 'g', memberId: member.memberId, memberEpoch: member.memberEpoch, topics: ['orders'], owned: member.assignment, idleMs: 0 });
      expect(during.offsetsEpoch, 'an epoch was announced before its reset was written').toBe(member.offsetsEpoch + 1);
      expect(pushed.map((p) => p.offsetsEpoch)).toEqual([member.offsetsEpoch + 1]);
      release();
      await second;
      expect(pushed.map((p) => p.offsetsEpoch)).toEqual([member.offsetsEpoch + 1, member.offsetsEpoch + 2]);
      expect(offsets.fetch('g').get('orders')!.get(0)!.offset).toBe(120);
    });

    it('tells members the new epoch after a reset whose write failed, so they are not fenced for good', async () => {
      const member = joinMember();
      offsets.reset = () => Promise.reject(new Error('disk gone'));
      pushed = [];
      await expect(admin.resetOffsets({ ...request, target: { point: 'earliest' }, execute: true })).rejects.toThrow('disk gone');
      expect(pushed.map((p) => p.offsetsEpoch)).toEqual([member.offsetsEpoch + 1]);
      const identity = { groupId: 'g', memberId: member.memberId, memberEpoch: member.memberEpoch, offsetsEpoch: pushed[0]!.offsetsEpoch };
      await groupOffsets.commit(identity, [{ topic: 'orders', partition: 0, offset: 190 }]);
      expect(offsets.fetch('g').get('orders')!.get(0)!.offset).toBe(190);
    });

    it('refuses an unknown topic, a partition past the count and a missing target, writing nothing', async () => {
      expect(await rejection(admin.resetOffsets({ ...request, topic: 'nope', target: { point: 'latest' }, execute: true }))).toBeInstanceOf(TopicNotFoundError);
      const past = await rejection(admin.resetOffsets({ ...request, partitions: [0, 2], target: { point: 'latest' }, execute: true }));
      expect(past).toBeInstanceOf(PartitionNotFoundError);
      expect(await rejection(admin.resetOffsets({ ...request, target: undefined, execute: true }))).toMatchObject({ code: 'INVALID_ARGUMENT', message: 'a reset needs a target: to (earliest, latest, offset, timestamp) or shift_by' });
      expect(offsets.groupIds()).toEqual([]);
    });

    it('refuses a reset whose topic was deleted while it looked up the offsets, so no offset of the deleted topic is written after it was forgotten', async () => {
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      let lookingUp!: () => void;
      const lookedUp = new Promise<void>((resolve) => (lookingUp = resolve));
      const slow = new FakePartition(100, 200);
      slow.startForTimestamp = async () => {
        lookingUp();
        await released;
        return { offset: 150, found: true };
      };
      topics.topics.set('orders', [slow]);
      const reset = rejection(admin.resetOffsets({ ...request, target: { timestampMs: 150_000 }, execute: true }));
      await lookedUp;
      // TopicAdmin.deleteTopic: the topic goes, then its offsets are forgotten.
      topics.topics.delete('orders');
      await offsets.forgetTopic('orders');
      release();
      expect(await reset).toBeInstanceOf(TopicNotFoundError);
      expect(offsets.groupIds(), 'an offset of the deleted topic was written after it was forgotten').toEqual([]);
    });
  });

  it('lists live groups and groups with only offsets; deletes an empty one with its offsets, refuses one that is not there', async () => {
    joinMember();
    await offsets.commit('idle', 'gone', [{ topic: 'orders', partition: 1, offset: 3 }]);
    expect(admin.listGroups()).toEqual([
      { groupId: 'g', memberCount: 1, groupEpoch: expect.any(Number) },
      { groupId: 'idle', memberCount: 0, groupEpoch: 0 },
    ]);
    await admin.deleteGroup('idle');
    expect(offsets.groupIds()).toEqual([]);
    expect(await rejection(admin.deleteGroup('idle'))).toBeInstanceOf(GroupNotFoundError);
    expect(await rejection(admin.deleteGroup('g'))).toMatchObject({ code: 'GROUP_NOT_EMPTY' });
  });

  describe('GroupOffsets (a member commits and fetches)', () => {
    it('refuses a commit from a non-member, for a partition the member does not hold, and for a partition that is gone', async () => {
      const member = joinMember();
      const identity = { groupId: 'g', memberId: member.memberId, memberEpoch: member.memberEpoch, offsetsEpoch: member.offsetsEpoch };
      expect(await rejection(groupOffsets.commit({ ...identity, memberId: 'stranger' }, [{ topic: 'orders', partition: 0, offset: 1 }]))).toBeInstanceOf(UnknownMemberIdError);
      expect(await rejection(groupOffsets.commit({ ...identity, memberEpoch: member.memberEpoch + 1 }, [{ topic: 'orders', partition: 0, offset: 1 }]))).toBeInstanceOf(FencedMemberEpochError);
      expect(await rejection(groupOffsets.commit(identity, [{ topic: 'orders', partition: 0, offset: 150 }, { topic: 'other', partition: 0, offset: 1 }]))).toBeInstanceOf(FencedMemberEpochError);
      topics.topics.get('orders')!.pop();
      expect(await rejection(groupOffsets.commit(identity, [{ topic: 'orders', partition: 0, offset: 150 }, { topic: 'orders', partition: 1, offset: 1 }]))).toMatchObject({ code: 'INVALID_ARGUMENT', message: 'no partition orders/1' });
      expect(await rejection(groupOffsets.commit({ ...identity, groupId: '' }, []))).toBeInstanceOf(InvalidArgumentError);
      // None of the refused commits wrote anything.
      expect(offsets.groupIds()).toEqual([]);
    });

    it('fetches committed offsets partitions ascending; a member is checked, an operator (no member id) is not', async () => {
      const member = joinMember();
      const identity = { groupId: 'g', memberId: member.memberId, memberEpoch: member.memberEpoch, offsetsEpoch: member.offsetsEpoch };
      await groupOffsets.commit(identity, [{ topic: 'orders', partition: 1, offset: 5 }, { topic: 'orders', partition: 0, offset: 150 }]);
      const expected = [{ topic: 'orders', partitions: [{ partition: 0, offset: 150 }, { partition: 1, offset: 5 }] }];
      expect(groupOffsets.fetch({ ...identity, topics: [] })).toEqual(expected);
      expect(groupOffsets.fetch({ groupId: 'g', memberId: '', memberEpoch: 0, offsetsEpoch: 0, topics: ['orders'] })).toEqual(expected);
      expect(groupOffsets.fetch({ groupId: 'g', memberId: '', memberEpoch: 0, offsetsEpoch: 0, topics: ['other'] })).toEqual([]);
      expect(() => groupOffsets.fetch({ ...identity, memberId: 'stranger', topics: [] })).toThrow(UnknownMemberIdError);
    });
  });
});
