import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StorageFailedError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import { LogManager } from '../../src/storage/log-manager.js';
import { decodeAll, makeBatch } from '../helpers/batches.js';
import { FaultyFileSystem, ioError } from '../helpers/faulty-file-system.js';
import { openLog, readAllBatches } from '../helpers/open-log.js';
import { makeTempDir } from '../helpers/temp-dir.js';

describe('an fsync or write error', () => {
  let dir: { path: string; remove: () => Promise<void> };
  beforeEach(async () => {
    dir = await makeTempDir();
  });
  afterEach(async () => {
    await dir.remove();
  });

  it('fails every waiting append, acknowledges nothing after it, and keeps what was acknowledged before', async () => {
    const fs = new FaultyFileSystem();
    const log = await openLog(dir.path, { fs });
    for (let i = 0; i < 5; i++) await log.append(makeBatch(`ok${i}`, 1));
    let isSyncBroken = false;
    fs.beforeDatasync = (path) => {
      if (isSyncBroken && path.endsWith('.log')) throw ioError('fdatasync');
    };
    isSyncBroken = true;
    const waiting = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => log.append(makeBatch(`lost${i}`, 1))));
    expect(waiting.every((r) => r.status === 'rejected' && r.reason instanceof StorageFailedError)).toBe(true);
    expect(log.isFailed).toBe(true);
    // A later fsync would succeed, but the partition must not pretend: it stays failed.
    isSyncBroken = false;
    await expect(log.append(makeBatch('later', 1))).rejects.toBeInstanceOf(StorageFailedError);
    await expect(log.flush()).rejects.toBeInstanceOf(StorageFailedError);
    // Readers never saw the unacknowledged appends.
    expect(log.highWatermark).toBe(5);
    expect(decodeAll(await readAllBatches(log)).map((r) => r.value)).toEqual(['ok0#0', 'ok1#0', 'ok2#0', 'ok3#0', 'ok4#0']);
    await log.close();
    await fs.crash();
    const reopened = await openLog(dir.path);
    const values = decodeAll(await readAllBatches(reopened)).map((r) => r.value);
    expect(values.slice(0, 5)).toEqual(['ok0#0', 'ok1#0', 'ok2#0', 'ok3#0', 'ok4#0']);
    await reopened.close();
  });

  it('keeps failing after an fsync that found the disk full (ENOSPC from fdatasync is not a write error)', async () => {
    const fs = new FaultyFileSystem();
    const log = await openLog(dir.path, { fs });
    await log.append(makeBatch('ok', 1));
    let isFull = true;
    fs.beforeDatasync = (path) => {
      if (isFull && path.endsWith('.log')) throw Object.assign(new Error('ENOSPC: injected fdatasync'), { code: 'ENOSPC' });
    };
    await expect(log.append(makeBatch('full', 1))).rejects.toBeInstanceOf(StorageFailedError);
    isFull = false;
    await expect(log.append(makeBatch('after', 1))).rejects.toThrow(/I\/O error/);
    expect(log.writeState.status).toBe('failed');
    expect(log.writeState.reason).toMatch(/ENOSPC/);
    expect(log.highWatermark).toBe(1);
    await log.close();
  });

  it('keeps the log manager from writing a clean-shutdown marker for a failed partition', async () => {
    const fs = new FaultyFileSystem();
    const manager = await LogManager.open({ dataDir: dir.path, fs, logger: silentLogger });
    await manager.createTopic('t', 1);
    fs.beforeDatasync = (path) => {
      if (path.endsWith('.log')) throw ioError('fdatasync');
    };
    await expect(manager.partition('t', 0).append(makeBatch('x', 1))).rejects.toBeInstanceOf(StorageFailedError);
    expect(manager.describeTopic('t').partitions[0]!.status).toBe('failed');
    await manager.close();
    expect(existsSync(`${dir.path}/@clean-shutdown`)).toBe(false);
    await fs.crash();
  });

  const hasStrace = spawnSync('strace', ['-V']).status === 0;
  it.skipIf(!hasStrace)('fails appends when the kernel fails fdatasync of a real process (strace -e inject)', () => {
    const child = fileURLToPath(new URL('../../dist/test/recovery/fsync-victim.js', import.meta.url));
    expect(existsSync(child), `${child} is missing: run 'make build' first`).toBe(true);
    // From the 3rd fdatasync on, every one fails with EIO (strace counts per thread, and libuv's
    // thread pool spreads the calls, so the first failure lands on one of the first few appends).
    const result = spawnSync(
      'strace',
      ['-f', '-qq', '-o', '/dev/null', '-e', 'trace=fdatasync', '-e', 'inject=fdatasync:error=EIO:when=3+', process.execPath, child, dir.path, '12'],
      { encoding: 'utf8', timeout: 60_000 },
    );
    expect(result.status, result.stderr).toBe(0);
    const lines = result.stdout.trim().split('\n');
    const firstFailure = lines.indexOf('fail STORAGE_FAILED');
    expect(firstFailure, result.stdout).toBeGreaterThanOrEqual(2);
    expect(lines.slice(0, firstFailure).every((l, i) => l === `ack ${i}`), result.stdout).toBe(true);
    // Nothing is acknowledged after the first failure: the partition stays failed.
    expect(lines.slice(firstFailure).every((l) => l === 'fail STORAGE_FAILED'), result.stdout).toBe(true);
    expect(lines.length).toBe(12);
  });
});
