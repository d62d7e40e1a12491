import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import { LogManager, type LogManagerOptions } from '../../src/storage/log-manager.js';
import { decodeAll, makeBatch } from './batches.js';
import { readAllBatches } from './open-log.js';
import { makeTempDir } from './temp-dir.js';

export const START_MS = 1_700_000_000_000;

export const exists = (path: string): Promise<boolean> =>
  stat(path).then(
    () => true,
    () => false,
  );

/**
 * For a describe block of LogManager tests: a fresh data dir and manual clock per test, managers
 * opened on it and all closed after the test, and the helpers the tests read the directory with.
 */
export function useLogManagerFixture(tempPrefix: string) {
  const state = { dataDir: '', clock: new ManualClock(START_MS) };
  let dir: { path: string; remove: () => Promise<void> } | undefined;
  const managers: LogManager[] = [];
  beforeEach(async () => {
    dir = await makeTempDir(tempPrefix);
    state.dataDir = join(dir.path, 'data');
    state.clock = new ManualClock(START_MS);
  });
  afterEach(async () => {
    await Promise.all(managers.splice(0).map((m) => m.close()));
    await dir?.remove();
  });
  return {
    get dataDir(): string {
      return state.dataDir;
    },
    get clock(): ManualClock {
      return state.clock;
    },
    /** Opens a manager on the test's data dir; every one is closed after the test. */
    async open(options: Partial<LogManagerOptions> = {}): Promise<LogManager> {
      const manager = await LogManager.open({ dataDir: state.dataDir, logger: silentLogger, clock: state.clock, ...options });
      managers.push(manager);
      return manager;
    },
    append(manager: LogManager, topic: string, partition: number, label: string, recordCount = 1, valueBytes = 0) {
      return manager.partition(topic, partition).append(makeBatch(label, recordCount, { timestampMs: state.clock.nowMs(), valueBytes }));
    },
    async values(manager: LogManager, topic: string, partition: number): Promise<string[]> {
      return decodeAll(await readAllBatches(manager.partition(topic, partition))).map((r) => r.value);
    },
    /** Names in the data dir other than the lock, the marker and their temporary files. */
    async topicEntries(): Promise<string[]> {
      return (await readdir(state.dataDir)).filter((name) => !name.startsWith('@')).sort();
    },
  };
}
