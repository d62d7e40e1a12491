import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MAX_BATCH_BYTES_LIMIT } from '../../src/core/limits.js';
import {
  BASE_OFFSET_POSITION,
  BATCH_LENGTH_POSITION,
  LAST_OFFSET_DELTA_POSITION,
  LEGACY_PARTITION_LEADER_EPOCH,
  MAGIC_POSITION,
  PARTITION_LEADER_EPOCH_POSITION,
  RECORD_COUNT_POSITION,
  STORED_PARTITION_LEADER_EPOCH,
} from '../../src/format/record-batch-layout.js';
import { encodeRecordBatch, iterateBatches } from '../../src/format/record-batch-codec.js';
import { readBatchHeader } from '../../src/format/record-batch.js';
import { batchHeaderFault, offsetAfterBatch } from '../../src/storage/batch-header-check.js';
import { makeBatch } from '../helpers/batches.js';
import { openLog, readAllBatches } from '../helpers/open-log.js';
import { useTempDir } from '../helpers/temp-dir.js';

/** A stored batch of three records at base offset 40, as the broker leaves it. */
function storedBatch(): Buffer {
  const batch = encodeRecordBatch([{ value: 'a' }, { value: 'b' }, { value: 'c' }], { baseOffset: 40 });
  return batch;
}

describe('batchHeaderFault', () => {
  it('passes a stored header at its expected offset and says where the next one starts', () => {
    const batch = storedBatch();
    expect(batchHeaderFault(batch, 0, 40, batch.length)).toBeUndefined();
    expect(offsetAfterBatch(batch, 0, 40)).toBe(43);
    // More of the segment after it is fine; the kafkajs epoch 0 is accepted.
    batch.writeInt32BE(LEGACY_PARTITION_LEADER_EPOCH, PARTITION_LEADER_EPOCH_POSITION);
    expect(batchHeaderFault(batch, 0, 40, batch.length + 500)).toBeUndefined();
  });

  it('names each field the CRC does not cover when it is wrong', () => {
    const cases: Array<[string, (b: Buffer) => void, RegExp]> = [
      ['baseOffset', (b) => b.writeInt32BE(41, BASE_OFFSET_POSITION + 4), /baseOffset is 41 where 40/],
      ['baseOffset high word', (b) => b.writeInt32BE(1, BASE_OFFSET_POSITION), /baseOffset is 4294967336 where 40/],
      ['batchLength too small', (b) => b.writeInt32BE(10, BATCH_LENGTH_POSITION), /batchLength says 22 bytes/],
      ['batchLength too large', (b) => b.writeInt32BE(MAX_BATCH_BYTES_LIMIT, BATCH_LENGTH_POSITION), /batchLength says/],
      ['batchLength past the segment', (b) => b.writeInt32BE(b.readInt32BE(BATCH_LENGTH_POSITION) + 1, BATCH_LENGTH_POSITION), /cut off by the end of the segment/],
      ['partitionLeaderEpoch', (b) => b.writeInt32BE(7, PARTITION_LEADER_EPOCH_POSITION), /partitionLeaderEpoch is 7/],
      ['magic', (b) => b.writeInt8(3, MAGIC_POSITION), /magic is 3/],
      ['lastOffsetDelta', (b) => b.writeInt32BE(5, LAST_OFFSET_DELTA_POSITION), /lastOffsetDelta 5 does not fit recordCount 3/],
      ['recordCount', (b) => b.writeInt32BE(0, RECORD_COUNT_POSITION), /recordCount 0/],
    ];
    for (const [field, damage, reason] of cases) {
      const batch = storedBatch();
      damage(batch);
      expect(batchHeaderFault(batch, 0, 40, batch.length), field).toMatch(reason);
    }
  });

  it('pins the epoch Strata stores and the one it also accepts', () => {
    expect({ STORED_PARTITION_LEADER_EPOCH, LEGACY_PARTITION_LEADER_EPOCH }).toEqual({ STORED_PARTITION_LEADER_EPOCH: -1, LEGACY_PARTITION_LEADER_EPOCH: 0 });
  });
});

describe('stored batch headers in a partition log', () => {
  const dir = useTempDir({ each: true });

  it('answers a search by time that meets a damaged header with DATA_LOSS, not "no such time"', async () => {
    const config = { 'index.interval.bytes': '256' };
    const first = await openLog(dir.path, { config });
    for (let i = 0; i < 30; i++) await first.append(makeBatch(`b${i}`, 2, { timestampMs: 1_000_000 + 1000 * i }));
    await first.close();
    const segment = join(dir.path, '00000000000000000000.log');
    const victim = [...iterateBatches(await readFile(segment))][20]!;
    const log = await openLog(dir.path, { config, isCleanShutdown: true });
    try {
      expect(await log.offsetForTimestamp(1_000_000 + 1000 * 20)).toBe(40);
      const file = await open(segment, 'r+');
      await file.write(Buffer.from([0x7f]), 0, 1, victim.position + BASE_OFFSET_POSITION + 7);
      await file.close();
      await expect(log.offsetForTimestamp(1_000_000 + 1000 * 20)).rejects.toMatchObject({ code: 'DATA_LOSS', segmentPath: segment, position: victim.position });
    } finally {
      await log.close();
    }
  });

  it('is stamped -1 on append whatever the producer wrote, so reads can check it', async () => {
    const log = await openLog(dir.path);
    try {
      const batch = encodeRecordBatch([{ value: 'x' }, { value: 'y' }], { partitionLeaderEpoch: 12345 });
      expect(readBatchHeader(batch).partitionLeaderEpoch).toBe(12345);
      await log.append(batch);
      await log.append(makeBatch('second', 2));
      const stored = await readAllBatches(log);
      const epochs = [...iterateBatches(stored)].map((b) => b.header.partitionLeaderEpoch);
      expect(epochs).toEqual([STORED_PARTITION_LEADER_EPOCH, STORED_PARTITION_LEADER_EPOCH]);
    } finally {
      await log.close();
    }
  });
});
