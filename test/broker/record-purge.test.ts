import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TopicAdmin } from '../../src/broker/topic-admin.js';
import { DataLossError, OffsetOutOfRangeError, PartitionNotFoundError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import { LogManager } from '../../src/storage/log-manager.js';
import { LOG_START_FILE_NAME } from '../../src/storage/log-start-file.js';
import { makeBatch } from '../helpers/batches.js';
import { FaultyFileSystem, ioError } from '../helpers/faulty-file-system.js';
import { rejection } from '../helpers/rejection.js';
import { makeTempDir } from '../helpers/temp-dir.js';

/** TopicAdmin.purgeRecords without gRPC, over a real log manager whose file system can fail. */
describe('TopicAdmin.purgeRecords', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let fs: FaultyFileSystem;
  let logs: LogManager;
  let purgedTopics: string[];
  let admin: TopicAdmin;
  beforeEach(async () => {
    dir = await makeTempDir();
    fs = new FaultyFileSystem();
    logs = await LogManager.open({ dataDir: dir.path, logger: silentLogger, fs });
    await logs.createTopic('t', 3);
    for (let p = 0; p < 3; p++) for (let i = 0; i < 4; i++) await logs.partition('t', p).append(makeBatch(`p${p}-${i}`, 5));
    purgedTopics = [];
    admin = new TopicAdmin(logs, { largestBatchBytes: 1024 * 1024, onRecordsPurged: (topic) => void purgedTopics.push(topic) });
  });
  afterEach(async () => {
    await logs.close();
    await dir.remove();
  });

  const starts = () => [0, 1, 2].map((p) => logs.partition('t', p).logStartOffset);

  it('validates without changing anything or telling anyone; purges and then tells the composition root once', async () => {
    const plan = await admin.purgeRecords('t', [{ partition: 2, before: 'all' }, { partition: 0, before: 7 }], { validateOnly: true });
    expect(plan).toEqual([
      { partition: 2, previousLogStartOffset: 0, logStartOffset: 20, purgedRecords: 20, highWatermark: 20 },
      { partition: 0, previousLogStartOffset: 0, logStartOffset: 7, purgedRecords: 7, highWatermark: 20 },
    ]);
    expect(starts()).toEqual([0, 0, 0]);
    expect(purgedTopics).toEqual([]);
    const done = await admin.purgeRecords('t', [{ partition: 2, before: 'all' }, { partition: 0, before: 7 }], { validateOnly: false });
    expect(done).toEqual(plan);
    expect(starts()).toEqual([7, 0, 20]);
    expect(purgedTopics).toEqual(['t']);
  });

  it('checks every partition before moving any: a refusal late in the list leaves the earlier ones alone', async () => {
    const past = await rejection(admin.purgeRecords('t', [{ partition: 0, before: 5 }, { partition: 1, before: 21 }], { validateOnly: false }));
    expect(past).toBeInstanceOf(OffsetOutOfRangeError);
    expect(await rejection(admin.purgeRecords('t', [{ partition: 0, before: 5 }, { partition: 3, before: 1 }], { validateOnly: false }))).toBeInstanceOf(PartitionNotFoundError);
    expect(starts()).toEqual([0, 0, 0]);
    expect(purgedTopics).toEqual([]);
  });

  it('an I/O failure midway leaves the partitions before it purged and says so to the composition root; the same request again finishes it', async () => {
    fs.failOperation = (operation, path) => {
      if (operation === 'writeFileAtomic' && path.endsWith(`/t/1/${LOG_START_FILE_NAME}`)) throw ioError('log start write');
    };
    const request = [0, 1, 2].map((partition) => ({ partition, before: 10 }));
    const failed = await rejection(admin.purgeRecords('t', request, { validateOnly: false }));
    expect(failed.message).toMatch(/injected log start write failure/);
    expect(starts()).toEqual([10, 0, 0]);
    // Queue groups must still hear of partition 0's move.
    expect(purgedTopics).toEqual(['t']);
    fs.failOperation = undefined;
    const again = await admin.purgeRecords('t', request, { validateOnly: false });
    expect(again.map((r) => [r.previousLogStartOffset, r.logStartOffset, r.purgedRecords])).toEqual([
      [10, 10, 0],
      [0, 10, 10],
      [0, 10, 10],
    ]);
    expect(starts()).toEqual([10, 10, 10]);
  });

  it('a partition that refuses service (data loss) refuses the purge', async () => {
    // Stands for a partition the log manager holds as damaged: its DataLossError is what a purge of it gets.
    const damaged = new DataLossError('t', 1, 0, 5, 'x.log', 0, 'test');
    const original = logs.partition.bind(logs);
    logs.partition = (topic, partition) => {
      if (partition === 1) throw damaged;
      return original(topic, partition);
    };
    expect(await rejection(admin.purgeRecords('t', [{ partition: 0, before: 3 }, { partition: 1, before: 3 }], { validateOnly: false }))).toBe(damaged);
    logs.partition = original;
    expect(starts()).toEqual([0, 0, 0]);
  });
});
