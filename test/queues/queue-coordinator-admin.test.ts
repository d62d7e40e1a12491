import { afterEach, describe, expect, it } from 'vitest';
import { QueueCoordinator } from '../../src/queues/queue-coordinator.js';
import type { QueueGroupDescription } from '../../src/queues/queue-coordinator-api.js';
import { QueueHarness } from '../helpers/queue-harness.js';

let harness: QueueHarness;
afterEach(async () => harness?.coordinator.close());

async function setUp(recordCount: number, partitions = 1): Promise<QueueHarness> {
  harness = new QueueHarness();
  harness.topics.create('orders', partitions);
  await harness.start();
  for (let p = 0; p < partitions && recordCount > 0; p++) {
    harness.topics.partition('orders', p).append(Array.from({ length: recordCount }, (_, i) => ({ value: `r${i}`, key: `k${i % 3}`, timestampMs: 500_000 + i })));
  }
  return harness;
}

/** The durable part of a description: everything but the live members (a restart forgets them). */
function durable(description: QueueGroupDescription): unknown {
  return { ...description, members: [] };
}

describe('QueueCoordinator describe', () => {
  it('counts depth, in flight, waiting for retry, redeliveries, dead letters and the oldest record\'s age', async () => {
    await setUp(10);
    const member = await harness.join('g', ['orders'], { inFlightLimit: 4, clientId: 'worker-1' });
    await harness.settle();
    const [r0, r1, r2] = member.heldRecords();
    await member.answer([r0!], 'ack');
    await member.answer([r1!], 'release');
    await member.answer([r2!], 'reject', { reason: 'no' });
    await harness.settle();
    const description = await harness.coordinator.describeGroup('g');
    expect(description.members).toEqual([{ memberId: member.memberId, clientId: 'worker-1', topics: ['orders'], inFlight: 4, inFlightLimit: 4 }]);
    expect(description.partitions[0]).toMatchObject({
      topic: 'orders', partition: 0, startOffset: 1, highWatermark: 10, deadLetterTopic: 'orders.dlq',
      depth: { depth: 8, inFlight: 4, waitingForRetry: 1, deadLettered: 1, deadLetterDepth: 1, redeliveries: 0, skipped: 0, oldestUnacknowledgedAgeMs: harness.clock.nowMs() - 500_001 },
    });
    expect(description.total).toEqual(description.partitions[0]!.depth);
    expect(harness.coordinator.listGroups()).toEqual([{ groupId: 'g', memberCount: 1, topics: ['orders'] }]);
  });
});

