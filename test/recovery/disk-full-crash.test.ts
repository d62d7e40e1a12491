import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { StorageFailedError } from '../../src/core/errors.js';
import { encodeRecordBatch } from '../../src/format/record-batch-codec.js';
import { NodeFileSystem } from '../../src/storage/node-file-system.js';
import type { PartitionLog } from '../../src/storage/partition-log.js';
import { decodeAll } from '../helpers/batches.js';
import { LimitedDisk } from '../helpers/faulty-file-system.js';
import { KillableFileSystem, type KillMode } from '../helpers/killable-file-system.js';
import { openLog, readAllBatches } from '../helpers/open-log.js';
import { SeededRandom, seedsFromEnv } from '../helpers/seeded-random.js';
import { makeTempDir } from '../helpers/temp-dir.js';

/**
 * The full-disk cut-back meets the batch header checks and a SIGKILL: the process dies at any
 * operation (before it, after it, or in the middle of a writev) while the disk fills and empties, with
 * rolls between appends, multi-batch appends, both ack levels, index and recovery-point writes refused.
 * The restarted log (recovered after the crash, then walked again on a clean start) must open (no
 * DATA_LOSS for what is a torn tail or a cut-back), hold every acknowledged record at its offset, and
 * never a record whose append was refused as "nothing of this append was written".
 */

interface Outcomes {
  /** value at each acknowledged offset */
  acknowledged: Map<number, string>;
  /** values of appends refused for lack of space (nothing of them may ever be in the log) */
  refused: Set<string>;
}

/** Appends `batchesPerAppend` batches per append, all appends at once; records what was acknowledged and what was refused. */
async function burst(log: PartitionLog, values: string[][], ackLevel: (i: number) => 'written' | 'durable', timestampMs: number, outcomes: Outcomes): Promise<void> {
  const settled = await Promise.allSettled(
    values.map((batches, i) => log.append(Buffer.concat(batches.map((value) => encodeRecordBatch([{ value, timestampMs }]))), { ackLevel: ackLevel(i) })),
  );
  settled.forEach((result, i) => {
    if (result.status === 'fulfilled') values[i]!.forEach((value, j) => outcomes.acknowledged.set(result.value.baseOffset + j, value));
    else if (result.reason instanceof StorageFailedError && /read-only since/.test(result.reason.message)) values[i]!.forEach((value) => outcomes.refused.add(value));
  });
}

/** What is wrong with the log's content against the outcomes (empty when nothing). */
async function problemsOf(log: PartitionLog, outcomes: Outcomes, label: string): Promise<string[]> {
  const problems: string[] = [];
  let records: Array<{ offset: number; value: string }>;
  try {
    records = decodeAll(await readAllBatches(log));
  } catch (error) {
    return [`${label}: read failed: ${(error as Error).message}`];
  }
  records.forEach((record, i) => {
    if (record.offset !== i) problems.push(`${label}: offset ${record.offset} where ${i} was expected`);
    if (outcomes.refused.has(record.value)) problems.push(`${label}: refused record ${record.value.slice(0, 12)} at offset ${record.offset}`);
  });
  for (const [offset, value] of outcomes.acknowledged) {
    if (records[offset]?.value !== value) problems.push(`${label}: acknowledged record ${value.slice(0, 12)} at offset ${offset} lost`);
  }
  return problems;
}

const SWEEP_CONFIG = { 'segment.bytes': '2048', 'index.interval.bytes': '256', 'segment.ms': '2000' };

