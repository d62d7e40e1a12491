import { describe, expect, it } from 'vitest';
import { call } from '../../src/client/admin.js';
import type { ConsumedRecord } from '../../src/client/consumed-record.js';
import { OFFSETS_TOPIC } from '../../src/core/internal-topics.js';
import { eventually } from '../helpers/eventually.js';
import { useInProcessServer } from '../helpers/in-process-server.js';
import { rejection } from '../helpers/rejection.js';

const quiet = { warn: () => undefined };

describe('PurgeRecords (Kafka DeleteRecords) over gRPC', () => {
  const fx = useInProcessServer();

  async function produce(topic: string, partition: number, count: number, label = 'v'): Promise<void> {
    const producer = fx.client.producer();
    try {
      // Batches of 5: a purge offset can fall inside one.
      for (let i = 0; i < count; i += 5) {
        await producer.sendBatch(topic, Array.from({ length: Math.min(5, count - i) }, (_, j) => ({ value: `${label}${i + j}`, partition })));
      }
    } finally {
      await producer.close();
    }
  }

  const starts = async (topic: string) => (await fx.client.admin.describeTopic(topic)).partitions.map((p) => p.logStartOffset);

  it('answers a dry run without changing anything, then purges: describe, ListOffsets earliest and reads follow the new start', async () => {
    const admin = fx.client.admin;
    await admin.createTopic('pr', { partitions: 2 });
    await produce('pr', 0, 20);
    await produce('pr', 1, 10);

    const plan = await admin.purgeRecords('pr', { before: { 0: 7, 1: 'all' }, validateOnly: true });
    expect(plan.validatedOnly).toBe(true);
    expect(plan.partitions).toEqual([
      { partition: 0, previousLogStartOffset: 0, logStartOffset: 7, purgedRecords: 7, highWatermark: 20 },
      { partition: 1, previousLogStartOffset: 0, logStartOffset: 10, purgedRecords: 10, highWatermark: 10 },
    ]);
    expect(await starts('pr')).toEqual([0, 0]);

    const done = await admin.purgeRecords('pr', { before: { 0: 7, 1: 'all' } });
    expect(done.validatedOnly).toBe(false);
    expect(done.partitions.map((p) => [p.partition, p.previousLogStartOffset, p.logStartOffset, p.purgedRecords])).toEqual([
      [0, 0, 7, 7],
      [1, 0, 10, 10],
    ]);
    expect(await starts('pr')).toEqual([7, 10]);
    expect((await admin.listOffsets('pr', 'earliest')).map((o) => o.offset)).toEqual([7, 10]);

    // A reader from the earliest offset gets 7.. (the batch 5..9 comes whole; the client skips 5 and 6).
    const records: ConsumedRecord[] = [];
    const controller = new AbortController();
    for await (const record of fx.client.consume('pr', { from: 'earliest', partitions: [0], signal: controller.signal })) {
      records.push(record);
      if (records.length === 13) controller.abort();
    }
    expect(records.map((r) => r.offset)).toEqual(Array.from({ length: 13 }, (_, i) => i + 7));

    // Below the start: OFFSET_OUT_OF_RANGE with the valid range, for Fetch and for Subscribe.
    const stub = fx.client.stubs.consume;
    const fetchError = await rejection(call(stub.fetch.bind(stub), { topic: 'pr', partition: 0, offset: 6, maxBytes: 1024 }));
    expect(fetchError.code).toBe('OFFSET_OUT_OF_RANGE');
    expect(fetchError.message).toMatch(/\[7, 20\]/);
    const subscribeError = await rejection((async () => {
      for await (const _ of fx.client.consume('pr', { startOffsets: { 0: 3 }, partitions: [0], shouldReconnect: false })) break;
    })());
    expect(subscribeError.code).toBe('OFFSET_OUT_OF_RANGE');

    // Never backwards: an offset at or below the start changes nothing, and says so.
    const again = await admin.purgeRecords('pr', { before: 3, partitions: [0] });
    expect(again.partitions).toEqual([{ partition: 0, previousLogStartOffset: 7, logStartOffset: 7, purgedRecords: 0, highWatermark: 20 }]);
  });

  it('refuses bad requests with typed errors and changes nothing, even for the partitions that were valid', async () => {
    const admin = fx.client.admin;
    await admin.createTopic('pr-bad', { partitions: 2 });
    await produce('pr-bad', 0, 10);
    await produce('pr-bad', 1, 10);

    // Partition 0 is fine, partition 1 asks past its end: neither moves.
    const past = await rejection(admin.purgeRecords('pr-bad', { before: { 0: 5, 1: 11 } }));
    expect(past.code).toBe('OFFSET_OUT_OF_RANGE');
    expect(past.message).toMatch(/offset 11 is outside the valid range \[0, 10\]/);
    expect(past.message).toMatch(/a purge of partition 1 of 'pr-bad' ends at most at its high watermark, 10$/);
    expect(past).toMatchObject({ requestedOffset: 11, logStartOffset: 0, logEndOffset: 10 });
    expect((await rejection(admin.purgeRecords('pr-bad', { before: 5, partitions: [0, 2] }))).code).toBe('PARTITION_NOT_FOUND');
    expect((await rejection(admin.purgeRecords('pr-missing', { before: 1, partitions: [0] }))).code).toBe('TOPIC_NOT_FOUND');
    expect((await rejection(admin.purgeRecords(OFFSETS_TOPIC, { before: 'all', partitions: [0] }))).code).toBe('INTERNAL_TOPIC');
    expect((await rejection(admin.purgeRecords('pr-bad', { before: -1 }))).code).toBe('INVALID_ARGUMENT');
    expect((await rejection(admin.purgeRecords('pr-bad', { before: 1, partitions: [] }))).code).toBe('INVALID_ARGUMENT');
    // Past the client's own checks: a partition named twice, and one without an end.
    const stub = fx.client.stubs.admin;
    const twice = await rejection(call(stub.purgeRecords.bind(stub), { topic: 'pr-bad', partitions: [{ partition: 0, beforeOffset: 2 }, { partition: 0, beforeOffset: 3 }] }));
    expect(twice.code).toBe('INVALID_ARGUMENT');
    const endless = await rejection(call(stub.purgeRecords.bind(stub), { topic: 'pr-bad', partitions: [{ partition: 0 }] }));
    expect(endless.code).toBe('INVALID_ARGUMENT');
    for (const beforeOffset of [-1, 2 ** 60]) {
      const wild = await rejection(call(stub.purgeRecords.bind(stub), { topic: 'pr-bad', partitions: [{ partition: 0, beforeOffset }] }));
      expect(wild.code).toBe('INVALID_ARGUMENT');
      expect(wild.message).toMatch(/partition 0: before_offset must be an integer >= 0/);
    }
    expect(await starts('pr-bad')).toEqual([0, 0]);
  });

  it('keeps the purge across a server restart', async () => {
    await fx.client.admin.createTopic('pr-restart', { partitions: 1 });
    await produce('pr-restart', 0, 12);
    await fx.client.admin.purgeRecords('pr-restart', { before: 8 });
    await fx.restart();
    expect(await starts('pr-restart')).toEqual([8]);
    await produce('pr-restart', 0, 1, 'after');
    const stub = fx.client.stubs.consume;
    expect((await rejection(call(stub.fetch.bind(stub), { topic: 'pr-restart', partition: 0, offset: 7, maxBytes: 1024 }))).code).toBe('OFFSET_OUT_OF_RANGE');
  });

  it('a consumer group whose committed offset falls below the start resets per its policy: earliest to the new start, latest to the end', async () => {
    const admin = fx.client.admin;
    await admin.createTopic('pr-group', { partitions: 1 });
    await produce('pr-group', 0, 10);
    // Two groups commit offset 4 (records 0..3 processed).
    for (const groupId of ['early', 'late']) await admin.resetOffsets(groupId, { topic: 'pr-group', to: { offset: 4 }, execute: true });
    await produce('pr-group', 0, 10, 'w'); // 10..19
    await admin.purgeRecords('pr-group', { before: 12 });
    // The lag counts from the log start, not from the commit below it.
    expect((await admin.describeGroup('early')).lag.map((l) => [l.committedOffset, l.lagRecords])).toEqual([[4, 8]]);

    const early = fx.client.consumer({ groupId: 'early', topics: ['pr-group'], fromBeginning: true, logger: quiet });
    const late = fx.client.consumer({ groupId: 'late', topics: ['pr-group'], fromBeginning: false, logger: quiet });
    const seen = { early: [] as number[], late: [] as number[] };
    const running = [
      early.process((r) => void seen.early.push(r.offset)),
      late.process((r) => void seen.late.push(r.offset)),
    ];
    try {
      await eventually(() => seen.early.length >= 8, { what: 'the earliest-reset member reading 12..19' });
      expect(seen.early).toEqual([12, 13, 14, 15, 16, 17, 18, 19]);
      // The latest-reset member starts at the end (20): it sees only records written after the reset.
      await eventually(async () => (await admin.describeGroup('late')).members.some((m) => m.assignment.length > 0), { what: 'the late member assigned' });
      await eventually(
        async () => {
          await produce('pr-group', 0, 1, 'new');
          return seen.late.length > 0;
        },
        { what: 'the latest-reset member reading a new record', intervalMs: 300 },
      );
      expect(seen.late.every((offset) => offset >= 20)).toBe(true);
      await early.commit();
      expect((await admin.describeGroup('early')).lag[0]!.committedOffset).toBeGreaterThanOrEqual(20);
    } finally {
      await Promise.all([early.close(), late.close()]);
      await Promise.allSettled(running);
    }
  });

  it('a live member reading a backlog below the new start: its subscription fails OFFSET_OUT_OF_RANGE and it goes on from the start, skipping nothing after it', async () => {
    const admin = fx.client.admin;
    await admin.createTopic('pr-live', { partitions: 1 });
    const producer = fx.client.producer();
    for (let i = 0; i < 3000; i += 100) {
      await producer.sendBatch('pr-live', Array.from({ length: 100 }, (_, j) => ({ value: `r${i + j}`.padEnd(1024, '.'), partition: 0 })));
    }
    await producer.close();
    let openGate: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    const offsets: number[] = [];
    // Small reads and buffer, so that the member is far behind the end when the purge comes.
    const member = fx.client.consumer({ groupId: 'pr-live', topics: ['pr-live'], fromBeginning: true, bufferRecords: 20, maxBytes: 16 * 1024, logger: quiet });
    const running = member.process(async (record) => {
      offsets.push(record.offset);
      await gate;
    });
    try {
      await eventually(() => offsets.length === 1, { what: 'the member holding record 0' });
      await admin.purgeRecords('pr-live', { before: 2500 });
      openGate();
      await eventually(() => offsets.at(-1) === 2999, { what: 'the member reaching the last record', timeoutMs: 30_000 });
      const jumps = offsets.flatMap((offset, i) => (i > 0 && offset !== offsets[i - 1]! + 1 ? [[offsets[i - 1], offset]] : []));
      // What was read before the purge is handed out, then one jump to the new start; nothing twice, nothing skipped after it.
      expect(jumps).toHaveLength(1);
      expect(jumps[0]![1]).toBe(2500);
      expect(jumps[0]![0]).toBeLessThan(2499);
      expect(offsets[0]).toBe(0);
    } finally {
      openGate();
      await member.close();
      await running.catch(() => undefined);
    }
  });

  it('a queue group continues from the new start: held records below it are let go, the rest are delivered once', async () => {
    const admin = fx.client.admin;
    await admin.createTopic('pr-queue', { partitions: 1 });
    await produce('pr-queue', 0, 20);
    const queue = fx.client.queue({ groupId: 'pr-q', topics: ['pr-queue'], inFlightLimit: 3 });
    const iterator = queue[Symbol.asyncIterator]();
    try {
      // Three records held (0..2), unanswered; then the log below 10 is purged.
      const held = [];
      for (let i = 0; i < 3; i++) held.push((await iterator.next()).value!);
      expect(held.map((m) => m.offset)).toEqual([0, 1, 2]);
      await admin.purgeRecords('pr-queue', { before: 10 });
      await eventually(async () => (await admin.describeQueueGroup('pr-q')).partitions[0]?.startOffset === 10, { what: 'the queue start at the log start' });
      // The records that are gone are no longer held: their answers are refused, and bring nothing back.
      const answers = await Promise.allSettled(held.map((m) => m.ack()));
      expect(answers.map((a) => (a.status === 'rejected' ? (a.reason as { code: string }).code : 'ok'))).toEqual(Array(3).fill('QUEUE_RECORD_NOT_ACQUIRED'));
      const offsets: number[] = [];
      while (offsets.length < 10) {
        const message = (await iterator.next()).value!;
        offsets.push(message.offset);
        await message.ack();
      }
      expect(offsets).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
    } finally {
      await queue.close();
    }
  });
});
