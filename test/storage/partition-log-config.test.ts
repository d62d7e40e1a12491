import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { BatchTooLargeError } from '../../src/core/errors.js';
import type { PartitionLog } from '../../src/storage/partition-log.js';
import { resolveTopicConfig, type TopicConfig } from '../../src/storage/topic-config.js';
import { decodeAll, makeBatch } from '../helpers/batches.js';
import { capturingLogger, type LogLine } from '../helpers/capturing-logger.js';
import { eventually } from '../helpers/eventually.js';
import { FaultyFileSystem } from '../helpers/faulty-file-system.js';
import { openLog, readAllBatches } from '../helpers/open-log.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const START_MS = 1_700_000_000_000;

/** PartitionLog.applyConfig: every key of a running partition changes without a reopen. */
describe('PartitionLog.applyConfig', () => {
  let dir: { path: string; remove: () => Promise<void> };
  const logs: PartitionLog[] = [];
  const track = (log: PartitionLog) => (logs.push(log), log);
  const config = (overrides: Record<string, string>): TopicConfig => resolveTopicConfig(overrides);

  beforeEach(async () => {
    dir = await makeTempDir();
  });
  afterEach(async () => {
    await Promise.all(logs.splice(0).map((l) => l.close()));
    await dir.remove();
  });

  it('max.message.bytes: a lowered limit refuses at the next append a batch that passed before; raised, it passes again', async () => {
    const log = track(await openLog(dir.path));
    const batch = () => makeBatch('big', 1, { valueBytes: 2000 });
    expect((await log.append(batch())).baseOffset).toBe(0);
    log.applyConfig(config({ 'max.message.bytes': '1024' }));
    await expect(log.append(batch())).rejects.toBeInstanceOf(BatchTooLargeError);
    expect(log.logEndOffset).toBe(1);
    log.applyConfig(config({ 'max.message.bytes': '4096' }));
    expect((await log.append(batch())).baseOffset).toBe(1);
  });

  it('segment.bytes: a lowered size rolls the active segment at the next append', async () => {
    const log = track(await openLog(dir.path));
    for (let i = 0; i < 10; i++) await log.append(makeBatch(`a${i}`, 1, { valueBytes: 200 }));
    expect(log.segmentCount).toBe(1);
    log.applyConfig(config({ 'segment.bytes': '1024' }));
    await log.append(makeBatch('after', 1, { valueBytes: 200 }));
    expect(log.segmentCount).toBe(2);
    expect(decodeAll(await readAllBatches(log)).map((r) => r.offset)).toEqual(Array.from({ length: 11 }, (_, i) => i));
  });

  it('segment.ms: a lowered age rolls the active segment at the next append', async () => {
    const clock = new ManualClock(START_MS);
    const log = track(await openLog(dir.path, { clock }));
    await log.append(makeBatch('a', 1));
    clock.advance(60 * 60_000);
    await log.append(makeBatch('b', 1));
    expect(log.segmentCount).toBe(1);
    log.applyConfig(config({ 'segment.ms': '60000' }));
    await log.append(makeBatch('c', 1));
    expect(log.segmentCount).toBe(2);
  });

  it('retention.bytes: lowered, the next retention run deletes the oldest closed segments', async () => {
    const clock = new ManualClock(START_MS);
    const log = track(await openLog(dir.path, { clock, config: { 'segment.bytes': '1024' } }));
    for (let i = 0; i < 40; i++) await log.append(makeBatch(`r${i}`, 1, { timestampMs: clock.nowMs(), valueBytes: 100 }));
    const segmentsBefore = log.segmentCount;
    expect(segmentsBefore).toBeGreaterThan(4);
    expect((await log.applyRetention(clock.nowMs())).deletedSegments).toBe(0);
    log.applyConfig(config({ 'segment.bytes': '1024', 'retention.bytes': '2048' }));
    const { deletedSegments } = await log.applyRetention(clock.nowMs());
    expect(deletedSegments).toBeGreaterThan(0);
    expect(log.segmentCount).toBe(segmentsBefore - deletedSegments);
    expect(log.logStartOffset).toBeGreaterThan(0);
  });

  it('retention.ms: lowered, the next retention run deletes segments older than the new limit', async () => {
    const clock = new ManualClock(START_MS);
    const log = track(await openLog(dir.path, { clock, config: { 'segment.bytes': '1024' } }));
    for (let i = 0; i < 20; i++) await log.append(makeBatch(`r${i}`, 1, { timestampMs: clock.nowMs(), valueBytes: 100 }));
    clock.advance(10 * 60_000);
    await log.append(makeBatch('new', 1, { timestampMs: clock.nowMs(), valueBytes: 100 }));
    expect((await log.applyRetention(clock.nowMs())).deletedSegments).toBe(0);
    log.applyConfig(config({ 'segment.bytes': '1024', 'retention.ms': '60000' }));
    expect((await log.applyRetention(clock.nowMs())).deletedSegments).toBeGreaterThan(0);
    expect(log.logStartOffset).toBeGreaterThan(0);
  });

  it('index.interval.bytes: segments created after the change index at the new interval, the one open keeps its own', async () => {
    const log = track(await openLog(dir.path, { config: { 'segment.bytes': '1024', 'index.interval.bytes': '0' } }));
    log.applyConfig(config({ 'segment.bytes': '1024', 'index.interval.bytes': '100000' }));
    for (let i = 0; i < 30; i++) await log.append(makeBatch(`i${i}`, 1, { valueBytes: 100 }));
    expect(log.segmentCount).toBeGreaterThan(3);
    // Closed segments' offset indexes are on disk (8 bytes an entry): every batch in the first, at most one in the later ones.
    const indexes = (await readdir(dir.path)).filter((name) => name.endsWith('.index')).sort();
    const sizes = await Promise.all(indexes.slice(0, -1).map(async (name) => (await stat(join(dir.path, name))).size));
    expect(sizes[0]).toBeGreaterThanOrEqual(3 * 8);
    expect(sizes.slice(1).every((size) => size <= 8)).toBe(true);
    // Whatever the interval, every offset is still found (the index is sparse, then a scan).
    for (let offset = 0; offset < log.logEndOffset; offset++) {
      expect(decodeAll((await log.read(offset, 1)).batches).some((r) => r.offset === offset)).toBe(true);
    }
  });

  describe('flush', () => {
    /** A file system whose .log fsyncs wait until `release()` (to see what readers see meanwhile). */
    function gatedFileSystem() {
      const fs = new FaultyFileSystem();
      let gate: Promise<void> | undefined;
      let open: (() => void) | undefined;
      fs.aroundDatasync = async (path, datasync) => {
        if (path.endsWith('.log') && gate) await gate;
        await datasync();
      };
      return {
        fs,
        hold: () => void (gate = new Promise<void>((resolve) => (open = resolve))),
        release: () => {
          gate = undefined;
          open?.();
        },
      };
    }

    it('interval -> always: later appends are acknowledged durable, and what readers saw stays visible until the fsync', async () => {
      const { fs, hold, release } = gatedFileSystem();
      const clock = new ManualClock(START_MS);
      const log = track(await openLog(dir.path, { fs, clock, config: { flush: 'interval', 'flush.ms': '60000' } }));
      for (let i = 0; i < 3; i++) expect((await log.append(makeBatch(`w${i}`, 1))).durability).toBe('written');
      expect(log.highWatermark).toBe(3);
      hold();
      try {
        await switchWhileFsyncHeld(log, release);
      } finally {
        release(); // a failed expectation must not leave the close waiting for the held fsync
      }
    });

    async function switchWhileFsyncHeld(log: PartitionLog, release: () => void): Promise<void> {
      const notified: number[] = [];
      log.onHighWatermark((hw) => notified.push(hw));
      log.applyConfig(config({ flush: 'always' }));
      // Records 0-2 were seen under `interval`: the switch does not take them back while their fsync runs.
      expect(log.highWatermark).toBe(3);
      expect(decodeAll(await readAllBatches(log)).map((r) => r.value)).toEqual(['w0#0', 'w1#0', 'w2#0']);
      let durability: string | undefined;
      const appended = log.append(makeBatch('d', 1)).then((r) => (durability = r.durability));
      await eventually(() => log.logEndOffset === 4, { what: 'the append to be written' });
      // Written, not yet durable: not acknowledged, and not visible under `always`.
      expect(durability).toBeUndefined();
      expect(log.highWatermark).toBe(3);
      expect((await log.read(3, 1024)).batches.length).toBe(0);
      release();
      await appended;
      expect(durability).toBe('durable');
      expect(log.highWatermark).toBe(4);
      expect(notified.at(-1)).toBe(4);
      expect(notified.every((hw, i) => i === 0 || hw > notified[i - 1]!)).toBe(true);
    }

    it('always -> interval: appends are acknowledged written and the flush.ms timer fsyncs them', async () => {
      const fs = new FaultyFileSystem();
      const clock = new ManualClock(START_MS);
      const log = track(await openLog(dir.path, { fs, clock }));
      expect((await log.append(makeBatch('d', 1))).durability).toBe('durable');
      log.applyConfig(config({ flush: 'interval', 'flush.ms': '500' }));
      const before = fs.datasyncDoneCount;
      expect((await log.append(makeBatch('w', 1))).durability).toBe('written');
      expect(log.highWatermark).toBe(2);
      expect(fs.datasyncDoneCount).toBe(before);
      clock.advance(500);
      await eventually(() => fs.datasyncDoneCount > before, { what: 'the timer fsync at the new flush.ms' });
    });

    it('flush.ms: the timer follows a new interval at once, and interval -> never stops it', async () => {
      const fs = new FaultyFileSystem();
      const clock = new ManualClock(START_MS);
      const log = track(await openLog(dir.path, { fs, clock, config: { flush: 'interval', 'flush.ms': '3600000' } }));
      await log.append(makeBatch('w', 1));
      const before = fs.datasyncDoneCount;
      log.applyConfig(config({ flush: 'interval', 'flush.ms': '100' }));
      clock.advance(100);
      await eventually(() => fs.datasyncDoneCount > before, { what: 'the timer fsync at the shorter flush.ms' });

      log.applyConfig(config({ flush: 'never' }));
      await log.append(makeBatch('n', 1));
      const afterNever = fs.datasyncCount;
      clock.advance(3_600_000);
      // Give a wrongly armed timer's fsync a chance to start: the flush.ms fsync is queued at once.
      await new Promise((resolve) => setImmediate(resolve));
      expect(fs.datasyncCount).toBe(afterNever);
    });
  });

  it('tells onConfigChange listeners the new and the previous config, until they unsubscribe', async () => {
    const log = track(await openLog(dir.path));
    const seen: Array<[number, number]> = [];
    const unsubscribe = log.onConfigChange((next, previous) => seen.push([next.retentionMs, previous.retentionMs]));
    const first = config({ 'retention.ms': '1000' });
    log.applyConfig(first);
    log.applyConfig(first); // the same object: nothing changed, nobody told
    expect(log.config).toBe(first);
    unsubscribe();
    log.applyConfig(config({ 'retention.ms': '2000' }));
    expect(seen).toEqual([[1000, 7 * 24 * 60 * 60 * 1000]]);
    expect(log.config.retentionMs).toBe(2000);
  });

  it('tells every listener even when one throws (the change is committed by then), and logs the failure', async () => {
    const lines: LogLine[] = [];
    const log = track(await openLog(dir.path, { logger: capturingLogger(lines) }));
    const told: string[] = [];
    log.onConfigChange(() => {
      throw new Error('listener bug');
    });
    log.onConfigChange((next) => told.push(next.flushPolicy));
    expect(() => log.applyConfig(config({ flush: 'never' }))).not.toThrow();
    expect(told).toEqual(['never']);
    expect(log.config.flushPolicy).toBe('never');
    expect(lines.filter((line) => line.msg === 'a config change listener failed')).toHaveLength(1);
  });
});
