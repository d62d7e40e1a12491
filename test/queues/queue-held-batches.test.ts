import { afterEach, describe, expect, it } from 'vitest';
import { iterateBatches } from '../../src/format/index.js';
import type { FakeQueueLog } from '../helpers/fake-queue-topics.js';
import { QueueHarness, type TestMember } from '../helpers/queue-harness.js';

let harness: QueueHarness | undefined;
afterEach(async () => harness?.coordinator.close());

const BATCHES = 5;
const RECORDS_PER_BATCH = 10;
/** The value of the record at `offset` of partition `p`: all of one length, so every batch has the same size. */
const valueOf = (p: number, offset: number) => `p${p}-r${String(offset).padStart(3, '0')}`;

/** A harness with `partitions` partitions of 'orders', each BATCHES stored batches of RECORDS_PER_BATCH records (values by valueOf). */
async function setUp(partitions: number, heldBatchBytes?: { perPartition: number; perServer: number }): Promise<{ logs: FakeQueueLog[]; batchBytes: number }> {
  harness = new QueueHarness(heldBatchBytes ? { heldBatchBytes } : {});
  const logs = harness.topics.create('orders', partitions);
  logs.forEach((log, p) => {
    for (let b = 0; b < BATCHES; b++) log.append(Array.from({ length: RECORDS_PER_BATCH }, (_, i) => ({ value: valueOf(p, b * RECORDS_PER_BATCH + i) })));
  });
  const { batches } = await logs[0]!.read(0, Number.MAX_SAFE_INTEGER);
  const sizes = [...iterateBatches(batches)].map((b) => b.header.sizeBytes);
  for (const log of logs) log.readCount = 0;
  await harness.start();
  expect(new Set(sizes).size).toBe(1);
  return { logs, batchBytes: sizes[0]! };
}

/** Acks what `member` holds, `rounds` times, settling after each; returns every value received. */
async function ackRounds(member: TestMember, rounds: number): Promise<void> {
  for (let round = 0; round < rounds && member.held.size > 0; round++) {
    const results = await member.answer(member.heldRecords(), 'ack');
    expect(results.filter((r) => r.error)).toEqual([]);
    await harness!.settle();
  }
}

describe('QueueCoordinator: the stored batches a window holds for its deliveries', () => {
  it('sends deliveries from the batches read when the window filled: the log is not read again per delivery', async () => {
    const { logs } = await setUp(1);
    const member = await harness!.join('g', ['orders'], { inFlightLimit: 4 });
    await harness!.settle();
    const readsAfterFill = logs[0]!.readCount;
    expect(readsAfterFill).toBeGreaterThan(0);
    await ackRounds(member, 100);
    expect(member.received.map((r) => r.value)).toEqual(Array.from({ length: BATCHES * RECORDS_PER_BATCH }, (_, i) => valueOf(0, i)));
    // 13 deliveries after the fill; before the window held batches, each read the log.
    expect(logs[0]!.readCount).toBe(readsAfterFill);
    expect(harness!.coordinator.heldBatchBytes()).toBe(0);
  });

  it('holds at most its bound per partition; deliveries of batches it did not hold read the log and carry the right records', async () => {
    const probe = await setUp(1);
    await harness!.coordinator.close();
    const perPartition = 2 * probe.batchBytes;
    const { logs } = await setUp(1, { perPartition, perServer: 1024 * 1024 });
    const member = await harness!.join('g', ['orders'], { inFlightLimit: 7 });
    await harness!.settle();
    expect(harness!.coordinator.heldBatchBytes()).toBe(perPartition);
    const readsAfterFill = logs[0]!.readCount;
    await ackRounds(member, 100);
    expect(member.received.map((r) => r.value)).toEqual(Array.from({ length: BATCHES * RECORDS_PER_BATCH }, (_, i) => valueOf(0, i)));
    expect(logs[0]!.readCount).toBeGreaterThan(readsAfterFill);
    expect(harness!.coordinator.heldBatchBytes()).toBe(0);
  });

  it('holds at most the server bound over all partitions and groups', async () => {
    const probe = await setUp(1);
    await harness!.coordinator.close();
    const perServer = 3 * probe.batchBytes;
    await setUp(3, { perPartition: 1024 * 1024, perServer });
    const a = await harness!.join('a', ['orders'], { inFlightLimit: 20 });
    const b = await harness!.join('b', ['orders'], { inFlightLimit: 20 });
    await harness!.settle();
    expect(harness!.coordinator.heldBatchBytes()).toBe(perServer);
    await ackRounds(a, 100);
    await ackRounds(b, 100);
    for (const member of [a, b]) {
      const values = member.received.map((r) => r.value).sort();
      const expected = [0, 1, 2].flatMap((p) => Array.from({ length: BATCHES * RECORDS_PER_BATCH }, (_, i) => valueOf(p, i))).sort();
      expect(values).toEqual(expected);
    }
  });

  it('lets a batch go once every record of it is done, though the start offset stays below it', async () => {
    const { batchBytes } = await setUp(1);
    const member = await harness!.join('g', ['orders'], { inFlightLimit: 30 });
    await harness!.settle();
    expect(harness!.coordinator.heldBatchBytes()).toBe(BATCHES * batchBytes);
    // Offset 0 stays unanswered: the start offset stays at 0.
    const second = member.heldRecords().filter((r) => r.offset >= RECORDS_PER_BATCH && r.offset < 2 * RECORDS_PER_BATCH);
    await member.answer(second.slice(0, -1), 'ack');
    expect(harness!.coordinator.heldBatchBytes()).toBe(BATCHES * batchBytes);
    await member.answer(second.slice(-1), 'ack');
    expect(harness!.coordinator.heldBatchBytes()).toBe((BATCHES - 1) * batchBytes);
  });

  it('redelivers a released record from the held batch, and a record whose batch was let go (group stopped) from the log, with the right bytes', async () => {
    const { logs } = await setUp(1);
    const member = await harness!.join('g', ['orders'], { inFlightLimit: 3, config: { backoffBaseMs: 10, backoffJitter: 0 } });
    await harness!.settle();
    const first = member.heldRecords();
    const reads = logs[0]!.readCount;
    await member.answer(first, 'release');
    const redelivered = () => member.received.filter((r) => r.deliveryCount === 2);
    await harness!.advanceUntil(() => redelivered().length === first.length, 'the released records come back');
    expect(redelivered().map((r) => [r.offset, r.value])).toEqual(first.map((r) => [r.offset, r.value]));
    expect(logs[0]!.readCount).toBe(reads);

    // A restart drops every window: they are read again, and the records come back after their locks expire.
    const held = member.heldRecords();
    await harness!.restart();
    expect(harness!.coordinator.heldBatchBytes()).toBe(0);
    const again = await harness!.join('g', ['orders'], { inFlightLimit: 100 });
    await harness!.advanceUntil(() => held.every((h) => again.received.some((r) => r.offset === h.offset)), 'the held records come back after their locks', 1_000);
    expect(new Set(again.received.map((r) => r.offset)).size).toBe(BATCHES * RECORDS_PER_BATCH);
    for (const record of again.received) expect(record.value).toBe(valueOf(0, record.offset));
  });

  it('lets every held byte go when the group is deleted', async () => {
    await setUp(2);
    const member = await harness!.join('g', ['orders'], { inFlightLimit: 5 });
    await harness!.settle();
    expect(harness!.coordinator.heldBatchBytes()).toBeGreaterThan(0);
    await harness!.coordinator.leave(member.memberId);
    await harness!.coordinator.deleteGroup('g');
    expect(harness!.coordinator.heldBatchBytes()).toBe(0);
  });
});
