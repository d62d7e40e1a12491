import { describe, expect, it } from 'vitest';
import { Broker } from '../../src/broker/broker.js';
import { ManualClock } from '../../src/core/clock.js';
import { StorageFailedError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import { encodeRecordBatch } from '../../src/format/record-batch-codec.js';
import type { LogManager } from '../../src/storage/log-manager.js';
import { FaultyFileSystem, noSpaceError } from '../helpers/faulty-file-system.js';
import { openLog } from '../helpers/open-log.js';
import { useTempDir } from '../helpers/temp-dir.js';

const batch = (baseSequence: number, count: number): Buffer =>
  encodeRecordBatch(
    Array.from({ length: count }, (_, i) => ({ value: `v${baseSequence + i}`, timestampMs: 0 })),
    { producerId: 7, producerEpoch: 0, baseSequence },
  );

describe('Broker.produce on a full disk', () => {
  const dir = useTempDir({ each: true });

  it('forgets the sequences of appends the full disk refused, so the same batches sent again are in order', async () => {
    const fs = new FaultyFileSystem();
    const log = await openLog(dir.path, { fs });
    const broker = new Broker({ partition: () => log } as unknown as LogManager, new ManualClock(0), silentLogger);
    expect((await broker.produce('t', 0, batch(0, 2), 'durable')).baseOffset).toBe(0);
    fs.beforeWritev = () => {
      throw noSpaceError();
    };
    // Two requests in flight: the second was queued behind the failed write and fails too.
    const refused = await Promise.allSettled([broker.produce('t', 0, batch(2, 3), 'durable'), broker.produce('t', 0, batch(5, 1), 'durable')]);
    expect(refused.map((r) => r.status === 'rejected' && r.reason instanceof StorageFailedError)).toEqual([true, true]);
    fs.beforeWritev = undefined;
    expect(await broker.produce('t', 0, batch(2, 3), 'durable')).toMatchObject({ baseOffset: 2, lastOffset: 4, isDuplicate: false });
    expect(await broker.produce('t', 0, batch(5, 1), 'durable')).toMatchObject({ baseOffset: 5, lastOffset: 5, isDuplicate: false });
    // A retry of one that was written is still recognised.
    expect(await broker.produce('t', 0, batch(2, 3), 'durable')).toMatchObject({ baseOffset: 2, lastOffset: 4, isDuplicate: true });
    await log.close();
  });
});
