import { existsSync } from 'node:fs';
import { readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { StorageFailedError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import { LogManager } from '../../src/storage/log-manager.js';
import type { PartitionLog } from '../../src/storage/partition-log.js';
import { decodeAll, makeBatch } from '../helpers/batches.js';
import { FaultyFileSystem, noSpaceError, writeHalfThenFail } from '../helpers/faulty-file-system.js';
import { openLog, readAllBatches } from '../helpers/open-log.js';
import { useTempDir } from '../helpers/temp-dir.js';

const values = async (log: PartitionLog): Promise<string[]> => decodeAll(await readAllBatches(log)).map((r) => r.value);

/** The bytes of every .log file of a partition directory, against what the log says it holds. */
async function expectNoTornBytes(directory: string, log: PartitionLog): Promise<void> {
  let fileBytes = 0;
  for (const name of await readdir(directory)) if (name.endsWith('.log')) fileBytes += (await stat(join(directory, name))).size;
  expect(fileBytes, 'bytes on disk vs the log size').toBe(log.sizeBytes);
}

describe('a write that finds the disk full (ENOSPC)', () => {
  const dir = useTempDir({ each: true });

  it('is cut back to the last good size, refuses only what it did not write, and takes writes again once space returns', async () => {
    const fs = new FaultyFileSystem();
    const clock = new ManualClock(1_700_000_000_000);
    const log = await openLog(dir.path, { fs, clock });
    for (let i = 0; i < 5; i++) await log.append(makeBatch(`ok${i}`, 2));
    fs.aroundWritev = writeHalfThenFail;
    clock.advance(1000);
    const refused = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => log.append(makeBatch(`full${i}`, 2))));
    for (const result of refused) {
      expect(result.status).toBe('rejected');
      const error = (result as PromiseRejectedResult).reason as Error;
      expect(error).toBeInstanceOf(StorageFailedError);
      expect(error.message).toMatch(/read-only since 2023-11-14T22:13:21\.000Z: no space left on device \(ENOSPC\) writing .*00000000000000000000\.log/);
    }
    expect(log.writeState).toEqual({ status: 'read-only', reason: expect.stringMatching(/ENOSPC/), sinceMs: 1_700_000_001_000 });
    expect(log.isFailed).toBe(false);
    await expectNoTornBytes(dir.path, log);
    expect(log.logEndOffset).toBe(10);
    expect(await values(log)).toEqual(['ok0', 'ok1', 'ok2', 'ok3', 'ok4'].flatMap((v) => [`${v}#0`, `${v}#1`]));

    // Still full: the next append tries again, fails the same way, and the state keeps its first time.
    clock.advance(1000);
    await expect(log.append(makeBatch('still-full', 1))).rejects.toThrow(/read-only since 2023-11-14T22:13:21\.000Z/);
    await expectNoTornBytes(dir.path, log);

    fs.aroundWritev = undefined;
    expect(await log.append(makeBatch('back', 2))).toEqual({ baseOffset: 10, lastOffset: 11, durability: 'durable' });
    expect(log.writeState).toEqual({ status: 'online' });
    expect((await values(log)).slice(-2)).toEqual(['back#0', 'back#1']);
    await log.close();

    // After a crash too: nothing refused comes back, no offset is missing or repeated.
    await fs.crash();
    const reopened = await openLog(dir.path, { isCleanShutdown: false });
    const records = decodeAll(await readAllBatches(reopened));
    expect(records.map((r) => r.offset)).toEqual(Array.from({ length: 12 }, (_, i) => i));
    expect(records.map((r) => r.value).filter((v) => v.startsWith('full') || v.startsWith('still'))).toEqual([]);
    await reopened.close();
  });

  it('keeps appends written before the failed write (acknowledged, or waiting for their fsync) and refuses those queued behind it', async () => {
    const fs = new FaultyFileSystem();
    const log = await openLog(dir.path, { fs });
    await log.append(makeBatch('first', 1));
    // Hold the fsync, so that an append is written and waits for durability when the disk fills.
    let releaseSync: () => void = () => {};
    const syncHeld = new Promise<void>((resolve) => (releaseSync = resolve));
    let isSyncHeld = true;
    fs.aroundDatasync = async (_path, datasync) => {
      if (isSyncHeld) await syncHeld;
      await datasync();
    };
    const written = await log.append(makeBatch('written', 1), { ackLevel: 'written' });
    expect(written).toEqual({ baseOffset: 1, lastOffset: 1, durability: 'written' });
    const awaitingSync = log.append(makeBatch('awaiting-sync', 1));
    // Wait until the writer wrote it (its fsync is held): the log end moves past it.
    for (let i = 0; log.logEndOffset < 3; i++) {
      expect(i, 'the append was written').toBeLessThan(1000);
      await new Promise((resolve) => setImmediate(resolve));
    }
    fs.aroundWritev = writeHalfThenFail;
    const refused = Promise.allSettled([log.append(makeBatch('refused-a', 1)), log.append(makeBatch('refused-b', 1)), log.append(makeBatch('refused-c', 1))]);
    // The cut waits for the fsync in progress (one at a time): let it finish.
    for (let i = 0; fs.writevCount < 4; i++) {
      expect(i, 'the write failed').toBeLessThan(1000);
      await new Promise((resolve) => setImmediate(resolve));
    }
    isSyncHeld = false;
    releaseSync();
    for (const result of await refused) expect(result.status === 'rejected' && result.reason instanceof StorageFailedError).toBe(true);
    fs.aroundWritev = undefined;
    expect(await awaitingSync).toEqual({ baseOffset: 2, lastOffset: 2, durability: 'durable' });
    expect(await log.append(makeBatch('after', 1))).toEqual({ baseOffset: 3, lastOffset: 3, durability: 'durable' });
    expect(await values(log)).toEqual(['first#0', 'written#0', 'awaiting-sync#0', 'after#0']);
    await expectNoTornBytes(dir.path, log);
    await log.close();
  });

  it('acknowledges the appends of a group written before a roll, and refuses those after it', async () => {
    const fs = new FaultyFileSystem();
    const log = await openLog(dir.path, { fs, config: { 'segment.bytes': '1024' } });
    // One group (same tick): `small` fits in the first segment; `large` rolls to a second one, whose write fails.
    fs.aroundWritev = async (path, buffers, position, writev) => {
      if (!path.endsWith('00000000000000000000.log')) return writeHalfThenFail(path, buffers, position, writev);
      return writev(buffers, position);
    };
    const small = log.append(makeBatch('small', 1, { valueBytes: 200 }));
    const large = log.append(makeBatch('large', 1, { valueBytes: 900 }));
    const [smallResult, largeResult] = await Promise.allSettled([small, large]);
    expect(smallResult).toEqual({ status: 'fulfilled', value: { baseOffset: 0, lastOffset: 0, durability: 'durable' } });
    expect(largeResult.status).toBe('rejected');
    expect((largeResult as PromiseRejectedResult).reason.message).toMatch(/read-only since .*ENOSPC.*00000000000000000001\.log/);
    expect(log.segmentCount).toBe(2);
    await expectNoTornBytes(dir.path, log);
    fs.aroundWritev = undefined;
    expect(await log.append(makeBatch('large', 1, { valueBytes: 900 }))).toEqual({ baseOffset: 1, lastOffset: 1, durability: 'durable' });
    expect((await values(log)).map((v) => v.slice(0, 7))).toEqual(['small#0', 'large#0']);
    await log.close();
  });

  it('refuses a multi-batch append whole: no batch of it in the log after a short write', async () => {
    const fs = new FaultyFileSystem();
    const log = await openLog(dir.path, { fs });
    await log.append(makeBatch('ok', 1));
    fs.aroundWritev = writeHalfThenFail;
    const threeBatches = Buffer.concat([makeBatch('a', 1), makeBatch('b', 1), makeBatch('c', 1)]);
    await expect(log.append(threeBatches)).rejects.toBeInstanceOf(StorageFailedError);
    await log.close();
    await fs.crash();
    // The cut was fsynced before anything else: a crash cannot bring back `a` (whole in the half written).
    const reopened = await openLog(dir.path);
    expect(await values(reopened)).toEqual(['ok#0']);
    await reopened.close();
  });

  it('shows in describe with its reason and since when, and a full disk at roll or close leaves no temporary file', async () => {
    const fs = new FaultyFileSystem();
    const clock = new ManualClock(1_700_000_000_000);
    const manager = await LogManager.open({ dataDir: dir.path, fs, clock, logger: silentLogger });
    await manager.createTopic('t', 2);
    const log = manager.partition('t', 0);
    await log.append(makeBatch('ok', 1));
    fs.beforeWritev = (path) => {
      if (path.includes('/t/0/')) throw noSpaceError();
    };
    await expect(log.append(makeBatch('full', 1))).rejects.toBeInstanceOf(StorageFailedError);
    const [p0, p1] = manager.describeTopic('t').partitions;
    expect(p0).toMatchObject({ status: 'read-only', error: expect.stringMatching(/no space left on device \(ENOSPC\)/), sinceMs: 1_700_000_000_000 });
    expect(p1!.status).toBe('online');
    expect(p1!.error).toBeUndefined();
    // Retention still runs on a read-only partition (it frees space).
    await manager.runRetention();
    fs.beforeWritev = undefined;
    await log.append(makeBatch('back', 1));
    expect(manager.describeTopic('t').partitions[0]).toMatchObject({ status: 'online' });
    expect(manager.describeTopic('t').partitions[0]!.sinceMs).toBeUndefined();
    await manager.close();
  });
});

