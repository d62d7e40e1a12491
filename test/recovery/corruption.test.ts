import { cp, readFile, readdir, stat, truncate, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataLossError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import { iterateBatches } from '../../src/format/record-batch-codec.js';
import { LogManager } from '../../src/storage/log-manager.js';
import { decodeAll, makeBatch } from '../helpers/batches.js';
import { FaultyFileSystem } from '../helpers/faulty-file-system.js';
import { openLog, readAllBatches } from '../helpers/open-log.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const CONFIG = { 'segment.bytes': '4096', 'index.interval.bytes': '256' };
const BATCH_COUNT = 120;

/** A partition directory with BATCH_COUNT batches (2 records each) in several segments, left as a crash leaves it. */
async function makeCrashedLog(directory: string): Promise<void> {
  const fs = new FaultyFileSystem();
  const log = await openLog(directory, { fs, config: CONFIG });
  for (let i = 0; i < BATCH_COUNT; i++) await log.append(makeBatch(`b${i}`, 2, { valueBytes: 30 }));
  await fs.crash();
}

async function logFiles(directory: string): Promise<string[]> {
  return (await readdir(directory)).filter((n) => n.endsWith('.log')).map((n) => join(directory, n));
}

/** Batch boundaries (byte positions) of a segment file, in order, plus its size. */
async function batchPositions(path: string): Promise<{ starts: number[]; sizeBytes: number }> {
  const data = await readFile(path);
  return { starts: [...iterateBatches(data)].map((b) => b.position), sizeBytes: data.length };
}

describe('recovery from damaged files', () => {
  let root: { path: string; remove: () => Promise<void> };
  let pristine: string;
  let caseNumber = 0;
  beforeAll(async () => {
    root = await makeTempDir();
    pristine = join(root.path, 'pristine');
    await makeCrashedLog(pristine);
  });
  afterAll(async () => {
    await root.remove();
  });

  async function copyOfPristine(): Promise<string> {
    const directory = join(root.path, `case-${caseNumber++}`);
    await cp(pristine, directory, { recursive: true });
    return directory;
  }

  it('truncates a torn tail at every cut point of the last two batches, keeping every batch before it', async () => {
    const files = await logFiles(pristine);
    const active = files.at(-1)!;
    const { starts, sizeBytes } = await batchPositions(active);
    expect(starts.length).toBeGreaterThanOrEqual(2);
    const activeName = active.slice(pristine.length + 1);
    const totalRecords = BATCH_COUNT * 2;
    for (let cut = starts.at(-2)!; cut < sizeBytes; cut++) {
      const directory = await copyOfPristine();
      await truncate(join(directory, activeName), cut);
      const log = await openLog(directory, { config: CONFIG });
      try {
        const wholeBatches = starts.filter((s, i) => (starts[i + 1] ?? sizeBytes) <= cut).length;
        const expectedEnd = totalRecords - 2 * (starts.length - wholeBatches);
        expect(log.logEndOffset, `cut at ${cut}`).toBe(expectedEnd);
        const records = decodeAll(await readAllBatches(log));
        expect(records.map((r) => r.offset)).toEqual(Array.from({ length: expectedEnd }, (_, i) => i));
        expect((await stat(join(directory, activeName))).size).toBe(starts[wholeBatches] ?? sizeBytes);
        // The log takes appends again right after the cut.
        expect((await log.append(makeBatch('after', 1))).baseOffset).toBe(expectedEnd);
      } finally {
        await log.close();
      }
    }
  });

  it('drops the last batch of an unclean log when any byte of it is flipped (a torn tail looks the same)', async () => {
    const active = (await logFiles(pristine)).at(-1)!;
    const activeName = active.slice(pristine.length + 1);
    const { starts, sizeBytes } = await batchPositions(active);
    const lastStart = starts.at(-1)!;
    for (let at = lastStart; at < sizeBytes; at++) {
      const relative = at - lastStart;
      const directory = await copyOfPristine();
      const path = join(directory, activeName);
      const data = await readFile(path);
      data[at]! ^= 0x41;
      await writeFile(path, data);
      const log = await openLog(directory, { config: CONFIG });
      try {
        expect(log.logEndOffset, `flip at byte ${relative} of the last batch`).toBe(BATCH_COUNT * 2 - 2);
        const records = decodeAll(await readAllBatches(log));
        expect(records.length).toBe(BATCH_COUNT * 2 - 2);
      } finally {
        await log.close();
      }
    }
  });

  /** Flips a byte inside the third batch of a segment file; returns that batch's position and the file size. */
  async function damageThirdBatch(path: string): Promise<{ victim: number; sizeBytes: number }> {
    const { starts } = await batchPositions(path);
    const data = await readFile(path);
    const victim = starts[2]!;
    data[victim + 40]! ^= 0xff;
    await writeFile(path, data);
    return { victim, sizeBytes: data.length };
  }

  async function openError(directory: string): Promise<unknown> {
    return openLog(directory, { config: CONFIG }).then(
      (log) => log.close().then(() => undefined),
      (e: unknown) => e,
    );
  }

  it('refuses service with DATA_LOSS, naming the offsets, when a batch in the middle of the scanned tail is damaged', async () => {
    const directory = await copyOfPristine();
    const active = (await logFiles(directory)).at(-1)!;
    const { victim, sizeBytes } = await damageThirdBatch(active);
    const error = await openError(directory);
    expect(error).toBeInstanceOf(DataLossError);
    const dataLoss = error as DataLossError;
    expect(dataLoss.code).toBe('DATA_LOSS');
    expect(dataLoss.position).toBe(victim);
    expect(dataLoss.nextValidOffset - dataLoss.firstBadOffset).toBe(2);
    expect(dataLoss.message).toMatch(/refuses service/);
    // Nothing was cut away.
    expect((await stat(active)).size).toBe(sizeBytes);
  });

  it('finds mid-log damage in an old segment when there is no recovery point to trust', async () => {
    const directory = await copyOfPristine();
    const middle = (await logFiles(directory))[1]!;
    const { sizeBytes } = await damageThirdBatch(middle);
    await unlink(join(directory, 'recovery-point'));
    expect(await openError(directory)).toBeInstanceOf(DataLossError);
    expect((await stat(middle)).size).toBe(sizeBytes);
  });

  it('refuses to serve a damaged batch in a segment that recovery trusted, and serves the rest', async () => {
    const directory = await copyOfPristine();
    const files = await logFiles(directory);
    expect(files.length).toBeGreaterThan(2);
    await damageThirdBatch(files[0]!);
    const log = await openLog(directory, { config: CONFIG });
    try {
      // Batches are 2 records each: the third batch holds offsets 4 and 5.
      await expect(log.read(4, 1)).rejects.toMatchObject({ code: 'DATA_LOSS', firstBadOffset: 4, nextValidOffset: 6 });
      const before = await log.read(0, 1024 * 1024);
      expect(decodeAll(before.batches).map((r) => r.offset)).toEqual([0, 1, 2, 3]);
      expect(before.nextOffset).toBe(4);
      expect(decodeAll((await log.read(6, 1)).batches)[0]!.offset).toBe(6);
      expect(decodeAll((await log.read(0, 1)).batches)[0]!.offset).toBe(0);
    } finally {
      await log.close();
    }
  });

  it('refuses service when a closed segment lost its tail (a gap before the next segment)', async () => {
    const directory = await copyOfPristine();
    const first = (await logFiles(directory))[0]!;
    const { starts } = await batchPositions(first);
    await truncate(first, starts.at(-1)! + 10);
    await expect(openLog(directory, { config: CONFIG })).rejects.toBeInstanceOf(DataLossError);
  });

  it('rebuilds deleted or garbled index files and reads every offset', async () => {
    // A cleanly closed copy, so that index files are trusted only after their checks.
    const directory = await copyOfPristine();
    const recovered = await openLog(directory, { config: CONFIG });
    await recovered.close();
    const names = (await readdir(directory)).filter((n) => n.endsWith('.index'));
    expect(names.length).toBeGreaterThan(3);
    const originalIndex = await readFile(join(directory, names[1]!));
    expect(originalIndex.length).toBeGreaterThan(0);
    await unlink(join(directory, names[0]!));
    await writeFile(join(directory, names[1]!), Buffer.from(originalIndex).fill(0x5a, 3));
    await writeFile(join(directory, names[2]!), originalIndex.subarray(0, originalIndex.length - 3));
    await unlink(join(directory, names[3]!.replace('.index', '.timeindex')));
    const log = await openLog(directory, { config: CONFIG, isCleanShutdown: true });
    try {
      for (let offset = 0; offset < BATCH_COUNT * 2; offset++) {
        const records = decodeAll((await log.read(offset, 1)).batches);
        expect(records.some((r) => r.offset === offset), `offset ${offset}`).toBe(true);
      }
      expect(await readFile(join(directory, names[1]!))).toEqual(originalIndex);
      expect((await readdir(directory)).includes(names[0]!)).toBe(true);
    } finally {
      await log.close();
    }
  });

  it('keeps a damaged partition out of service while the other partitions of the topic work', async () => {
    const dataDir = join(root.path, `manager-${caseNumber++}`);
    const first = await LogManager.open({ dataDir, logger: silentLogger });
    await first.createTopic('orders', 2, CONFIG);
    for (let i = 0; i < 40; i++) {
      await first.partition('orders', 0).append(makeBatch(`p0-${i}`, 2, { valueBytes: 30 }));
      await first.partition('orders', 1).append(makeBatch(`p1-${i}`, 2, { valueBytes: 30 }));
    }
    await first.close();
    const damaged = (await logFiles(join(dataDir, 'orders', '0')))[0]!;
    const data = await readFile(damaged);
    data[100]! ^= 0xff;
    await writeFile(damaged, data);
    // A clean marker does not vouch for bytes damaged later, but its index check is what notices:
    // remove the marker so recovery scans (the operator's case: a crash, then damage found).
    await unlink(join(dataDir, '@clean-shutdown'));
    await unlink(join(dataDir, 'orders', '0', 'recovery-point'));
    const second = await LogManager.open({ dataDir, logger: silentLogger });
    try {
      expect(() => second.partition('orders', 0)).toThrow(DataLossError);
      const description = second.describeTopic('orders');
      expect(description.partitions[0]!.status).toBe('data-loss');
      expect(description.partitions[1]!.status).toBe('online');
      expect((await second.partition('orders', 1).append(makeBatch('still', 1))).baseOffset).toBe(80);
    } finally {
      await second.close();
    }
    expect(await readFile(damaged)).toEqual(data);
  });
});