describe('QueueCoordinator admin changes', () => {
  it('resets to earliest, latest, an offset or a time once the group is empty; refuses an offset outside the log', async () => {
    await setUp(10);
    const member = await harness.join('g', ['orders'], { inFlightLimit: 3 });
    await harness.settle();
    await harness.coordinator.leave(member.memberId);
    expect((await harness.coordinator.reset('g', 'orders', { point: 'latest' }))[0]).toMatchObject({ startOffset: 10, depth: { depth: 0, inFlight: 0 } });
    expect((await harness.coordinator.reset('g', 'orders', { offset: 4 }))[0]!.startOffset).toBe(4);
    expect((await harness.coordinator.reset('g', 'orders', { timestampMs: 500_007 }))[0]!.startOffset).toBe(7);
    expect((await harness.coordinator.reset('g', 'orders', { point: 'earliest' }, [0]))[0]).toMatchObject({ startOffset: 0, depth: { depth: 10, redeliveries: 0 } });
    await expect(harness.coordinator.reset('g', 'orders', { offset: 11 })).rejects.toMatchObject({ code: 'OFFSET_OUT_OF_RANGE' });
    await expect(harness.coordinator.reset('g', 'orders', { point: 'earliest' }, [3])).rejects.toMatchObject({ code: 'PARTITION_NOT_FOUND' });
    await expect(harness.coordinator.reset('g', 'missing', { point: 'earliest' })).rejects.toMatchObject({ code: 'TOPIC_NOT_FOUND' });
    const again = await harness.join('g', ['orders'], { inFlightLimit: 3 });
    await harness.advanceUntil(() => again.received.length === 3, 'the reset records come again');
    expect(again.received.map((r) => [r.offset, r.deliveryCount])).toEqual([[0, 1], [1, 1], [2, 1]]);
  });

  it('deletes an empty group with its state; a later join starts it afresh', async () => {
    await setUp(5);
    const member = await harness.join('g', ['orders'], { config: { maxDeliveryAttempts: 2 } });
    await harness.settle();
    await member.answer(member.heldRecords(), 'ack');
    await harness.coordinator.leave(member.memberId);
    await harness.coordinator.deleteGroup('g');
    expect(harness.coordinator.listGroups()).toEqual([]);
    await expect(harness.coordinator.deleteGroup('g')).rejects.toMatchObject({ code: 'QUEUE_GROUP_NOT_FOUND' });
    const fresh = await harness.join('g', ['orders']);
    await harness.settle();
    expect(fresh.received.length).toBe(5);
    expect((await harness.coordinator.describeGroup('g')).config.maxDeliveryAttempts).toBe(5);
    await harness.restart();
    expect((await harness.coordinator.describeGroup('g')).partitions[0]).toMatchObject({ startOffset: 0, depth: { inFlight: 5 } });
  });

  it('alters the configuration durably; the next deliveries use it', async () => {
    await setUp(2);
    const member = await harness.join('g', ['orders'], { inFlightLimit: 1 });
    await harness.settle();
    const config = await harness.coordinator.alterConfig('g', { lockDurationMs: 2_000, maxDeliveryAttempts: 7 });
    expect(config).toMatchObject({ lockDurationMs: 2_000, maxDeliveryAttempts: 7 });
    expect(member.heldRecords()[0]!.lockDeadlineMs).toBe(harness.clock.nowMs() + 30_000);
    await member.answer(member.heldRecords(), 'ack');
    await harness.settle();
    expect(member.heldRecords()[0]!.lockDeadlineMs).toBe(harness.clock.nowMs() + 2_000);
    await harness.coordinator.leave(member.memberId);
    await harness.restart();
    expect((await harness.coordinator.describeGroup('g')).config).toMatchObject({ lockDurationMs: 2_000, maxDeliveryAttempts: 7 });
  });

  it('switching to key order holds records behind earlier ones of their key that unordered delivery let out', async () => {
    await setUp(0);
    harness.topics.partition('orders', 0).append([{ value: 'a0', key: 'A' }, { value: 'a1', key: 'A' }, { value: 'a2', key: 'A' }]);
    const member = await harness.join('g', ['orders'], { inFlightLimit: 2 });
    await harness.settle();
    const [a0, a1] = member.heldRecords();
    expect([a0!.value, a1!.value]).toEqual(['a0', 'a1']);
    await harness.coordinator.alterConfig('g', { ordering: 'key' });
    await member.answer([a1!], 'release');
    harness.clock.advance(5_000);
    await harness.settle();
    expect(member.heldRecords().map((r) => r.value)).toEqual(['a0']); // a1 and a2 wait behind a0
    await member.answer([a0!], 'ack');
    await harness.settle();
    expect(member.heldRecords().map((r) => r.value)).toEqual(['a1']); // a2 waits behind a1
  });

  it('forgets a deleted topic: its held records stop counting against the member, answers for them fail', async () => {
    await setUp(3);
    harness.topics.create('other', 1).forEach((log) => log.append([{ value: 'o' }]));
    const member = await harness.join('g', ['orders', 'other'], { inFlightLimit: 4 });
    await harness.settle();
    expect(member.held.size).toBe(4);
    const ordersHeld = member.heldRecords().filter((r) => r.topic === 'orders');
    harness.topics.topics.delete('orders');
    await harness.coordinator.onTopicDeleted('orders');
    expect((await harness.coordinator.describeGroup('g')).members[0]!.inFlight).toBe(1);
    expect((await member.answer(ordersHeld, 'ack')).every((r) => r.error?.code === 'QUEUE_RECORD_NOT_ACQUIRED')).toBe(true);
    expect(harness.coordinator.listGroups()[0]!.topics).toEqual(['orders', 'other']); // the member still names it
  });

  it('skips records retention removed below the start, counting them, and frees what was held there', async () => {
    await setUp(0);
    const log = harness.topics.partition('orders', 0);
    for (let i = 0; i < 6; i++) log.append([{ value: `r${i}` }]);
    const member = await harness.join('g', ['orders'], { inFlightLimit: 2 });
    await harness.settle();
    expect(member.heldRecords().map((r) => r.offset)).toEqual([0, 1]);
    log.deleteBefore(4);
    log.append([{ value: 'r6' }]); // a wake-up
    await harness.settle();
    const description = await harness.coordinator.describeGroup('g');
    expect(description.partitions[0]).toMatchObject({ startOffset: 4, depth: { skipped: 4, depth: 3, inFlight: 2 } });
    expect(member.heldRecords().map((r) => r.offset)).toEqual([0, 1, 4, 5]);
    expect((await member.answer(member.heldRecords().slice(0, 2), 'ack')).every((r) => r.error?.code === 'QUEUE_RECORD_NOT_ACQUIRED')).toBe(true);
  });
});

