import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger, type Logger } from '../../src/core/logger.js';
import { encodeRecordBatch } from '../../src/format/record-batch-codec.js';
import { LogManager } from '../../src/storage/log-manager.js';
import type { PartitionLog } from '../../src/storage/partition-log.js';
import { COMPACT_AT_SEGMENTS, STATE_LOG_BATCH_TARGET_BYTES, STATE_LOG_MAX_BATCH_BYTES, StateLog, type StateLogEntry } from '../../src/storage/state-log.js';
import type { StateLogPort } from '../../src/storage/state-log-port.js';
import { capturingLogger, type LogLine } from '../helpers/capturing-logger.js';
import { FaultyFileSystem, noSpaceError } from '../helpers/faulty-file-system.js';
import { readAllBatches } from '../helpers/open-log.js';
import { eventually } from '../helpers/eventually.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const TOPIC = '__test_state';

/** The values of the tests: adds to a key's sum, or (written by compaction) sets it. */
type Value = { type: 'add'; key: string; n: number; pad?: string } | { type: 'set'; key: string; sum: number };

function parse(text: string, key: string | null): Value | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 'not JSON';
  }
  const v = value as Record<string, unknown>;
  if (typeof value !== 'object' || value === null || typeof v.key !== 'string' || v.key !== key) return 'not a test value';
  if (v.type === 'add' && typeof v.n === 'number') return value as Value;
  if (v.type === 'set' && typeof v.sum === 'number') return value as Value;
  return 'unknown type';
}

function openStateLog(logs: StateLogPort, options: { partitionCount?: number; segmentBytes?: number; logger?: Logger } = {}): Promise<StateLog<Value>> {
  return StateLog.open<Value>(logs, {
    topic: TOPIC,
    partitionCount: options.partitionCount ?? 4,
    segmentBytes: options.segmentBytes ?? 1024 * 1024,
    parse,
    nowMs: () => 1_000,
    logger: options.logger ?? silentLogger,
    damageMeaning: 'the sums of the keys it holds are unknown',
  });
}

/** The state the tests keep in memory: each key's sum, applied when an append resolves and at replay. */
class Sums {
  readonly sums = new Map<string, number>();
  apply = (value: Value): void => {
    this.sums.set(value.key, value.type === 'set' ? value.sum : (this.sums.get(value.key) ?? 0) + value.n);
  };
  /** The snapshot source: one 'set' per key of the partition. */
  source(log: StateLog<Value>): (partition: number) => Array<StateLogEntry<Value>> {
    return (partition) =>
      [...this.sums]
        .filter(([key]) => log.partitionOf(key) === partition)
        .map(([key, sum]) => ({ key, values: [{ type: 'set' as const, key, sum }] }));
  }
  /** Appends, then applies once durable, as an owner does. */
  async add(log: StateLog<Value>, key: string, ns: number[], pad?: string): Promise<void> {
    const values = ns.map((n) => ({ type: 'add' as const, key, n, ...(pad ? { pad } : {}) }));
    await log.append(key, values);
    for (const value of values) this.apply(value);
  }
}

