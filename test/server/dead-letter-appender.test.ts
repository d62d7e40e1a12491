import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Broker } from '../../src/broker/broker.js';
import { TopicAdmin } from '../../src/broker/topic-admin.js';
import { ManualClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import { decodeRecordBatch, iterateBatches, type DecodedRecord } from '../../src/format/index.js';
import type { DeadLetter } from '../../src/queues/queue-coordinator-api.js';
import { DeadLetterAppender } from '../../src/server/dead-letter-appender.js';
import { LogManager } from '../../src/storage/log-manager.js';
import { rejection } from '../helpers/rejection.js';
import { makeTempDir } from '../helpers/temp-dir.js';

/** The dead-letter writer over a real log manager and broker in a temp dir. */
describe('DeadLetterAppender', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let logs: LogManager;
  let admin: TopicAdmin;
  let appender: DeadLetterAppender;
  beforeEach(async () => {
    dir = await makeTempDir();
    logs = await LogManager.open({ dataDir: dir.path, logger: silentLogger });
    admin = new TopicAdmin(logs, { largestBatchBytes: 1024 * 1024 });
    appender = new DeadLetterAppender(new Broker(logs, new ManualClock(0), silentLogger), admin);
  });
  afterEach(async () => {
    await logs.close();
    await dir.remove();
  });

  const letter = (sourcePartition: number, value: string, bytes = 0): DeadLetter => ({
    sourcePartition,
    key: Buffer.from(`k-${value}`),
    value: bytes > 0 ? Buffer.alloc(bytes, 1) : Buffer.from(value),
    headers: [{ key: 'strata.dlq.source-offset', value: Buffer.from('7') }],
    timestampMs: 1_700_000_000_123,
  });
  const readAll = async (topic: string, partition: number): Promise<DecodedRecord[]> => {
    const { batches } = await logs.partition(topic, partition).read(0, 64 * 1024 * 1024);
    return [...iterateBatches(batches)].flatMap(({ position }) => decodeRecordBatch(batches, position).records);
  };

  it('creates the dead-letter topic with the source partition count and appends to the source partition, record kept whole', async () => {
    await appender.append('orders.dlq', 3, [letter(2, 'a'), letter(2, 'b')]);
    expect(logs.partitionCount('orders.dlq')).toBe(3);
    const records = await readAll('orders.dlq', 2);
    expect(records.map((r) => [r.key?.toString(), r.value?.toString(), r.timestampMs, r.headers])).toEqual([
      ['k-a', 'a', 1_700_000_000_123, [{ key: 'strata.dlq.source-offset', value: Buffer.from('7') }]],
      ['k-b', 'b', 1_700_000_000_123, [{ key: 'strata.dlq.source-offset', value: Buffer.from('7') }]],
    ]);
    // Visible: the topic flushes always (the default), so durable.
    expect(logs.partition('orders.dlq', 2).highWatermark).toBe(2);
  });

  it('uses a dead-letter topic that exists, with another partition count: source partition modulo its count', async () => {
    await admin.createTopic('jobs.dlq', 2, {});
    await appender.append('jobs.dlq', 5, [letter(3, 'x')]);
    expect(logs.partitionCount('jobs.dlq')).toBe(2);
    expect((await readAll('jobs.dlq', 1)).map((r) => r.value?.toString())).toEqual(['x']);
  });

  it('takes a topic created by someone else at the same moment (TOPIC_ALREADY_EXISTS is no failure)', async () => {
    await Promise.all([appender.append('race.dlq', 1, [letter(0, 'one')]), appender.append('race.dlq', 1, [letter(0, 'two')])]);
    expect((await readAll('race.dlq', 0)).map((r) => r.value?.toString()).sort()).toEqual(['one', 'two']);
  });

  it('splits letters into appends within max.message.bytes, and fails (a typed error) for a letter that can never fit', async () => {
    await admin.createTopic('big.dlq', 1, { 'max.message.bytes': String(64 * 1024) });
    await appender.append('big.dlq', 1, Array.from({ length: 6 }, (_, i) => letter(0, `v${i}`, 20 * 1024)));
    expect(await readAll('big.dlq', 0)).toHaveLength(6);
    const tooLarge = await rejection(appender.append('big.dlq', 1, [letter(0, 'huge', 100 * 1024)]));
    expect(tooLarge.code).toBe('BATCH_TOO_LARGE');
    expect(await readAll('big.dlq', 0)).toHaveLength(6);
  });
});
