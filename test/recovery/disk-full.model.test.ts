import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { StorageFailedError } from '../../src/core/errors.js';
import { encodeRecordBatch } from '../../src/format/record-batch-codec.js';
import type { PartitionLog } from '../../src/storage/partition-log.js';
import { decodeAll } from '../helpers/batches.js';
import { FaultyFileSystem, LimitedDisk } from '../helpers/faulty-file-system.js';
import { openLog, readAllBatches } from '../helpers/open-log.js';
import { SeededRandom, seedsFromEnv } from '../helpers/seeded-random.js';
import { useTempDir } from '../helpers/temp-dir.js';

const STEPS = 100;
const CONFIG = { 'segment.bytes': '4096', 'index.interval.bytes': '512' };

/**
 * Random bursts of appends (several batches each, both ack levels) against a disk that fills and
 * empties, with clean restarts and crashes between them, checked after every step against the list
 * of acknowledged records: every acknowledged record at its offset, nothing refused ever in the log,
 * no torn bytes after the last batch, no temporary file, and the partition online again whenever
 * there is room.
 */
describe('a partition on a disk that fills and empties (seeded)', () => {
  const dir = useTempDir({ each: true });

  for (const seed of seedsFromEnv([1, 2, 3, 4])) {
    it(`seed ${seed}: acknowledged records stay, refused ones never appear, and writes resume with room`, async () => {
      const rng = new SeededRandom(seed);
      const fs = new FaultyFileSystem();
      const disk = new LimitedDisk(fs);
      const clock = new ManualClock(1_700_000_000_000);
      let log: PartitionLog = await openLog(dir.path, { fs, clock, config: CONFIG });
      const acknowledged: string[] = []; // value at each offset
      const history: string[] = [];
      const stats = { acknowledgedAppends: 0, refusedAppends: 0, burstsSplit: 0, readOnlyOpens: 0 };
      let label = 0;
      try {
        for (let step = 0; step < STEPS; step++) {
          const op = rng.int(0, 9);
          if (op <= 5) {
            const count = rng.int(1, 5);
            const appends = Array.from({ length: count }, () => {
              const batches = Array.from({ length: rng.int(1, 3) }, () => {
                const records = Array.from({ length: rng.int(1, 4) }, () => ({ value: `v${label++}:`.padEnd(rng.int(10, 600), '.'), timestampMs: clock.nowMs() }));
                return { data: encodeRecordBatch(records), values: records.map((r) => r.value) };
              });
              return { data: Buffer.concat(batches.map((b) => b.data)), values: batches.flatMap((b) => b.values) };
            });
            const room = disk.remainingBytes;
            const settled = await Promise.allSettled(appends.map((a) => log.append(a.data, { ackLevel: rng.chance(0.3) ? 'written' : 'durable' })));
            history.push(`step ${step}: ${count} appends with ${room} bytes of room: ${settled.map((s) => s.status).join(',')}`);
            let isRefusing = false;
            settled.forEach((result, i) => {
              if (result.status === 'fulfilled') {
                // One group: once an append is refused, every later one is too.
                expect(isRefusing, 'an append succeeded after an earlier one of its burst was refused').toBe(false);
                expect(result.value.baseOffset, 'offsets continue the acknowledged ones').toBe(acknowledged.length);
                acknowledged.push(...appends[i]!.values);
                expect(result.value.lastOffset).toBe(acknowledged.length - 1);
              } else {
                expect(result.reason).toBeInstanceOf(StorageFailedError);
                isRefusing = true;
              }
            });
            stats.acknowledgedAppends += settled.filter((r) => r.status === 'fulfilled').length;
            stats.refusedAppends += settled.filter((r) => r.status === 'rejected').length;
            if (isRefusing && settled[0]!.status === 'fulfilled') stats.burstsSplit++;
            if (room === Number.POSITIVE_INFINITY) expect(log.writeState.status).toBe('online');
            if (isRefusing) expect(log.writeState).toMatchObject({ status: 'read-only', reason: expect.stringMatching(/ENOSPC/) });
          } else if (op === 6) {
            disk.remainingBytes = rng.chance(0.5) ? Number.POSITIVE_INFINITY : rng.int(0, 6000);
            history.push(`step ${step}: room ${disk.remainingBytes}`);
          } else if (op === 7 || op === 8) {
            const isCrash = op === 8;
            let isClean = !isCrash;
            if (isCrash) await fs.crash();
            else isClean = await log.close().then(() => true, () => false);
            await fs.crash();
            history.push(`step ${step}: ${isCrash ? 'crash' : 'restart'} with ${disk.remainingBytes} bytes of room (clean: ${isClean})`);
            log = await openLog(dir.path, { fs, clock, config: CONFIG, isCleanShutdown: isClean });
            if (log.writeState.status === 'read-only') stats.readOnlyOpens++;
          } else {
            clock.advance(1000);
            continue;
          }
          await log.flush();
          const values = decodeAll(await readAllBatches(log));
          expect(values.map((r) => r.offset), 'offsets from 0, contiguous').toEqual(values.map((_, i) => i));
          expect(values.map((r) => r.value), 'the log holds exactly the acknowledged records').toEqual(acknowledged);
          let fileBytes = 0;
          const names = await readdir(dir.path);
          for (const name of names) if (name.endsWith('.log')) fileBytes += (await stat(join(dir.path, name))).size;
          expect(fileBytes, 'no torn bytes after the last batch').toBe(log.sizeBytes);
          expect(names.filter((n) => n.includes('.tmp-'))).toEqual([]);
        }
        // A fault-free drain: with room again, the partition takes writes.
        disk.remainingBytes = Number.POSITIVE_INFINITY;
        const last = await log.append(encodeRecordBatch([{ value: 'last', timestampMs: clock.nowMs() }]));
        expect(last.baseOffset).toBe(acknowledged.length);
        expect(log.writeState.status).toBe('online');
        // The run must have gone through what it is about, or it proves nothing.
        history.push(`stats: ${JSON.stringify({ ...stats, tornWrites: disk.tornWriteCount })}`);
        expect(stats.acknowledgedAppends).toBeGreaterThan(10);
        expect(stats.refusedAppends).toBeGreaterThan(10);
        expect(disk.tornWriteCount).toBeGreaterThan(0);
      } catch (error) {
        throw new Error(`seed ${seed} (replay: STRATA_SEED=${seed}):\n${history.slice(-15).join('\n')}\n${(error as Error).message}`, { cause: error });
      } finally {
        await log.close().catch(() => undefined);
        await fs.crash();
      }
    });
  }
});
