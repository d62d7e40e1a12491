import { readdir, readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { InvalidArgumentError, OffsetOutOfRangeError } from '../../src/core/errors.js';
import { LOG_START_FILE_NAME } from '../../src/storage/log-start-file.js';
import type { PartitionLog } from '../../src/storage/partition-log.js';
import { decodeAll, makeBatch } from '../helpers/batches.js';
import { capturingLogger, type LogLine } from '../helpers/capturing-logger.js';
import { noSpaceError, FaultyFileSystem } from '../helpers/faulty-file-system.js';
import { KillableFileSystem } from '../helpers/killable-file-system.js';
import { openLog, readAllBatches } from '../helpers/open-log.js';
import { rejection as rejectionOf } from '../helpers/rejection.js';
import { makeTempDir } from '../helpers/temp-dir.js';

/** Small segments: 10 batches of 4 records (offsets 0..39) make several of them. */
const config = { 'segment.bytes': '1024', 'index.interval.bytes': '128' };

async function fill(log: PartitionLog, batchCount = 10, recordsPerBatch = 4, timestampMs?: (i: number) => number): Promise<void> {
  for (let i = 0; i < batchCount; i++) {
    await log.append(makeBatch(`b${i}`, recordsPerBatch, { valueBytes: 40, ...(timestampMs ? { timestampMs: timestampMs(i) } : {}) }));
  }
}

async function logFiles(directory: string): Promise<string[]> {
  return (await readdir(directory)).filter((n) => n.endsWith('.log'));
}

/** The offsets a reader starting at the log start is handed (records of the first batch below its start skipped, as clients do). */
async function readableOffsets(log: PartitionLog): Promise<number[]> {
  const from = log.logStartOffset;
  return decodeAll(await readAllBatches(log, from)).map((r) => r.offset).filter((o) => o >= from);
}

describe('PartitionLog.advanceLogStart', () => {
  let dir: { path: string; remove: () => Promise<void> };
  const logs: PartitionLog[] = [];
  const track = (log: PartitionLog) => (logs.push(log), log);

  beforeEach(async () => {
    dir = await makeTempDir();
  });
  afterEach(async () => {
    await Promise.all(logs.splice(0).map((l) => l.close().catch(() => undefined)));
    await dir.remove();
  });

  it('moves the start inside a segment: reads below it are out of range, reads from it see the rest', async () => {
    const log = track(await openLog(dir.path, { config }));
    await fill(log);
    const segmentsBefore = log.segmentCount;
    // Offset 6 lies inside the batch 4..7 of the first segment.
    expect(await log.advanceLogStart(6)).toEqual({ previousLogStartOffset: 0, logStartOffset: 6 });
    expect(log.logStartOffset).toBe(6);
    expect(log.segmentCount).toBe(segmentsBefore);
    const error = await rejectionOf(log.read(5, 1024));
    expect(error).toBeInstanceOf(OffsetOutOfRangeError);
    expect(error).toMatchObject({ requestedOffset: 5, logStartOffset: 6, logEndOffset: 40 });
    // The batch holding 6 comes whole (it starts at 4): the reader skips what lies below its offset.
    const first = await log.read(6, 1);
    expect(decodeAll(first.batches)[0]!.offset).toBe(4);
    expect(first.logStartOffset).toBe(6);
    expect(await readableOffsets(log)).toEqual(Array.from({ length: 34 }, (_, i) => i + 6));
    expect(log.tailStartOffset(1_000_000)).toBe(6);
  });

  it('deletes the segments wholly below the new start, keeps the one it lies in, and never the active one', async () => {
    const log = track(await openLog(dir.path, { config }));
    await fill(log);
    const before = await logFiles(dir.path);
    expect(before.length).toBeGreaterThan(3);
    const sizeBefore = log.sizeBytes;
    // Offset 30: the segments ending at or below 30 go; the one holding 30 stays.
    await log.advanceLogStart(30);
    const after = await logFiles(dir.path);
    const bases = after.map((n) => Number(n.slice(0, 20)));
    expect(bases[0]).toBeLessThanOrEqual(30);
    expect(after.length).toBeLessThan(before.length);
    expect(after.length).toBe(log.segmentCount);
    expect(log.sizeBytes).toBeLessThan(sizeBefore);
    expect(log.logStartOffset).toBe(30);
    expect(await readableOffsets(log)).toEqual(Array.from({ length: 10 }, (_, i) => i + 30));
  });

  it('at the high watermark empties the log; appends go on at the end; the purged active segment goes once it has rolled', async () => {
    const clock = new ManualClock(1_700_000_000_000);
    const log = track(await openLog(dir.path, { config: { ...config, 'segment.ms': '60000' }, clock }));
    await fill(log);
    await log.advanceLogStart(40);
    expect(log.logStartOffset).toBe(40);
    expect(log.segmentCount).toBe(1); // the active one stays, though all its records are below the start
    expect(Number((await logFiles(dir.path))[0]!.slice(0, 20))).toBeLessThan(40);
    const empty = await log.read(40, 1024);
    expect(empty.batches.length).toBe(0);
    await expect(log.read(39, 1024)).rejects.toBeInstanceOf(OffsetOutOfRangeError);
    // segment.ms passes: the next append rolls first, so the purged segment is closed and wholly below.
    clock.advance(60_000);
    expect((await log.append(makeBatch('after', 2))).baseOffset).toBe(40);
    expect(await readableOffsets(log)).toEqual([40, 41]);
    expect(log.segmentCount).toBe(2);
    await log.applyRetention(clock.nowMs());
    expect(log.segmentCount).toBe(1);
    expect(await logFiles(dir.path)).toEqual(['00000000000000000040.log']);
    expect(log.logStartOffset).toBe(40);
  });

  it('never moves backwards, refuses past the high watermark with the valid range, and refuses nonsense; none of it changes anything', async () => {
    const log = track(await openLog(dir.path, { config }));
    await fill(log);
    await log.advanceLogStart(10);
    expect(await log.advanceLogStart(4)).toEqual({ previousLogStartOffset: 10, logStartOffset: 10 });
    expect(await log.advanceLogStart(10)).toEqual({ previousLogStartOffset: 10, logStartOffset: 10 });
    const past = await rejectionOf(log.advanceLogStart(41));
    expect(past).toBeInstanceOf(OffsetOutOfRangeError);
    expect(past).toMatchObject({ code: 'OFFSET_OUT_OF_RANGE', requestedOffset: 41, logStartOffset: 10, logEndOffset: 40 });
    for (const bad of [-1, 1.5, Number.NaN]) expect(await rejectionOf(log.advanceLogStart(bad))).toBeInstanceOf(InvalidArgumentError);
    expect(log.logStartOffset).toBe(10);
    expect((await readFile(join(dir.path, LOG_START_FILE_NAME), 'utf8')).trim()).toBe('10');
  });

  it('under flush=always the limit is the high watermark, not what is written but not yet fsynced', async () => {
    const fs = new FaultyFileSystem();
    const log = track(await openLog(dir.path, { config, fs }));
    await fill(log, 2);
    let releaseSync: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (releaseSync = resolve));
    fs.aroundDatasync = async (_path, datasync) => {
      await held;
      await datasync();
    };
    const pending = log.append(makeBatch('slow', 4));
    await expect.poll(() => log.logEndOffset).toBe(12);
    expect(log.highWatermark).toBe(8);
    expect(await rejectionOf(log.advanceLogStart(12))).toMatchObject({ logEndOffset: 8 });
    releaseSync();
    await pending;
    fs.aroundDatasync = undefined;
    await log.advanceLogStart(12);
    expect(log.logStartOffset).toBe(12);
  });

  it('ListOffsets-style look-ups honour it: startForTimestamp and offsetForTimestamp never answer below the start', async () => {
    const log = track(await openLog(dir.path, { config }));
    // Batch i holds timestamps 1000 * i: the record at 0 is the first at or after time 0.
    await fill(log, 10, 4, (i) => 1000 * i);
    await log.advanceLogStart(6);
    expect(await log.offsetForTimestamp(0)).toBe(6);
    expect(await log.startForTimestamp(0)).toEqual({ offset: 6, found: true });
    expect(await log.startForTimestamp(3000)).toEqual({ offset: 12, found: true });
    await log.advanceLogStart(40);
    expect(await log.startForTimestamp(0)).toEqual({ offset: 40, found: false });
  });

  it('runs one purge at a time: concurrent calls end at the largest offset, answered in order', async () => {
    const log = track(await openLog(dir.path, { config }));
    await fill(log);
    const answers = await Promise.all([log.advanceLogStart(20), log.advanceLogStart(8), log.advanceLogStart(33)]);
    expect(answers).toEqual([
      { previousLogStartOffset: 0, logStartOffset: 20 },
      { previousLogStartOffset: 20, logStartOffset: 20 },
      { previousLogStartOffset: 20, logStartOffset: 33 },
    ]);
    expect((await readFile(join(dir.path, LOG_START_FILE_NAME), 'utf8')).trim()).toBe('33');
  });

  it('is persisted across a clean close and reopen, and across an unclean one', async () => {
    const first = await openLog(dir.path, { config });
    await fill(first);
    await first.advanceLogStart(13);
    await first.close();
    const second = await openLog(dir.path, { config, isCleanShutdown: true });
    expect(second.logStartOffset).toBe(13);
    await expect(second.read(12, 1024)).rejects.toBeInstanceOf(OffsetOutOfRangeError);
    await second.advanceLogStart(17);
    await second.close();
    const third = track(await openLog(dir.path, { config, isCleanShutdown: false }));
    expect(third.logStartOffset).toBe(17);
    expect(await readableOffsets(third)).toEqual(Array.from({ length: 23 }, (_, i) => i + 17));
  });

  it('survives a SIGKILL right after it answered', async () => {
    const fs = new KillableFileSystem();
    const log = await openLog(dir.path, { config, fs });
    await fill(log);
    await log.advanceLogStart(22);
    await fs.kill();
    await log.close().catch(() => undefined);
    const reopened = track(await openLog(dir.path, { config, fs: new KillableFileSystem() }));
    expect(reopened.logStartOffset).toBe(22);
    expect(await readableOffsets(reopened)).toEqual(Array.from({ length: 18 }, (_, i) => i + 22));
  });

  it('a SIGKILL after the log start file is written but before the segments below it are deleted: the reopen deletes them', async () => {
    const fs = new KillableFileSystem();
    const log = await openLog(dir.path, { config, fs });
    await fill(log);
    const filesBefore = await logFiles(dir.path);
    fs.beforeOperation = (what) => {
      // Dies as the log start file's write completes: nothing after it happens.
      if (what.startsWith(`writeFileAtomic ${join(dir.path, LOG_START_FILE_NAME)}`)) fs.killAt(1, { when: 'after' });
    };
    expect(await rejectionOf(log.advanceLogStart(30))).toMatchObject({ code: 'EKILLED' });
    expect(await logFiles(dir.path)).toEqual(filesBefore);
    await log.close().catch(() => undefined);
    const reopened = track(await openLog(dir.path, { config, fs: new KillableFileSystem() }));
    expect(reopened.logStartOffset).toBe(30);
    const after = await logFiles(dir.path);
    expect(after.length).toBeLessThan(filesBefore.length);
    expect(after.length).toBe(reopened.segmentCount);
    expect(await readableOffsets(reopened)).toEqual(Array.from({ length: 10 }, (_, i) => i + 30));
  });

  it('a SIGKILL before the log start file is written leaves the old start (the purge was not answered)', async () => {
    const fs = new KillableFileSystem();
    const log = await openLog(dir.path, { config, fs });
    await fill(log);
    await log.advanceLogStart(5);
    fs.beforeOperation = (what) => {
      if (what.startsWith(`writeFileAtomic ${join(dir.path, LOG_START_FILE_NAME)}`)) fs.killAt(1, { when: 'before' });
    };
    expect(await rejectionOf(log.advanceLogStart(30))).toMatchObject({ code: 'EKILLED' });
    await log.close().catch(() => undefined);
    const reopened = track(await openLog(dir.path, { config, fs: new KillableFileSystem() }));
    expect(reopened.logStartOffset).toBe(5);
    expect(await readableOffsets(reopened)).toEqual(Array.from({ length: 35 }, (_, i) => i + 5));
  });

  it('a stored start past the recovered log end (records lost with the page cache) is clamped, logged and rewritten', async () => {
    const fs = new KillableFileSystem();
    const log = await openLog(dir.path, { config: { flush: 'never' }, fs });
    await fill(log, 3); // offsets 0..11, written, never fsynced
    await log.advanceLogStart(12);
    await fs.kill();
    await log.close().catch(() => undefined);
    // A power loss: the unsynced records are gone, the fsynced log start file is not.
    const [segment] = await logFiles(dir.path);
    await truncate(join(dir.path, segment!), 0);
    const lines: LogLine[] = [];
    const reopened = track(await openLog(dir.path, { config: { flush: 'never' }, logger: capturingLogger(lines) }));
    expect(reopened.logEndOffset).toBe(0);
    expect(reopened.logStartOffset).toBe(0);
    expect(lines.some((l) => l.msg.includes('past the recovered log end') && l.storedLogStartOffset === 12 && l.logEndOffset === 0)).toBe(true);
    expect((await readFile(join(dir.path, LOG_START_FILE_NAME), 'utf8')).trim()).toBe('0');
    // New records at the reused offsets are readable, and stay so across a reopen.
    await reopened.append(makeBatch('new', 3));
    expect(await readableOffsets(reopened)).toEqual([0, 1, 2]);
  });

  it('a garbled log start file is ignored with a warning: nothing is hidden', async () => {
    const first = await openLog(dir.path, { config });
    await fill(first, 2);
    await first.close();
    await writeFile(join(dir.path, LOG_START_FILE_NAME), 'x7\n');
    const lines: LogLine[] = [];
    const log = track(await openLog(dir.path, { config, isCleanShutdown: true, logger: capturingLogger(lines) }));
    expect(log.logStartOffset).toBe(0);
    expect(lines.some((l) => l.msg.includes('garbled'))).toBe(true);
  });

  it('on a full disk, deletes the segments wholly below first and writes the log start file in the room that frees', async () => {
    const fs = new FaultyFileSystem();
    const log = track(await openLog(dir.path, { config, fs }));
    await fill(log);
    const filesBefore = await logFiles(dir.path);
    let refusals = 0;
    fs.failOperation = (operation, path) => {
      if (operation === 'writeFileAtomic' && path.endsWith(LOG_START_FILE_NAME) && refusals++ === 0) throw noSpaceError();
    };
    await log.advanceLogStart(30);
    expect(refusals).toBe(2);
    expect((await logFiles(dir.path)).length).toBeLessThan(filesBefore.length);
    expect(log.logStartOffset).toBe(30);
    expect((await readFile(join(dir.path, LOG_START_FILE_NAME), 'utf8')).trim()).toBe('30');
  });
});