describe('QueueCoordinator and retention', () => {
  it('stops trying to dead-letter a record retention removed, with no member to wake a read: the timer skips it', async () => {
    await setUp(0);
    const log = harness.topics.partition('orders', 0);
    log.append([{ value: 'r0' }]);
    log.append([{ value: 'r1' }]);
    const member = await harness.join('g', ['orders'], { inFlightLimit: 1, config: { maxDeliveryAttempts: 1 } });
    await harness.settle();
    expect(member.heldRecords().map((r) => r.offset)).toEqual([0]);
    log.deleteBefore(1);
    await harness.coordinator.streamLost(member.memberId); // at its delivery limit: a dead letter, which cannot be read
    expect(harness.deadLetters.letters).toEqual([]);
    harness.clock.advance(1_000);
    await harness.settle();
    const readsAfterSkip = log.readCount;
    harness.clock.advance(10_000);
    await harness.settle();
    expect(log.readCount).toBe(readsAfterSkip);
    expect((await harness.coordinator.describeGroup('g')).partitions[0]).toMatchObject({ startOffset: 1, depth: { skipped: 1, inFlight: 0, depth: 1 } });
  });
});

describe('QueueCoordinator replay', () => {
  it('rebuilds the same state from the journal, and from its compacted snapshots', async () => {
    await setUp(12, 2);
    harness.topics.create('events', 1)[0]!.append(Array.from({ length: 6 }, (_, i) => ({ value: `e${i}`, key: i % 2 === 0 ? 'even' : 'odd' })));
    const a = await harness.join('g', ['orders'], { inFlightLimit: 5, config: { maxDeliveryAttempts: 2, lockDurationMs: 3_000 } });
    const b = await harness.join('g', ['orders'], { inFlightLimit: 3 });
    const k = await harness.join('keyed', ['events', 'orders'], { inFlightLimit: 4, config: { ordering: 'key' } });
    await harness.settle();
    await a.answer(a.heldRecords().slice(0, 2), 'ack');
    await a.answer(a.heldRecords().slice(0, 1), 'release', { reason: 'later', delayMs: 500 });
    await a.answer(a.heldRecords().slice(0, 1), 'reject', { reason: 'never' });
    await harness.coordinator.extendLocks(b.memberId, b.heldRecords().slice(0, 1), 10_000);
    await k.answer(k.heldRecords().slice(0, 2), 'ack');
    await harness.advanceUntil(() => harness.deadLetters.letters.length >= 2, 'an expired record reaches its delivery limit', 100);
    await harness.coordinator.leave(b.memberId);
    await harness.settle();
    const live = [await harness.coordinator.describeGroup('g'), await harness.coordinator.describeGroup('keyed')];

    const rebuilt = async () => {
      const fresh = new QueueCoordinator({ journal: harness.journal, topics: harness.topics, deadLetters: harness.deadLetters, clock: harness.clock, random: harness.random });
      await fresh.start();
      const descriptions = [await fresh.describeGroup('g'), await fresh.describeGroup('keyed')];
      await fresh.close();
      return descriptions;
    };
    expect((await rebuilt()).map(durable)).toEqual(live.map(durable));
    harness.journal.compact();
    expect(harness.journal.changes.filter((c) => c.type === 'snapshot').length).toBe(5);
    expect((await rebuilt()).map(durable)).toEqual(live.map(durable));
  });
});
