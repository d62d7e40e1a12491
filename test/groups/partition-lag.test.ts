import { describe, expect, it } from 'vitest';
import { ageOfRecordAt, lagRecords, nextOffsetToRead } from '../../src/groups/partition-lag.js';
import { FakePartition } from '../helpers/fake-topic-logs.js';

describe('partition lag', () => {
  const log = new FakePartition(100, 200);

  it('counts records from the committed offset, or from the log start when none or retention passed it', () => {
    expect(nextOffsetToRead(150, 100)).toBe(150);
    expect(nextOffsetToRead(-1, 100)).toBe(100);
    expect(nextOffsetToRead(40, 100)).toBe(100);
    expect(lagRecords(150, log)).toBe(50);
    expect(lagRecords(-1, log)).toBe(100);
    expect(lagRecords(40, log)).toBe(100);
    expect(lagRecords(200, log)).toBe(0);
  });

  it('is never negative, even for a commit past the high watermark', () => {
    expect(lagRecords(250, log)).toBe(0);
  });

  it('measures time as the age of the next record to read, 0 when caught up, without a read then', async () => {
    const partition = new FakePartition(100, 200);
    expect(await ageOfRecordAt(partition, 150, 180_000)).toBe(30_000);
    expect(await ageOfRecordAt(partition, 100, 100_000)).toBe(0);
    // A clock behind the record's timestamp is 0, not negative.
    expect(await ageOfRecordAt(partition, 150, 0)).toBe(0);
    const reads = partition.readCount;
    expect(await ageOfRecordAt(partition, 200, 500_000)).toBe(0);
    expect(partition.readCount).toBe(reads);
  });

  it('reads a record for its timestamp once, then remembers a few per partition (a scrape describes every group again and again)', async () => {
    const partition = new FakePartition(100, 200);
    expect(await ageOfRecordAt(partition, 150, 180_000)).toBe(30_000);
    const reads = partition.readCount;
    expect(await ageOfRecordAt(partition, 150, 190_000)).toBe(40_000);
    expect(partition.readCount).toBe(reads);
    // Four offsets are remembered; a fifth pushes out the oldest (150), which is read again.
    for (const offset of [160, 170, 180, 190]) await ageOfRecordAt(partition, offset, 200_000);
    expect(partition.readCount).toBe(reads + 4);
    expect(await ageOfRecordAt(partition, 190, 200_000)).toBe(10_000);
    expect(partition.readCount).toBe(reads + 4);
    expect(await ageOfRecordAt(partition, 150, 200_000)).toBe(50_000);
    expect(partition.readCount).toBe(reads + 5);
  });
});