describe('startup on a full disk', () => {
  const dir = useTempDir({ each: true });

  it('opens a partition whose recovery cannot write its recovery point or index files read-only, serves it, and takes writes once space returns', async () => {
    const fs = new FaultyFileSystem();
    const clock = new ManualClock(1_700_000_000_000);
    const first = await LogManager.open({ dataDir: dir.path, fs, clock, logger: silentLogger });
    await first.createTopic('t', 1, { 'segment.bytes': '1024' });
    for (let i = 0; i < 6; i++) await first.partition('t', 0).append(makeBatch(`r${i}`, 1, { valueBytes: 300 }));
    expect(first.partition('t', 0).segmentCount).toBeGreaterThan(1);
    await fs.crash(); // no clean shutdown: the next start scans and wants to write

    let isFull = true;
    fs.failOperation = (operation, path) => {
      if (isFull && operation === 'writeFileAtomic' && !path.endsWith('@lock')) throw noSpaceError();
    };
    // Index files of scanned segments are lost too, so recovery must write them.
    for (const name of await readdir(join(dir.path, 't', '0'))) if (name.endsWith('index') || name === 'recovery-point') await import('node:fs/promises').then((m) => m.rm(join(dir.path, 't', '0', name)));
    const second = await LogManager.open({ dataDir: dir.path, fs, clock, logger: silentLogger });
    const description = second.describeTopic('t').partitions[0]!;
    expect(description).toMatchObject({ status: 'read-only', error: expect.stringMatching(/could not write .* at startup: no space left on device \(ENOSPC\)/), sinceMs: 1_700_000_000_000 });
    expect(decodeAll(await readAllBatches(second.partition('t', 0))).map((r) => r.value.slice(0, 3))).toEqual(['r0#', 'r1#', 'r2#', 'r3#', 'r4#', 'r5#']);
    isFull = false;
    expect((await second.partition('t', 0).append(makeBatch('after', 1))).baseOffset).toBe(6);
    expect(second.describeTopic('t').partitions[0]!.status).toBe('online');
    await second.close();
    const leftovers = (await readdir(join(dir.path, 't', '0'))).concat(await readdir(dir.path), await readdir(join(dir.path, 't'))).filter((n) => n.includes('.tmp-'));
    expect(leftovers).toEqual([]);
  });

  it('refuses to start in one typed error when even the lock cannot be written', async () => {
    const fs = new FaultyFileSystem();
    fs.failOperation = (operation, path) => {
      if (operation === 'writeFileAtomic' && path.endsWith('@lock')) throw noSpaceError();
    };
    await expect(LogManager.open({ dataDir: dir.path, fs, logger: silentLogger })).rejects.toThrow(
      new StorageFailedError(`cannot take the lock of data directory ${dir.path}: no space left on device (ENOSPC) writing ${dir.path}/@lock; free some space and start again`),
    );
  });

  it('removes the temporary files an interrupted atomic write left in the data, topic and partition directories', async () => {
    const manager = await LogManager.open({ dataDir: dir.path, logger: silentLogger });
    await manager.createTopic('t.tmp-x', 1);
    await manager.close();
    const leftovers = [join(dir.path, '@clean-shutdown.tmp-1-0'), join(dir.path, 't.tmp-x', 'topic.json.tmp-1-1'), join(dir.path, 't.tmp-x', '0', 'recovery-point.tmp-1-2')];
    for (const path of leftovers) await writeFile(path, 'x');
    const reopened = await LogManager.open({ dataDir: dir.path, logger: silentLogger });
    // A topic whose name holds the mark is a directory, and stays.
    expect(reopened.listTopics()).toEqual(['t.tmp-x']);
    await reopened.close();
    for (const path of leftovers) expect(existsSync(path), path).toBe(false);
  });
});