describe('StateLog', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let logs: LogManager;
  let fs: FaultyFileSystem;
  beforeEach(async () => {
    dir = await makeTempDir('strata-state-log-');
    fs = new FaultyFileSystem();
    logs = await LogManager.open({ dataDir: dir.path, logger: silentLogger, fs });
  });
  afterEach(async () => {
    await logs.close();
    await dir.remove();
  });

  async function reopen(): Promise<{ log: StateLog<Value>; sums: Sums; replay: Awaited<ReturnType<StateLog<Value>['replay']>> }> {
    await logs.close();
    logs = await LogManager.open({ dataDir: dir.path, logger: silentLogger });
    const log = await openStateLog(logs);
    const sums = new Sums();
    const replay = await log.replay(sums.apply);
    return { log, sums, replay };
  }

  it('creates its topic flush=always, kept forever, and replays what was written, in order per key, after a reopen', async () => {
    const log = await openStateLog(logs);
    expect(logs.describeTopic(TOPIC)).toMatchObject({ partitionCount: 4, configOverrides: { flush: 'always', 'retention.ms': '-1', 'max.message.bytes': String(STATE_LOG_MAX_BATCH_BYTES) } });
    expect((await log.replay(() => undefined)).replayed).toBe(0);
    const sums = new Sums();
    const keys = ['a', 'b', 'c', 'd', 'e', 'f'];
    await Promise.all(keys.flatMap((key, k) => [1, 2, 3].map((i) => sums.add(log, key, [k * 10 + i, 1]))));
    await log.close();
    await logs.close();
    logs = await LogManager.open({ dataDir: dir.path, logger: silentLogger });
    const again = await openStateLog(logs);
    const replayed = new Sums();
    const byKey = new Map<string, number[]>();
    const result = await again.replay((value) => {
      replayed.apply(value);
      if (value.type === 'add') byKey.set(value.key, [...(byKey.get(value.key) ?? []), value.n]);
    });
    expect(result).toEqual({ replayed: 36, skipped: 0, damagedPartitions: new Map() });
    expect(replayed.sums).toEqual(sums.sums);
    // Each key's values in the order appended (the concurrent appends of one key queue in call order).
    keys.forEach((key, k) => expect(byKey.get(key)).toEqual([k * 10 + 1, 1, k * 10 + 2, 1, k * 10 + 3, 1]));
    await again.close();
  });

  it('shares one fsync among the appends that queued while a write ran (group commit), one partition at a time', async () => {
    const log = await openStateLog(logs);
    await log.replay(() => undefined);
    const partition = log.partitionOf('k0');
    const keys = Array.from({ length: 400 }, (_, i) => `k${i}`).filter((key) => log.partitionOf(key) === partition);
    expect(keys.length).toBeGreaterThan(50);
    const fsyncedPaths: string[] = [];
    fs.beforeDatasync = (path) => fsyncedPaths.push(path);
    const sums = new Sums();
    await Promise.all(keys.map((key) => sums.add(log, key, [1])));
    const partitionDir = join(dir.path, TOPIC, String(partition));
    // The first append finds no write running and goes alone; all the others queued behind it and
    // share the second write (handed to the log while the first waits for its fsync, so the log may
    // write both before one fsync): at most two fsyncs, where one write per append would take keys.length.
    const fsyncs = fsyncedPaths.filter((path) => path.startsWith(partitionDir)).length;
    expect(fsyncs).toBeGreaterThanOrEqual(1);
    expect(fsyncs).toBeLessThanOrEqual(2);
    expect(sums.sums.size).toBe(keys.length);
    const { sums: replayed } = await reopen();
    expect(replayed.sums).toEqual(sums.sums);
  });

  it('hands the next write to the log while the one before waits for its fsync, and resolves appends in the order made', async () => {
    const log = await openStateLog(logs);
    await log.replay(() => undefined);
    const partition = log.partitionOf('a');
    const partitionDir = join(dir.path, TOPIC, String(partition));
    let releaseFsync: (() => void) | undefined;
    const fsyncHeld = new Promise<void>((resolve) => {
      fs.aroundDatasync = async (path, datasync) => {
        if (path.startsWith(partitionDir) && releaseFsync === undefined) {
          await new Promise<void>((release) => {
            releaseFsync = release;
            resolve();
          });
        }
        return datasync();
      };
    });
    const writevPaths: string[] = [];
    fs.beforeWritev = (path) => writevPaths.push(path);
    const sums = new Sums();
    const order: number[] = [];
    const first = sums.add(log, 'a', [1]).then(() => order.push(1));
    await fsyncHeld;
    const writesBefore = writevPaths.filter((path) => path.startsWith(partitionDir)).length;
    const second = sums.add(log, 'a', [2]).then(() => order.push(2));
    // Written while the first write's fsync is held (one write at a time would wait for it).
    await eventually(() => writevPaths.filter((path) => path.startsWith(partitionDir)).length > writesBefore, { what: 'the second write written during the first fsync' });
    expect(order).toEqual([]);
    releaseFsync!();
    await Promise.all([first, second]);
    expect(order).toEqual([1, 2]);
    const { sums: replayed } = await reopen();
    expect(replayed.sums.get('a')).toBe(3);
  });

  it('fails only the appends of a write that fails (nothing applied), and the next write lands', async () => {
    const log = await openStateLog(logs);
    await log.replay(() => undefined);
    const sums = new Sums();
    await sums.add(log, 'a', [1]);
    let failWrites = 1;
    fs.aroundWritev = async (path, buffers, position, writev) => {
      if (path.includes(TOPIC) && failWrites-- > 0) throw noSpaceError();
      return writev(buffers, position);
    };
    // One write holds the two appends queued together: both fail with the disk's error.
    const failed = [sums.add(log, 'a', [10]), sums.add(log, 'a', [100])];
    await expect(failed[0]).rejects.toMatchObject({ code: 'STORAGE_FAILED' });
    await expect(failed[1]).rejects.toMatchObject({ code: 'STORAGE_FAILED' });
    expect(sums.sums.get('a')).toBe(1);
    await sums.add(log, 'a', [1_000]);
    expect(sums.sums.get('a')).toBe(1_001);
    const { sums: replayed } = await reopen();
    expect(replayed.sums.get('a')).toBe(1_001);
  });

  it('compacts by snapshot: the state survives, and the partition stays within a few segments however much is appended', async () => {
    const log = await openStateLog(logs, { segmentBytes: 4096 });
    await log.replay(() => undefined);
    const sums = new Sums();
    log.setSnapshotSource(sums.source(log));
    const keys = ['a', 'b', 'c', 'd', 'e'];
    const partitions = new Set(keys.map((key) => log.partitionOf(key)));
    let maxSegments = 0;
    for (let i = 1; i <= 1_500; i++) {
      await sums.add(log, keys[i % keys.length]!, [i]);
      for (const p of partitions) maxSegments = Math.max(maxSegments, logs.partition(TOPIC, p).segmentCount);
    }
    // Without compaction, 1,500 records of ~110 bytes would fill about 40 segments of 4 KiB.
    expect(maxSegments).toBeLessThanOrEqual(COMPACT_AT_SEGMENTS + 1);
    for (const p of partitions) expect(logs.partition(TOPIC, p).logStartOffset).toBeGreaterThan(0);
    await log.close();
    const { sums: replayed, replay } = await reopen();
    expect(replayed.sums).toEqual(sums.sums);
    expect(replay.replayed).toBeLessThan(300);
  }, 60_000);

  it('splits a snapshot larger than a batch over several batches, and keeps an append in one batch', async () => {
    const log = await openStateLog(logs, { segmentBytes: 1024 * 1024 });
    await log.replay(() => undefined);
    const sums = new Sums();
    // A source with values of ~200 KiB each: one key's snapshot (4 values) is over the batch target.
    const pad = 'x'.repeat(200 * 1024);
    log.setSnapshotSource((partition) =>
      [...sums.sums]
        .filter(([key]) => log.partitionOf(key) === partition)
        .map(([key, sum]) => ({ key, values: [...[1, 2, 3].map(() => ({ type: 'add' as const, key, n: 0, pad })), { type: 'set' as const, key, sum }] })),
    );
    const batchSizes: number[] = [];
    const partition = log.partitionOf('a');
    const partitionLog = logs.partition(TOPIC, partition);
    for (let i = 1; partitionLog.segmentCount < COMPACT_AT_SEGMENTS || partitionLog.logStartOffset === 0; i++) {
      expect(i).toBeLessThan(100);
      await sums.add(log, 'a', [i], pad);
    }
    await expect(log.append('a', [{ type: 'add', key: 'a', n: 1, pad: 'y'.repeat(STATE_LOG_MAX_BATCH_BYTES) }])).rejects.toMatchObject({ code: 'BATCH_TOO_LARGE' });
    // Waits for the compaction that may still run after the last append resolved.
    await log.close();
    // Every batch of the partition: within the batch limit; the snapshot's past the target were split.
    const batches = await readAllBatches(partitionLog as PartitionLog);
    for (let position = 0; position < batches.length; position += 12 + batches.readInt32BE(position + 8)) batchSizes.push(12 + batches.readInt32BE(position + 8));
    expect(Math.max(...batchSizes)).toBeLessThanOrEqual(STATE_LOG_BATCH_TARGET_BYTES);
    const { sums: replayed } = await reopen();
    expect(replayed.sums).toEqual(sums.sums);
  }, 60_000);

  it('reports a damaged partition at replay and refuses its appends with DATA_LOSS; the other partitions work', async () => {
    const log = await openStateLog(logs);
    await log.replay(() => undefined);
    const sums = new Sums();
    const [damagedKey, healthyKey] = ['a', 'b'];
    expect(log.partitionOf(damagedKey)).not.toBe(log.partitionOf(healthyKey));
    await sums.add(log, damagedKey, [1]);
    await sums.add(log, damagedKey, [2]);
    await sums.add(log, healthyKey, [3]);
    await log.close();
    await logs.close();
    // The second batch's base offset, outside the CRC: a header the startup walk refuses.
    const segment = join(dir.path, TOPIC, String(log.partitionOf(damagedKey)), '00000000000000000000.log');
    const bytes = readFileSync(segment);
    bytes[12 + bytes.readInt32BE(8) + 7]! ^= 0x40;
    writeFileSync(segment, bytes);
    logs = await LogManager.open({ dataDir: dir.path, logger: silentLogger });
    const lines: LogLine[] = [];
    const again = await openStateLog(logs, { logger: capturingLogger(lines, 'error') });
    const replayed = new Sums();
    const { damagedPartitions } = await again.replay(replayed.apply);
    expect([...damagedPartitions.keys()]).toEqual([log.partitionOf(damagedKey)]);
    expect(again.damageOf(log.partitionOf(damagedKey))).toMatchObject({ code: 'DATA_LOSS' });
    expect(lines).toEqual([expect.objectContaining({ msg: `DATA LOSS in ${TOPIC}: the sums of the keys it holds are unknown`, partition: log.partitionOf(damagedKey) })]);
    await expect(replayed.add(again, damagedKey, [5])).rejects.toMatchObject({ code: 'DATA_LOSS' });
    expect(replayed.sums.get(healthyKey)).toBe(3);
    await replayed.add(again, healthyKey, [4]);
    expect(replayed.sums.get(healthyKey)).toBe(7);
    await again.close();
  });

  it('skips records it did not write (undecodable batches, values that do not parse), counts them and says so once', async () => {
    const log = await openStateLog(logs);
    await log.replay(() => undefined);
    const sums = new Sums();
    await sums.add(log, 'a', [5]);
    const partition = logs.partition(TOPIC, log.partitionOf('a'));
    const values = ['not JSON', '{"type":"add","key":"a"}', '[1,2]', 'null', '{"type":"add","key":"b","n":1}', '{"type":"mul","key":"a","n":2}'];
    await partition.append(encodeRecordBatch(values.map((value) => ({ key: 'a', value }))));
    await partition.append(encodeRecordBatch([{ key: 'a', value: null }]));
    await sums.add(log, 'a', [6]);
    await log.close();
    await logs.close();
    logs = await LogManager.open({ dataDir: dir.path, logger: silentLogger });
    const lines: LogLine[] = [];
    const again = await openStateLog(logs, { logger: capturingLogger(lines) });
    const replayed = new Sums();
    const result = await again.replay(replayed.apply);
    expect(replayed.sums.get('a')).toBe(11);
    expect(result).toMatchObject({ replayed: 2, skipped: values.length });
    expect(lines).toEqual([expect.objectContaining({ msg: `records of ${TOPIC} that are not its state records were skipped`, skipped: values.length, firstSkipReason: expect.stringContaining('not JSON') })]);
    await again.close();
  });

  it('refuses appends past its queue bound while a write runs (TOO_MANY_PENDING_APPENDS, retriable), and takes them again once it drained', async () => {
    let releaseWrites!: () => void;
    const writesReleased = new Promise<void>((resolve) => (releaseWrites = resolve));
    // The log manager, whose appends wait until released (a slow fsync).
    const port: StateLogPort = {
      listTopics: () => logs.listTopics(),
      createTopic: (name, partitionCount, config) => logs.createTopic(name, partitionCount, config),
      partitionCount: (topic) => logs.partitionCount(topic),
      partition: (topic, partition) => {
        const log = logs.partition(topic, partition);
        return Object.assign(Object.create(log) as PartitionLog, {
          append: async (batch: Buffer, options: { ackLevel: 'durable' }) => {
            await writesReleased;
            return log.append(batch, options);
          },
        });
      },
    };
    const log = await StateLog.open<Value>(port, { topic: TOPIC, partitionCount: 1, segmentBytes: 1024 * 1024, parse, nowMs: () => 1_000, logger: silentLogger, damageMeaning: '', maxQueuedBytes: 2_000 });
    const sums = new Sums();
    // The first append is being written; the next ones queue, up to 2,000 bytes (values of ~140 bytes).
    const accepted = [sums.add(log, 'a', [1])];
    let refused: unknown;
    for (let i = 0; i < 100 && refused === undefined; i++) {
      const append = sums.add(log, 'a', [1], 'x'.repeat(64));
      const outcome = await Promise.race([append.then(() => 'resolved', (error: unknown) => error), new Promise((resolve) => setImmediate(() => resolve('queued')))]);
      if (outcome === 'queued') accepted.push(append);
      else refused = outcome;
    }
    expect(refused).toMatchObject({ code: 'TOO_MANY_PENDING_APPENDS', retriable: true });
    expect(accepted.length).toBeGreaterThan(5);
    releaseWrites();
    await Promise.all(accepted);
    expect(sums.sums.get('a')).toBe(accepted.length);
    await sums.add(log, 'a', [1]);
    await log.close();
  });

  it('an owner that applies on append: a key has one write in flight at a time, and after a failed write its later appends are refused unwritten', async () => {
    const log = await StateLog.open<Value>(logs, { topic: TOPIC, partitionCount: 1, segmentBytes: 1024 * 1024, parse, nowMs: () => 1_000, logger: silentLogger, damageMeaning: '', isAppliedOnAppend: true });
    await log.replay(() => undefined);
    const partitionDir = join(dir.path, TOPIC, '0');
    let releaseFsync: (() => void) | undefined;
    let failFsync = false;
    const fsyncHeld = new Promise<void>((resolve) => {
      fs.aroundDatasync = async (path, datasync) => {
        if (path.startsWith(partitionDir) && releaseFsync === undefined) {
          await new Promise<void>((release) => {
            releaseFsync = release;
            resolve();
          });
          if (failFsync) throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
        }
        return datasync();
      };
    });
    const written: string[] = [];
    fs.aroundWritev = async (path, buffers, position, writev) => {
      if (path.startsWith(partitionDir)) written.push(Buffer.concat(buffers).toString('latin1'));
      return writev(buffers, position);
    };
    const outcome = (append: Promise<void>) => append.then(() => 'resolved', (error: { code?: string }) => `rejected ${error.code}`);
    const g1 = outcome(log.append('g', [{ type: 'add', key: 'g', n: 1 }]));
    await fsyncHeld;
    const g2 = outcome(log.append('g', [{ type: 'add', key: 'g', n: 2, pad: 'second-of-g' }]));
    const h1 = outcome(log.append('h', [{ type: 'add', key: 'h', n: 1, pad: 'first-of-h' }]));
    // h's write goes out beside g's held fsync; g's second append waits for g's first write.
    await eventually(() => written.some((bytes) => bytes.includes('first-of-h')), { what: "h's append written during g's fsync" });
    expect(written.some((bytes) => bytes.includes('second-of-g'))).toBe(false);
    failFsync = true;
    releaseFsync!();
    expect(await g1).toMatch(/^rejected/);
    expect(await g2).toBe('rejected STORAGE_FAILED');
    expect(written.some((bytes) => bytes.includes('second-of-g'))).toBe(false);
    expect(await outcome(log.append('g', [{ type: 'add', key: 'g', n: 4 }]))).toBe('rejected STORAGE_FAILED');
    // h's write shared the partition log's failed fsync: it fails too (the log trusts nothing after it).
    expect(await h1).toMatch(/^rejected/);
  });

  it('an owner that applies on append: when the appends compaction writes ahead of its snapshot fail, the ones it could not take in that write are settled, never left waiting (refused, for the key that failed)', async () => {
    let releaseWrites!: () => void;
    const writesReleased = new Promise<void>((resolve) => (releaseWrites = resolve));
    let appendCalls = 0;
    // The log manager's partition, seen as always due for compaction; its first append waits until
    // released (so that appends queue behind it), its second fails (a full disk).
    const port: StateLogPort = {
      listTopics: () => logs.listTopics(),
      createTopic: (name, partitionCount, config) => logs.createTopic(name, partitionCount, config),
      partitionCount: (topic) => logs.partitionCount(topic),
      partition: (topic, partition) => {
        const log = logs.partition(topic, partition);
        return Object.create(log, {
          segmentCount: { get: () => COMPACT_AT_SEGMENTS },
          sizeBytes: { get: () => 1e12 },
          append: {
            value: async (batch: Buffer, options: { ackLevel: 'durable' }) => {
              const call = ++appendCalls;
              if (call === 1) await writesReleased;
              if (call === 2) throw noSpaceError();
              return log.append(batch, options);
            },
          },
        }) as PartitionLog;
      },
    };
    const log = await StateLog.open<Value>(port, { topic: TOPIC, partitionCount: 1, segmentBytes: 1024 * 1024, parse, nowMs: () => 1_000, logger: silentLogger, damageMeaning: '', isAppliedOnAppend: true });
    await log.replay(() => undefined);
    log.setSnapshotSource(() => [{ key: 's', values: [{ type: 'set', key: 's', sum: 0 }] }]);
    const settled = new Map<string, string>();
    const track = (name: string, append: Promise<void>) =>
      append.then(
        () => settled.set(name, 'resolved'),
        () => settled.set(name, 'rejected'),
      );
    const first = track('first', log.append('a', [{ type: 'add', key: 'a', n: 1 }]));
    // Three appends of 12 MiB queue behind it: one write of STATE_LOG_MAX_WRITE_BYTES (32 MiB) takes two.
    const pad = 'x'.repeat(12 * 1024 * 1024);
    const big = ['b1', 'b2', 'b3'].map((name) => track(name, log.append('a', [{ type: 'add', key: 'a', n: 1, pad }])));
    releaseWrites();
    await first;
    await Promise.all(big.slice(0, 2));
    await Promise.all(big);
    await track('later', log.append('a', [{ type: 'add', key: 'a', n: 1 }]));
    await track('other key', log.append('c', [{ type: 'add', key: 'c', n: 1 }]));
    // b3 and later are of the key a failed write held: refused unwritten (failKeys), not left waiting.
    expect(Object.fromEntries(settled)).toEqual({ first: 'resolved', b1: 'rejected', b2: 'rejected', b3: 'rejected', later: 'rejected', 'other key': 'resolved' });
    await log.close();
  });

  it('a snapshot source that fails (an owner that cannot vouch for its state) stops that compaction, not the appends, and is asked again only once the partition grew', async () => {
    let sizeBytes = 1e9;
    // The log manager's partition, seen as always due for compaction at its size.
    const port: StateLogPort = {
      listTopics: () => logs.listTopics(),
      createTopic: (name, partitionCount, config) => logs.createTopic(name, partitionCount, config),
      partitionCount: (topic) => logs.partitionCount(topic),
      partition: (topic, partition) => Object.create(logs.partition(topic, partition), { segmentCount: { get: () => COMPACT_AT_SEGMENTS }, sizeBytes: { get: () => sizeBytes } }) as PartitionLog,
    };
    const lines: LogLine[] = [];
    const logger = capturingLogger(lines);
    const log = await StateLog.open<Value>(port, { topic: TOPIC, partitionCount: 1, segmentBytes: 1024 * 1024, parse, nowMs: () => 1_000, logger, damageMeaning: '', isAppliedOnAppend: true });
    await log.replay(() => undefined);
    let asked = 0;
    log.setSnapshotSource(() => {
      asked++;
      throw new Error('a group is fenced');
    });
    for (let i = 0; i < 5; i++) await log.append('a', [{ type: 'add', key: 'a', n: 1 }]);
    expect(asked).toBe(1);
    expect(lines.filter((line) => String(line.msg).startsWith('compacting'))).toHaveLength(1);
    sizeBytes += STATE_LOG_BATCH_TARGET_BYTES;
    await log.append('a', [{ type: 'add', key: 'a', n: 1 }]);
    expect(asked).toBe(2);
    await log.close();
  });

  it('close waits for the appends queued, then refuses new ones', async () => {
    const log = await openStateLog(logs);
    await log.replay(() => undefined);
    const sums = new Sums();
    const appends = Array.from({ length: 50 }, (_, i) => sums.add(log, `k${i % 7}`, [i]));
    await log.close();
    expect(sums.sums.size).toBe(7);
    await Promise.all(appends);
    await expect(log.append('a', [{ type: 'add', key: 'a', n: 1 }])).rejects.toMatchObject({ code: 'SHUTTING_DOWN' });
    const { sums: replayed } = await reopen();
    expect(replayed.sums).toEqual(sums.sums);
  });
});
