import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/logger.js';
import { LogManager } from '../../src/storage/log-manager.js';
import { StateLog } from '../../src/storage/state-log.js';
import { KillableFileSystem, type KillMode } from '../helpers/killable-file-system.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const TOPIC = '__crash_state';
const KEYS = ['a', 'b', 'c', 'd'];

/** Each append adds [n, n] to its key's sum; compaction writes { set }. */
type Value = { key: string; add: number } | { key: string; set: number };

const parse = (text: string): Value | string => JSON.parse(text) as Value;

function openStateLog(logs: LogManager, isAppliedOnAppend = false): Promise<StateLog<Value>> {
  return StateLog.open<Value>(logs, { topic: TOPIC, partitionCount: 2, segmentBytes: 1024, parse, nowMs: () => 1_000, logger: silentLogger, damageMeaning: 'unknown sums', isAppliedOnAppend });
}

const applyTo = (sums: Map<string, number>) => (value: Value) => sums.set(value.key, 'set' in value ? value.set : (sums.get(value.key) ?? 0) + value.add);

/**
 * One simulated process life: appends to four keys in waves (concurrent within a wave, so writes
 * hold several appends), compaction on (1 KiB segments, so it runs often), SIGKILLed at the
 * `killAfter`-th file operation; then a restart replays. Returns what was attempted and resolved.
 */
async function crashRun(dataDir: string, killAfter: number, mode: KillMode, isAppliedOnAppend: boolean) {
  const fs = new KillableFileSystem();
  const logs = await LogManager.open({ dataDir, fs, logger: silentLogger });
  const log = await openStateLog(logs, isAppliedOnAppend);
  const sums = new Map<string, number>();
  const apply = applyTo(sums);
  await log.replay(apply);
  log.setSnapshotSource((partition) => [...sums].filter(([key]) => log.partitionOf(key) === partition).map(([key, set]) => ({ key, values: [{ key, set }] })));
  const attempted = new Map<string, number[]>(KEYS.map((key) => [key, []]));
  const resolvedCount = new Map<string, number>(KEYS.map((key) => [key, 0]));
  fs.killAt(killAfter, mode);
  let n = 1;
  for (let wave = 0; wave < 40 && !fs.killed; wave++) {
    await Promise.allSettled(
      KEYS.flatMap((key) =>
        [0, 1].map(() => {
          const add = n++;
          attempted.get(key)!.push(add);
          const index = attempted.get(key)!.length;
          // The owner applies when it appends, or once the append resolves (the two ways StateLog serves).
          if (isAppliedOnAppend) for (let i = 0; i < 2; i++) apply({ key, add });
          return log.append(key, [{ key, add }, { key, add }]).then(() => {
            if (!isAppliedOnAppend) for (let i = 0; i < 2; i++) apply({ key, add });
            resolvedCount.set(key, Math.max(resolvedCount.get(key)!, index));
          });
        }),
      ),
    );
  }
  const wasKilled = fs.killed;
  await fs.kill();
  await log.close();
  await logs.close().catch(() => undefined);
  return { attempted, resolvedCount, wasKilled };
}

describe('StateLog under SIGKILL (KillableFileSystem)', () => {
  let root: { path: string; remove: () => Promise<void> };
  beforeAll(async () => {
    root = await makeTempDir('strata-state-log-crash-');
  });
  afterAll(async () => {
    await root.remove();
  });

  it.each([
    { owner: 'applies once an append resolves', isAppliedOnAppend: false },
    { owner: 'applies when it appends', isAppliedOnAppend: true },
  ])('loses no append that resolved, and keeps each append whole or not at all, at every kill point (writes, fsyncs, rolls, compactions): an owner that $owner', async ({ isAppliedOnAppend }) => {
    const modes: KillMode[] = [{ when: 'before' }, { when: 'after' }, { when: 'torn', keepBytes: (total) => Math.floor(total / 2) }];
    let caseNumber = 0;
    let killedCount = 0;
    for (let killAfter = 3; killAfter <= 400; killAfter += 23) {
      for (const mode of modes) {
        const dataDir = join(root.path, `case-${isAppliedOnAppend}-${caseNumber++}`);
        const { attempted, resolvedCount, wasKilled } = await crashRun(dataDir, killAfter, mode, isAppliedOnAppend);
        if (wasKilled) killedCount++;
        const logs = await LogManager.open({ dataDir, logger: silentLogger });
        try {
          const log = await openStateLog(logs);
          const sums = new Map<string, number>();
          const { skipped, damagedPartitions } = await log.replay(applyTo(sums));
          const where = `kill after ${killAfter} operations (${mode.when})`;
          expect(skipped, where).toBe(0);
          expect(damagedPartitions.size, where).toBe(0);
          for (const key of KEYS) {
            // The replayed sum must be that of a prefix of the appends attempted (each append whole:
            // a half-written one would add n once, which no prefix gives), at least the resolved ones.
            const prefixSums = [0];
            for (const add of attempted.get(key)!) prefixSums.push(prefixSums.at(-1)! + 2 * add);
            const kept = prefixSums.indexOf(sums.get(key) ?? 0);
            expect(kept, `${where}: key ${key} replays to ${sums.get(key)}, no prefix of ${attempted.get(key)!.join(',')}`).toBeGreaterThanOrEqual(0);
            expect(kept, `${where}: key ${key} lost a resolved append`).toBeGreaterThanOrEqual(resolvedCount.get(key)!);
          }
          await log.close();
        } finally {
          await logs.close();
        }
      }
    }
    // The kill points fall inside the runs, not after them.
    expect(killedCount).toBeGreaterThan(caseNumber * 0.8);
  }, 120_000);
});
