import { readdir } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { BatchTooLargeError, CorruptBatchError, OffsetOutOfRangeError, TooManyPendingAppendsError } from '../../src/core/errors.js';
import { MAX_PENDING_APPENDS_PER_PARTITION } from '../../src/core/limits.js';
import { NodeFileSystem } from '../../src/storage/node-file-system.js';
import type { PartitionLog } from '../../src/storage/partition-log.js';
import { decodeAll, makeBatch } from '../helpers/batches.js';
import { eventually } from '../helpers/eventually.js';
import { FaultyFileSystem, ioError } from '../helpers/faulty-file-system.js';
import { openLog, readAllBatches } from '../helpers/open-log.js';
import { makeTempDir } from '../helpers/temp-dir.js';

describe('PartitionLog', () => {
  let dir: { path: string; remove: () => Promise<void> };
  const logs: PartitionLog[] = [];
  const track = (log: PartitionLog) => (logs.push(log), log);

  beforeEach(async () => {
    dir = await makeTempDir();
  });
  afterEach(async () => {
    await Promise.all(logs.splice(0).map((l) => l.close()));
    await dir.remove();
  });

  it('assigns contiguous offsets and reads back every record in order', async () => {
    const log = track(await openLog(dir.path));
    const results = [];
    for (let i = 0; i < 20; i++) results.push(await log.append(makeBatch(`b${i}`, 3)));
    expect(results.map((r) => r.baseOffset)).toEqual(Array.from({ length: 20 }, (_, i) => i * 3));
    expect(results.every((r) => r.durability === 'durable')).toBe(true);
    expect(log.logEndOffset).toBe(60);
    expect(log.highWatermark).toBe(60);
    const records = decodeAll(await readAllBatches(log));
    expect(records.map((r) => r.offset)).toEqual(Array.from({ length: 60 }, (_, i) => i));
    expect(records[4]!.value).toBe('b1#1');
  });

  it('rolls segments at segment.bytes and finds every offset across many rolls', async () => {
    const log = track(await openLog(dir.path, { config: { 'segment.bytes': '2048', 'index.interval.bytes': '256' } }));
    for (let i = 0; i < 200; i++) await log.append(makeBatch(`b${i}`, 1 + (i % 4), { valueBytes: 20 }));
    expect(log.segmentCount).toBeGreaterThan(10);
    const files = (await readdir(dir.path)).filter((n) => n.endsWith('.log'));
    expect(files.length).toBe(log.segmentCount);
    expect(files[0]).toBe('00000000000000000000.log');
    const all = decodeAll(await readAllBatches(log));
    expect(all.map((r) => r.offset)).toEqual(Array.from({ length: log.logEndOffset }, (_, i) => i));
    // Every single offset, read on its own: the first batch returned must hold it.
    for (let offset = 0; offset < log.logEndOffset; offset++) {
      const { batches } = await log.read(offset, 1);
      const records = decodeAll(batches);
      expect(records.some((r) => r.offset === offset), `offset ${offset}`).toBe(true);
      expect(records[0]!.offset).toBeLessThanOrEqual(offset);
    }
  });

  it('reads across segment boundaries within maxBytes, at least one whole batch', async () => {
    const log = track(await openLog(dir.path, { config: { 'segment.bytes': '1024' } }));
    for (let i = 0; i < 30; i++) await log.append(makeBatch(`b${i}`, 2, { valueBytes: 50 }));
    const first = await log.read(0, 1);
    expect(decodeAll(first.batches).length).toBe(2);
    expect(first.nextOffset).toBe(2);
    const big = await log.read(0, 10_000);
    expect(big.batches.length).toBeLessThanOrEqual(10_000);
    expect(big.nextOffset).toBeGreaterThan(2);
  });

  it('keeps everything across a clean close and reopen, and continues the offsets', async () => {
    const config = { 'segment.bytes': '4096' };
    const first = await openLog(dir.path, { config });
    for (let i = 0; i < 50; i++) await first.append(makeBatch(`a${i}`, 2));
    await first.close();
    const second = track(await openLog(dir.path, { config, isCleanShutdown: true }));
    expect(second.logEndOffset).toBe(100);
    expect((await second.append(makeBatch('after', 1))).baseOffset).toBe(100);
    const records = decodeAll(await readAllBatches(second));
    expect(records.length).toBe(101);
    expect(records.at(-1)!.value).toBe('after#0');
  });

  it('rejects offsets outside [logStartOffset, logEndOffset] with the range in the error', async () => {
    const log = track(await openLog(dir.path));
    await log.append(makeBatch('x', 5));
    await expect(log.read(6, 100)).rejects.toBeInstanceOf(OffsetOutOfRangeError);
    await expect(log.read(-1, 100)).rejects.toThrow(/\[0, 5\]/);
    await expect(log.read(1.5, 100)).rejects.toBeInstanceOf(OffsetOutOfRangeError);
    expect((await log.read(5, 100)).batches.length).toBe(0);
  });

  it('rejects a bad batch whole and changes nothing', async () => {
    const log = track(await openLog(dir.path, { config: { 'max.message.bytes': '2000' } }));
    await log.append(makeBatch('ok', 1));
    const corrupt = makeBatch('bad', 2);
    corrupt[corrupt.length - 1]! ^= 0xff;
    const good = makeBatch('good', 1);
    await expect(log.append(Buffer.concat([good, corrupt]))).rejects.toBeInstanceOf(CorruptBatchError);
    await expect(log.append(makeBatch('huge', 1, { valueBytes: 5000 }))).rejects.toBeInstanceOf(BatchTooLargeError);
    await expect(log.append(makeBatch('cut', 2).subarray(0, 40))).rejects.toBeInstanceOf(CorruptBatchError);
    // Garbage reads as an absurd length field; it is still corrupt, not too large (its magic is not 2).
    await expect(log.append(Buffer.from('garbage that is not a batch at all, not even close....................'))).rejects.toBeInstanceOf(CorruptBatchError);
    expect(log.logEndOffset).toBe(1);
    expect((await log.append(makeBatch('next', 1))).baseOffset).toBe(1);
  });

  it('group-commits concurrent appends into far fewer fsyncs than appends', async () => {
    const fs = new FaultyFileSystem();
    const log = track(await openLog(dir.path, { fs }));
    const before = fs.datasyncCount;
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => log.append(makeBatch(`c${i}`, 1))));
    const offsets = results.map((r) => r.baseOffset).sort((a, b) => a - b);
    expect(offsets).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect(fs.datasyncCount - before).toBeLessThan(20);
  });

  it('under flush: interval acknowledges written appends and fsyncs on the timer', async () => {
    const fs = new FaultyFileSystem();
    const clock = new ManualClock(1_700_000_000_000);
    const log = track(await openLog(dir.path, { fs, clock, config: { flush: 'interval', 'flush.ms': '1000' } }));
    const before = fs.datasyncCount;
    expect(fs.datasyncDoneCount).toBe(before);
    const result = await log.append(makeBatch('w', 1));
    expect(result.durability).toBe('written');
    expect(log.highWatermark).toBe(1);
    expect(fs.datasyncCount).toBe(before);
    clock.advance(1000);
    await eventually(() => fs.datasyncDoneCount > before, { what: 'the timer fsync' });
    // That fsync covered everything: a flush finds nothing left to sync.
    await log.flush();
    expect(fs.datasyncCount).toBe(before + 1);
    const durable = await log.append(makeBatch('d', 1), { ackLevel: 'durable' });
    expect(durable.durability).toBe('durable');
    expect(fs.datasyncCount).toBe(before + 2);
  });

  it('runs one fdatasync of a segment at a time: an fsync that missed a writeback error never acknowledges durable', async () => {
    // Linux tells a writeback error to the first fdatasync of the file that checks after it; a second
    // fdatasync running at the same time, checking later, returns 0. Model: each call checks the error
    // after `checkMs` and returns `returnMs` later (delays of the model, in real time).
    let writebackFailed = false;
    const plan = [
      { checkMs: 10, returnMs: 40 },
      { checkMs: 15, returnMs: 0 },
    ];
    let calls = 0;
    let inFlight = 0;
    let maxInFlight = 0;
    const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
    const fs = new FaultyFileSystem();
    fs.aroundDatasync = async (path, datasync) => {
      if (!path.endsWith('.log')) return datasync();
      const { checkMs, returnMs } = plan[calls++] ?? { checkMs: 0, returnMs: 0 };
      maxInFlight = Math.max(maxInFlight, ++inFlight);
      try {
        await sleep(checkMs);
        const failed = writebackFailed;
        writebackFailed = false;
        await sleep(returnMs);
        if (failed) throw ioError('writeback');
        await datasync();
      } finally {
        inFlight--;
      }
    };
    const clock = new ManualClock(1_700_000_000_000);
    const log = track(await openLog(dir.path, { fs, clock, config: { flush: 'interval', 'flush.ms': '1000' } }));
    await log.append(makeBatch('w', 1));
    writebackFailed = true; // the page of offset 0 fails to reach the disk; the next fdatasync to check is told
    clock.advance(1000);
    // The timer's fdatasync has started (it checks 10 ms after): the durable append's comes second.
    await eventually(() => calls === 1, { what: "the timer's fdatasync to start", intervalMs: 1 });
    const durable = await log.append(makeBatch('d', 1), { ackLevel: 'durable' }).then(
      (result) => result.durability,
      (error: Error) => error.name,
    );
    expect(durable).toBe('StorageFailedError');
    expect(log.isFailed).toBe(true);
    expect(maxInFlight).toBe(1);
  });

  it('deletes whole closed segments by retention.ms and never the active one', async () => {
    const clock = new ManualClock(1_700_000_000_000);
    const log = track(await openLog(dir.path, { clock, config: { 'segment.bytes': '1024', 'retention.ms': '60000' } }));
    for (let i = 0; i < 40; i++) await log.append(makeBatch(`old${i}`, 1, { timestampMs: clock.nowMs(), valueBytes: 100 }));
    const segmentsBefore = log.segmentCount;
    clock.advance(30_000);
    expect((await log.applyRetention(clock.nowMs())).deletedSegments).toBe(0);
    clock.advance(31_000);
    for (let i = 0; i < 3; i++) await log.append(makeBatch(`new${i}`, 1, { timestampMs: clock.nowMs(), valueBytes: 100 }));
    const { deletedSegments } = await log.applyRetention(clock.nowMs());
    expect(deletedSegments).toBeGreaterThan(0);
    expect(log.segmentCount).toBeLessThan(segmentsBefore);
    expect(log.logStartOffset).toBeGreaterThan(0);
    await expect(log.read(0, 100)).rejects.toThrow(OffsetOutOfRangeError);
    const remaining = decodeAll(await readAllBatches(log));
    expect(remaining[0]!.offset).toBe(log.logStartOffset);
    expect(remaining.at(-1)!.value.startsWith('new2#0')).toBe(true);
    // Everything expired: all closed segments go, the active one stays.
    clock.advance(10 * 60_000);
    await log.applyRetention(clock.nowMs());
    expect(log.segmentCount).toBe(1);
  });

  it('deletes the oldest segments by retention.bytes', async () => {
    const log = track(await openLog(dir.path, { config: { 'segment.bytes': '1024', 'retention.bytes': '3000' } }));
    for (let i = 0; i < 60; i++) await log.append(makeBatch(`s${i}`, 1, { valueBytes: 100 }));
    // Record timestamps are 1_700_000_000_000: retention.ms (7 days) does not expire them then.
    await log.applyRetention(1_700_000_000_000);
    // Whole segments go while what is left stays at or above retention.bytes.
    expect(log.sizeBytes).toBeGreaterThanOrEqual(3000);
    expect(log.sizeBytes).toBeLessThan(3000 + 1024);
    const records = decodeAll(await readAllBatches(log));
    expect(records.at(-1)!.value.startsWith('s59#0')).toBe(true);
    expect(records[0]!.offset).toBe(log.logStartOffset);
  });

  it('refuses an append past the bound of appends waiting in a partition (TOO_MANY_PENDING_APPENDS), changing nothing, and takes more once they drain', async () => {
    const fs = new FaultyFileSystem();
    let openGate!: () => void;
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    // Every fsync waits: under flush=always the appends are written but wait for durability.
    fs.aroundDatasync = async (_path, datasync) => {
      await gate;
      await datasync();
    };
    const log = track(await openLog(dir.path, { fs, config: { flush: 'always' } }));
    const batch = makeBatch('p', 1);
    const waiting = Array.from({ length: MAX_PENDING_APPENDS_PER_PARTITION }, () => log.append(Buffer.from(batch)));
    await expect(log.append(Buffer.from(batch))).rejects.toBeInstanceOf(TooManyPendingAppendsError);
    openGate();
    const results = await Promise.all(waiting);
    expect(results.at(-1)).toMatchObject({ lastOffset: MAX_PENDING_APPENDS_PER_PARTITION - 1, durability: 'durable' });
    // The refused one took no offset.
    expect(await log.append(Buffer.from(batch))).toMatchObject({ baseOffset: MAX_PENDING_APPENDS_PER_PARTITION });
  }, 60_000);

  it('finds offsets by timestamp through the time index', async () => {
    const log = track(await openLog(dir.path, { config: { 'segment.bytes': '2048', 'index.interval.bytes': '200' } }));
    for (let i = 0; i < 100; i++) await log.append(makeBatch(`t${i}`, 1, { timestampMs: 1000 + i * 10 }));
    expect(await log.offsetForTimestamp(0)).toBe(0);
    expect(await log.offsetForTimestamp(1000)).toBe(0);
    expect(await log.offsetForTimestamp(1001)).toBe(1);
    expect(await log.offsetForTimestamp(1500)).toBe(50);
    expect(await log.offsetForTimestamp(1990)).toBe(99);
    expect(await log.offsetForTimestamp(1991)).toBeUndefined();
  });

  it('starts a reader at a time past the end at the end as the search began, so a record made visible during the search is not skipped', async () => {
    const fs = new FaultyFileSystem();
    const log = track(await openLog(dir.path, { fs, config: { flush: 'always' } }));
    await log.append(makeBatch('old', 1, { timestampMs: 1_000 }));
    let openSyncGate!: () => void;
    const syncGate = new Promise<void>((resolve) => (openSyncGate = resolve));
    fs.aroundDatasync = async (_path, datasync) => {
      await syncGate;
      await datasync();
    };
    // Written, not yet durable: invisible to the search, which only reads what is durable.
    const appended = log.append(makeBatch('new', 1, { timestampMs: 2_000 }));
    await eventually(() => log.sizeBytes > 0 && fs.datasyncCount >= 2, { what: 'the second append to wait for its fsync' });
    let openReadGate!: () => void;
    const readGate = new Promise<void>((resolve) => (openReadGate = resolve));
    let searching!: () => void;
    const searchReads = new Promise<void>((resolve) => (searching = resolve));
    fs.aroundRead = async (_path, read) => {
      searching();
      await readGate;
      return read();
    };
    const start = log.startForTimestamp(2_000);
    await searchReads;
    // The record becomes visible while the search reads.
    openSyncGate();
    expect(await appended).toMatchObject({ baseOffset: 1 });
    expect(log.highWatermark).toBe(2);
    openReadGate();
    expect(await start).toEqual({ offset: 1, found: false });
    expect((await log.startForTimestamp(2_000))).toEqual({ offset: 1, found: true });
    expect((await log.startForTimestamp(3_000))).toEqual({ offset: 2, found: false });
  });

  it('wakes high-watermark listeners when appends become visible', async () => {
    const log = track(await openLog(dir.path));
    const seen: number[] = [];
    const unsubscribe = log.onHighWatermark((hw) => seen.push(hw));
    await log.append(makeBatch('a', 2));
    await log.append(makeBatch('b', 1));
    unsubscribe();
    await log.append(makeBatch('c', 1));
    expect(seen).toEqual([2, 3]);
  });

  it('closes cleanly when an append arrives in the same tick as close() (the writer restarts itself)', async () => {
    for (const flush of ['never', 'always'] as const) {
      const sub = await makeTempDir();
      // Every write after the first takes 50 ms, so a close that does not wait for it overlaps it.
      let writes = 0;
      const slowWrites = new (class extends NodeFileSystem {
        override async open(path: string, options: { create: boolean }) {
          const handle = await super.open(path, options);
          const writev = handle.writev.bind(handle);
          return Object.assign(handle, {
            writev: async (buffers: readonly Buffer[], position: number) => {
              if (path.endsWith('.log') && writes++ > 0) await new Promise((r) => setTimeout(r, 50));
              return writev(buffers, position);
            },
          });
        }
      })();
      const log = await openLog(sub.path, { config: { flush }, fs: slowWrites });
      let closing: Promise<void> | undefined;
      let second: Promise<unknown> | undefined;
      await log.append(makeBatch('a', 1)).then(() => {
        // An appender woken by this acknowledgement appends again; the server stops in the same tick.
        second = log.append(makeBatch('b', 1));
        closing = log.close();
      });
      await closing;
      // Accepted before close(): a clean close lets it finish, and writes it before the files close.
      await expect(second).resolves.toMatchObject({ baseOffset: 1 });
      expect(log.isFailed).toBe(false);
      const reopened = await openLog(sub.path, { config: { flush }, isCleanShutdown: true });
      expect(decodeAll(await readAllBatches(reopened)).map((r) => r.value)).toEqual(['a#0', 'b#0']);
      await reopened.close();
      await sub.remove();
    }
  });

  it('tailStartOffset starts a tail read at a batch at least the asked bytes before the end, across segments, or at the log start', async () => {
    const log = track(await openLog(dir.path, { config: { 'segment.bytes': '4096', 'index.interval.bytes': '256' } }));
    const sizes: number[] = [];
    for (let i = 0; i < 60; i++) {
      const batch = makeBatch(`b${i}`, 1, { valueBytes: 150 });
      sizes.push(batch.length);
      await log.append(batch);
    }
    expect(log.segmentCount).toBeGreaterThan(2);
    const totalBytes = sizes.reduce((a, b) => a + b, 0);
    for (const tailBytes of [1, 100, 700, 4000, 5000, 9000]) {
      const start = log.tailStartOffset(tailBytes);
      // One record a batch: offset n is batch n. The tail from `start` covers at least tailBytes...
      const tail = sizes.slice(start).reduce((a, b) => a + b, 0);
      expect(tail).toBeGreaterThanOrEqual(tailBytes);
      // ...and starts at most one index interval (plus a batch) earlier than it needs to.
      expect(tail - tailBytes).toBeLessThanOrEqual(256 + Math.max(...sizes));
    }
    expect(log.tailStartOffset(totalBytes + 1)).toBe(log.logStartOffset);
  });

  it('under flush=always, appends acknowledged as written are still fsynced soon, so readers (who see durable offsets only) get them', async () => {
    const log = track(await openLog(dir.path, { config: { flush: 'always' } }));
    const result = await log.append(makeBatch('w', 2), { ackLevel: 'written' });
    expect(result.durability).toBe('written');
    await eventually(() => log.highWatermark === 2, { what: 'the written appends fsynced' });
    expect((await log.read(0, 1 << 20)).batches.length).toBeGreaterThan(0);
  });
});

