import { afterEach, describe, expect, it } from 'vitest';
import { Broker } from '../../src/broker/broker.js';
import { ManualClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import type { LogManager } from '../../src/storage/log-manager.js';
import type { PartitionLog } from '../../src/storage/partition-log.js';
import { makeBatch } from '../helpers/batches.js';
import { openLog } from '../helpers/open-log.js';
import { makeTempDir } from '../helpers/temp-dir.js';

describe('Broker.fetch (long poll)', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });

  async function brokerWithLog(): Promise<{ broker: Broker; log: PartitionLog }> {
    const dir = await makeTempDir();
    const log = await openLog(dir.path, { config: { flush: 'interval' } });
    cleanups.push(async () => {
      await log.close();
      await dir.remove();
    });
    // A clock that never moves: a fetch that waits for its deadline would never come back.
    return { broker: new Broker({ partition: () => log } as unknown as LogManager, new ManualClock(0), silentLogger), log };
  }

  it('answers at once when maxBytes cut the read short, even below minBytes (the rest is already in the log)', async () => {
    const { broker, log } = await brokerWithLog();
    for (let i = 0; i < 6; i++) await log.append(makeBatch(`b${i}`, 1, { valueBytes: 500 }));
    const fetched = broker.fetch('t', 0, 0, { maxBytes: 1_000, minBytes: 1_000, maxWaitMs: 60_000, waitForFirstData: false });
    const result = await Promise.race([fetched, new Promise<'waited'>((r) => setTimeout(() => r('waited'), 2_000))]);
    expect(result).not.toBe('waited');
    const read = result as Awaited<typeof fetched>;
    expect(read.batches.length).toBeGreaterThan(0);
    expect(read.nextOffset).toBeLessThan(read.highWatermark);
  });

  it('still waits for minBytes when everything there was read and it is less', async () => {
    const { broker, log } = await brokerWithLog();
    await log.append(makeBatch('small', 1));
    const fetched = broker.fetch('t', 0, 0, { maxBytes: 1_000_000, minBytes: 100_000, maxWaitMs: 60_000, waitForFirstData: false });
    // Not race guards: the 300 ms windows below are ones in which no answer may come (the broker's
    // clock is manual and never reaches the deadline, so only a wrong early answer ends the wait).
    const result = await Promise.race([fetched, new Promise<'waited'>((r) => setTimeout(() => r('waited'), 300))]);
    expect(result).toBe('waited');
    // More data arrives: still below minBytes, so it keeps waiting (the clock never reaches the deadline).
    await log.append(makeBatch('more', 1));
    expect(await Promise.race([fetched.then(() => 'answered'), new Promise((r) => setTimeout(() => r('waited'), 300))])).toBe('waited');
  });
});