describe('a SIGKILL while the disk is full', () => {
  const modes: KillMode[] = [{ when: 'before' }, { when: 'after' }, { when: 'torn', keepBytes: (total) => total >> 1 }];
  for (const mode of modes) {
    it(`at every operation (${mode.when}): recovery and a clean start after it keep every acknowledged record and no refused one`, async () => {
      const problems: string[] = [];
      let isKillPointReached = true;
      for (let killAt = 1; isKillPointReached; killAt++) {
        expect(killAt, 'the scenario has an end').toBeLessThan(1_000);
        const dir = await makeTempDir();
        const fs = new KillableFileSystem();
        const room = new LimitedDisk(fs);
        const clock = new ManualClock(1_700_000_000_000);
        const outcomes: Outcomes = { acknowledged: new Map(), refused: new Set() };
        let label = 0;
        try {
          const log = await openLog(dir.path, { fs, clock, config: SWEEP_CONFIG });
          fs.killAt(killAt, mode);
          const scenario = async () => {
            // Room for: all; part of a burst (torn write, a roll refused); all; nothing; part; all; part, then a clean close.
            for (const [roomBytes, appends] of [[Infinity, 6], [700, 4], [Infinity, 5], [0, 2], [350, 3], [Infinity, 4], [400, 3]] as const) {
              room.remainingBytes = roomBytes;
              clock.advance(700);
              const values = Array.from({ length: appends }, () => [`v${label}`.padEnd(140, '.'), `v${label++}+`.padEnd(140, '.')]);
              await burst(log, values, (i) => (i % 3 === 2 ? 'written' : 'durable'), clock.nowMs(), outcomes);
              await log.flush().catch(() => undefined);
            }
            await log.close().catch(() => undefined);
          };
          await scenario().catch(() => undefined);
          isKillPointReached = fs.killed;
          await fs.kill();
          // The restarted process: recovery after the crash, then a clean close and a clean start.
          for (const isCleanShutdown of [false, true]) {
            const phase = `kill ${mode.when} operation ${killAt}, ${isCleanShutdown ? 'clean start after recovery' : 'recovery'}`;
            let reopened: PartitionLog;
            try {
              reopened = await openLog(dir.path, { fs: new NodeFileSystem(), clock, config: SWEEP_CONFIG, isCleanShutdown });
            } catch (error) {
              problems.push(`${phase}: open failed: ${(error as Error).message}`);
              break;
            }
            problems.push(...(await problemsOf(reopened, outcomes, phase)));
            await reopened.close();
          }
        } finally {
          await fs.kill();
          await dir.remove();
        }
      }
      expect(problems).toEqual([]);
    }, 300_000);
  }

  for (const seed of seedsFromEnv([1, 2, 3, 4, 5, 6, 7, 8])) {
    it(`seed ${seed}: random schedules with a kill at a random operation, over six process lives`, async () => {
      const rng = new SeededRandom(seed);
      const dir = await makeTempDir();
      const clock = new ManualClock(1_700_000_000_000);
      const config = {
        'segment.bytes': String(rng.int(1024, 3000)),
        'index.interval.bytes': String(rng.int(0, 600)),
        'segment.ms': String(rng.int(500, 5000)),
        flush: rng.chance(0.5) ? 'always' : 'interval',
      };
      const outcomes: Outcomes = { acknowledged: new Map(), refused: new Set() };
      const history: string[] = [`config ${JSON.stringify(config)}`];
      let isClean = false;
      let label = 0;
      try {
        for (let life = 0; life < 6; life++) {
          const fs = new KillableFileSystem();
          const room = new LimitedDisk(fs);
          room.remainingBytes = rng.chance(0.3) ? rng.int(0, 2000) : Number.POSITIVE_INFINITY;
          const log = await openLog(dir.path, { fs, clock, config, isCleanShutdown: isClean });
          history.push(`life ${life}: opened (clean ${isClean}) ${log.writeState.status} with ${room.remainingBytes} bytes of room`);
          const problems = await problemsOf(log, outcomes, `life ${life}`);
          expect(problems).toEqual([]);
          // What a crash under flush=interval may keep beyond the acknowledged: it survived, so it counts from here on.
          for (const record of decodeAll(await readAllBatches(log))) outcomes.acknowledged.set(record.offset, record.value);
          const modes: KillMode[] = [{ when: 'before' }, { when: 'after' }, { when: 'torn', keepBytes: (total) => rng.int(0, total) }];
          if (rng.chance(0.6)) fs.killAt(rng.int(1, 60), modes[rng.int(0, 2)]!);
          isClean = false;
          const burstCount = rng.int(2, 8);
          for (let b = 0; b < burstCount && !fs.killed; b++) {
            if (rng.chance(0.4)) room.remainingBytes = rng.chance(0.5) ? Number.POSITIVE_INFINITY : rng.int(0, 1500);
            clock.advance(rng.int(0, 1500));
            const values = Array.from({ length: rng.int(1, 5) }, () => Array.from({ length: rng.int(1, 3) }, () => `s${seed}v${label++}`.padEnd(rng.int(20, 400), '.')));
            const ackLevels = values.map(() => (rng.chance(0.3) ? 'written' : 'durable') as 'written' | 'durable');
            await burst(log, values, (i) => ackLevels[i]!, clock.nowMs(), outcomes);
            history.push(`  burst of ${values.length} with ${room.remainingBytes} bytes of room left${fs.killed ? ', killed' : ''}`);
          }
          if (!fs.killed && rng.chance(0.6)) {
            isClean = await log.close().then(() => !fs.killed, () => false);
            history.push(`  close (clean ${isClean})`);
          }
          await fs.kill();
        }
      } catch (error) {
        throw new Error(`seed ${seed} (replay: STRATA_SEED=${seed}):\n${history.slice(-20).join('\n')}\n${(error as Error).message}`, { cause: error });
      } finally {
        await dir.remove();
      }
    }, 120_000);
  }
});
