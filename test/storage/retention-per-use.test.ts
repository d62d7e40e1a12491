import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, PartitionOverflowError } from '../../src/core/errors.js';
import type { ConsumptionProgress, ConsumptionReader } from '../../src/storage/consumption-progress.js';
import type { LogManager } from '../../src/storage/log-manager.js';
import { CONSUMPTION_CACHE_MS } from '../../src/storage/partition-overflow.js';
import { DROP_LOG_INTERVAL_MS } from '../../src/storage/unconsumed-removals.js';
import { makeBatch } from '../helpers/batches.js';
import { capturingLogger, type LogLine } from '../helpers/capturing-logger.js';
import { useLogManagerFixture } from '../helpers/log-manager-fixture.js';
import { rejection } from '../helpers/rejection.js';

/** A port the test sets by hand: topic -> readers (the same for every partition). */
function fakeProgress(): ConsumptionProgress & { readers: Map<string, ConsumptionReader[]>; calls: number } {
  const readers = new Map<string, ConsumptionReader[]>();
  const progress = {
    readers,
    calls: 0,
    readersOf(topic: string): ConsumptionReader[] {
      progress.calls++;
      return readers.get(topic) ?? [];
    },
  };
  return progress;
}

describe('retention per use', () => {
  const fixture = useLogManagerFixture('strata-retention-per-use-');
  const { open, append } = fixture;

  /** 20 records of ~150 bytes in 1 KiB segments: several closed segments and an active one. */
  async function fill(manager: LogManager, topic: string, count = 20): Promise<void> {
    for (let i = 0; i < count; i++) await append(manager, topic, 0, `r${i}`, 1, 150);
  }

  describe('retention.after.ack', () => {
    it('deletes the closed segments every reader consumed, at the next run, never the active one', async () => {
      const manager = await open();
      const progress = fakeProgress();
      manager.setConsumptionProgress(progress);
      await manager.createTopic('tasks', 1, { 'segment.bytes': '1024', 'retention.ms': '-1', 'retention.after.ack': 'true' });
      await fill(manager, 'tasks');
      const before = manager.describeTopic('tasks').partitions[0]!;
      expect(before.segmentCount).toBeGreaterThan(3);

      progress.readers.set('tasks', [{ kind: 'queue', groupId: 'workers', consumedBeforeOffset: 20 }]);
      await manager.runRetention();
      const after = manager.describeTopic('tasks').partitions[0]!;
      expect(after.segmentCount).toBe(1);
      expect(after.logStartOffset).toBeGreaterThan(0);
      expect(after.logEndOffset).toBe(20);
    });

    it('keeps what the slowest reader has not consumed: a consumer group without a commit keeps everything', async () => {
      const manager = await open();
      const progress = fakeProgress();
      manager.setConsumptionProgress(progress);
      await manager.createTopic('tasks', 1, { 'segment.bytes': '1024', 'retention.ms': '-1', 'retention.after.ack': 'true' });
      await fill(manager, 'tasks');
      const segmentCount = manager.describeTopic('tasks').partitions[0]!.segmentCount;
      progress.readers.set('tasks', [
        { kind: 'queue', groupId: 'workers', consumedBeforeOffset: 20 },
        { kind: 'consumer', groupId: 'audit', consumedBeforeOffset: 0 },
      ]);
      await manager.runRetention();
      expect(manager.describeTopic('tasks').partitions[0]).toMatchObject({ logStartOffset: 0, segmentCount });

      // The audit group commits half way: the segments wholly below its commit go.
      progress.readers.set('tasks', [
        { kind: 'queue', groupId: 'workers', consumedBeforeOffset: 20 },
        { kind: 'consumer', groupId: 'audit', consumedBeforeOffset: 10 },
      ]);
      await manager.runRetention();
      const after = manager.describeTopic('tasks').partitions[0]!;
      expect(after.logStartOffset).toBeGreaterThan(0);
      expect(after.logStartOffset).toBeLessThanOrEqual(10);
      expect(after.segmentCount).toBeLessThan(segmentCount);
    });

    it('keeps everything on a topic no group reads, and on a topic without the key', async () => {
      const manager = await open();
      const progress = fakeProgress();
      manager.setConsumptionProgress(progress);
      await manager.createTopic('unread', 1, { 'segment.bytes': '1024', 'retention.ms': '-1', 'retention.after.ack': 'true' });
      await manager.createTopic('plain', 1, { 'segment.bytes': '1024', 'retention.ms': '-1' });
      await fill(manager, 'unread');
      await fill(manager, 'plain');
      progress.readers.set('plain', [{ kind: 'queue', groupId: 'workers', consumedBeforeOffset: 20 }]);
      await manager.runRetention();
      expect(manager.describeTopic('unread').partitions[0]!.logStartOffset).toBe(0);
      expect(manager.describeTopic('plain').partitions[0]!.logStartOffset).toBe(0);
    });
  });

  describe('records time or size retention removes unconsumed', () => {
    it('are counted per group, topic and partition, and logged once per run per group', async () => {
      const lines: LogLine[] = [];
      const manager = await open({ logger: capturingLogger(lines) });
      const progress = fakeProgress();
      manager.setConsumptionProgress(progress);
      await manager.createTopic('events', 1, { 'segment.bytes': '1024', 'retention.bytes': '0' });
      await fill(manager, 'events');
      progress.readers.set('events', [
        { kind: 'consumer', groupId: 'slow', consumedBeforeOffset: 3 },
        { kind: 'queue', groupId: 'caught-up', consumedBeforeOffset: 20 },
      ]);
      await manager.runRetention();
      const logStartOffset = manager.describeTopic('events').partitions[0]!.logStartOffset;
      expect(logStartOffset).toBeGreaterThan(3);
      expect(manager.unconsumedRemovedRecords()).toEqual([{ kind: 'consumer', groupId: 'slow', topic: 'events', partition: 0, records: logStartOffset - 3 }]);
      const warnings = lines.filter((line) => line.groupId === 'slow');
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatchObject({ level: 40, groupKind: 'consumer', records: logStartOffset - 3, removed: [{ topic: 'events', partition: 0, records: logStartOffset - 3 }], causes: ['retention'] });
      expect(lines.filter((line) => line.groupId === 'caught-up')).toHaveLength(0);

      // A run that removes nothing more logs nothing more; the count stays.
      await manager.runRetention();
      expect(lines.filter((line) => line.groupId === 'slow')).toHaveLength(1);
      expect(manager.unconsumedRemovedRecords()[0]!.records).toBe(logStartOffset - 3);

      // A deleted topic's counters go with it.
      await manager.deleteTopic('events');
      expect(manager.unconsumedRemovedRecords()).toEqual([]);
    });
  });

  describe('max.unconsumed.* with overflow=reject', () => {
    it('refuses a produce that would pass max.unconsumed.records, whole, and takes it once a group consumes', async () => {
      const manager = await open();
      const progress = fakeProgress();
      manager.setConsumptionProgress(progress);
      await manager.createTopic('jobs', 1, { 'max.unconsumed.records': '10', overflow: 'reject' });
      progress.readers.set('jobs', [{ kind: 'queue', groupId: 'workers', consumedBeforeOffset: 0 }]);
      await append(manager, 'jobs', 0, 'a', 8);
      const refused = await rejection(append(manager, 'jobs', 0, 'b', 3));
      expect(refused).toBeInstanceOf(PartitionOverflowError);
      expect(refused).toMatchObject({ code: 'PARTITION_OVERFLOW', retriable: true });
      expect((refused as Error).message).toMatch(/8 unconsumed records/);
      expect(manager.partition('jobs', 0).logEndOffset).toBe(8);
      await append(manager, 'jobs', 0, 'c', 2);
      expect(manager.partition('jobs', 0).logEndOffset).toBe(10);

      // The group consumes 5: a fresh look at its progress makes room at once (no wait for the cache).
      progress.readers.set('jobs', [{ kind: 'queue', groupId: 'workers', consumedBeforeOffset: 5 }]);
      await append(manager, 'jobs', 0, 'd', 5);
      expect(manager.partition('jobs', 0).logEndOffset).toBe(15);
      expect(await rejection(append(manager, 'jobs', 0, 'e', 1))).toBeInstanceOf(PartitionOverflowError);
    });

    it('counts the whole log when no group reads the topic, and refuses a batch larger than the max on its own as not retriable', async () => {
      const manager = await open();
      manager.setConsumptionProgress(fakeProgress());
      await manager.createTopic('jobs', 1, { 'max.unconsumed.records': '4', overflow: 'reject' });
      await append(manager, 'jobs', 0, 'a', 4);
      expect(await rejection(append(manager, 'jobs', 0, 'b', 1))).toBeInstanceOf(PartitionOverflowError);
      const tooLarge = await rejection(append(manager, 'jobs', 0, 'c', 5));
      expect(tooLarge).toBeInstanceOf(InvalidArgumentError);
      expect((tooLarge as Error).message).toMatch(/can never be accepted/);
      expect(manager.partition('jobs', 0).logEndOffset).toBe(4);
    });

    it('bounds unconsumed bytes in whole batches', async () => {
      const manager = await open();
      manager.setConsumptionProgress(fakeProgress());
      const batchBytes = makeBatch('x0', 1, { valueBytes: 500, timestampMs: fixture.clock.nowMs() }).length;
      await manager.createTopic('jobs', 1, { 'max.unconsumed.bytes': String(3 * batchBytes), overflow: 'reject' });
      for (let i = 0; i < 3; i++) await append(manager, 'jobs', 0, `x${i}`, 1, 500);
      expect(await rejection(append(manager, 'jobs', 0, 'x3', 1, 500))).toBeInstanceOf(PartitionOverflowError);
      expect(manager.partition('jobs', 0).sizeBytes).toBe(3 * batchBytes);
    });

    it('counts appends queued behind a write, so concurrent produces cannot all pass the check', async () => {
      const manager = await open();
      manager.setConsumptionProgress(fakeProgress());
      await manager.createTopic('jobs', 1, { 'max.unconsumed.records': '10', overflow: 'reject' });
      const outcomes = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => append(manager, 'jobs', 0, `p${i}`, 2)));
      const accepted = outcomes.filter((o) => o.status === 'fulfilled').length;
      // One write may be under way uncounted (documented slack): at most its appends pass the max.
      expect(manager.partition('jobs', 0).logEndOffset).toBe(2 * accepted);
      expect(accepted).toBeLessThan(10);
      for (const outcome of outcomes) if (outcome.status === 'rejected') expect(outcome.reason).toBeInstanceOf(PartitionOverflowError);
    });

    it('asks the groups at most once per CONSUMPTION_CACHE_MS while the partition is far from its max', async () => {
      const manager = await open();
      const progress = fakeProgress();
      manager.setConsumptionProgress(progress);
      await manager.createTopic('jobs', 1, { 'max.unconsumed.records': '1000', overflow: 'reject' });
      for (let i = 0; i < 20; i++) await append(manager, 'jobs', 0, `a${i}`);
      expect(progress.calls).toBe(1);
      fixture.clock.advance(CONSUMPTION_CACHE_MS);
      await append(manager, 'jobs', 0, 'b');
      expect(progress.calls).toBe(2);
    });
  });

  describe('max.unconsumed.* with overflow=drop-oldest', () => {
    it('moves the log start after an append so unconsumed records stay within the max, counting what each group loses', async () => {
      const lines: LogLine[] = [];
      const manager = await open({ logger: capturingLogger(lines) });
      const progress = fakeProgress();
      manager.setConsumptionProgress(progress);
      await manager.createTopic('latest', 1, { 'max.unconsumed.records': '10', overflow: 'drop-oldest' });
      progress.readers.set('latest', [
        { kind: 'queue', groupId: 'workers', consumedBeforeOffset: 0 },
        { kind: 'consumer', groupId: 'fast', consumedBeforeOffset: 6 },
      ]);
      for (let i = 0; i < 4; i++) await append(manager, 'latest', 0, `a${i}`, 3);
      const log = manager.partition('latest', 0);
      // 12 records, 10 kept: the oldest 2 went, inside the (only) segment.
      expect({ logStartOffset: log.logStartOffset, logEndOffset: log.logEndOffset }).toEqual({ logStartOffset: 2, logEndOffset: 12 });
      expect(manager.unconsumedRemovedRecords()).toEqual([{ kind: 'queue', groupId: 'workers', topic: 'latest', partition: 0, records: 2 }]);

      await append(manager, 'latest', 0, 'b', 5);
      expect(log.logStartOffset).toBe(7);
      expect(manager.unconsumedRemovedRecords()).toEqual([
        { kind: 'consumer', groupId: 'fast', topic: 'latest', partition: 0, records: 1 },
        { kind: 'queue', groupId: 'workers', topic: 'latest', partition: 0, records: 7 },
      ]);

      // The warning lines come within DROP_LOG_INTERVAL_MS, one per group.
      expect(lines.filter((line) => line.groupId !== undefined)).toHaveLength(0);
      fixture.clock.advance(DROP_LOG_INTERVAL_MS);
      const warnings = lines.filter((line) => line.groupId !== undefined);
      expect(warnings.map((line) => [line.groupId, line.records, line.causes])).toEqual([
        ['workers', 7, ['drop-oldest']],
        ['fast', 1, ['drop-oldest']],
      ]);
    });

    it('drops nothing while the groups keep up, and caps the log when no group reads the topic', async () => {
      const manager = await open();
      const progress = fakeProgress();
      manager.setConsumptionProgress(progress);
      await manager.createTopic('kept', 1, { 'max.unconsumed.records': '5', overflow: 'drop-oldest' });
      await manager.createTopic('unread', 1, { 'max.unconsumed.records': '5', overflow: 'drop-oldest' });
      for (let i = 0; i < 10; i++) {
        progress.readers.set('kept', [{ kind: 'queue', groupId: 'workers', consumedBeforeOffset: 2 * i }]);
        await append(manager, 'kept', 0, `k${i}`, 2);
        await append(manager, 'unread', 0, `u${i}`, 2);
      }
      expect(manager.partition('kept', 0).logStartOffset).toBe(0);
      expect(manager.partition('unread', 0)).toMatchObject({ logStartOffset: 15, logEndOffset: 20 });
      expect(manager.unconsumedRemovedRecords()).toEqual([]);
      expect((await manager.partition('unread', 0).read(15, 1 << 20)).nextOffset).toBe(20);
    });

    it('keeps unconsumed bytes within max.unconsumed.bytes in whole batches, across segments', async () => {
      const manager = await open();
      manager.setConsumptionProgress(fakeProgress());
      const batchBytes = makeBatch('x00', 1, { valueBytes: 150, timestampMs: fixture.clock.nowMs() }).length;
      await manager.createTopic('bytes', 1, { 'segment.bytes': '1024', 'index.interval.bytes': '0', 'max.unconsumed.bytes': String(4 * batchBytes), overflow: 'drop-oldest' });
      for (let i = 10; i < 40; i++) await append(manager, 'bytes', 0, `x${i}`, 1, 150);
      const log = manager.partition('bytes', 0);
      expect(log.logEndOffset).toBe(30);
      expect(log.logStartOffset).toBe(26);
      expect(log.overflow.unconsumed(true)).toMatchObject({ startOffset: 26, records: 4, bytes: 4 * batchBytes });
    });
  });
});
