import { describe, expect, it } from 'vitest';
import { bytesFrom, offsetKeepingBytes, type SegmentSizes } from '../../src/storage/partition-overflow.js';

/** A segment of `count` batches of one record and `batchBytes` each, every batch indexed. */
function segment(baseOffset: number, count: number, batchBytes: number): SegmentSizes {
  return {
    baseOffset,
    nextOffset: baseOffset + count,
    sizeBytes: count * batchBytes,
    positionAtOrBefore: (offset) => (Math.min(Math.max(offset, baseOffset), baseOffset + count) - baseOffset) * batchBytes,
    batchOffsetAtOrAfter: (position) => (position > count * batchBytes ? baseOffset + count : baseOffset + Math.ceil(position / batchBytes)),
  };
}

describe('unconsumed bytes in whole batches', () => {
  const segments = [segment(0, 4, 100), segment(4, 4, 100), segment(8, 2, 100)];

  it('bytesFrom sums the batches from the one holding the offset to the end', () => {
    expect(bytesFrom(segments, 0)).toBe(1000);
    expect(bytesFrom(segments, 5)).toBe(500);
    expect(bytesFrom(segments, 8)).toBe(200);
    expect(bytesFrom(segments, 9)).toBe(100);
    expect(bytesFrom(segments, 10)).toBe(0);
    expect(bytesFrom([...segments, segment(10, 0, 100)], 9)).toBe(100);
  });

  it('offsetKeepingBytes is the first batch from which at most maxBytes remain, never below the log start', () => {
    expect(offsetKeepingBytes(segments, 1000, 0)).toBe(0);
    expect(offsetKeepingBytes(segments, 999, 0)).toBe(1);
    expect(offsetKeepingBytes(segments, 250, 0)).toBe(8);
    expect(offsetKeepingBytes(segments, 300, 0)).toBe(7);
    expect(offsetKeepingBytes(segments, 0, 0)).toBe(10);
    expect(offsetKeepingBytes(segments, 5000, 3)).toBe(3);
    for (const maxBytes of [0, 50, 100, 150, 999, 1000]) expect(bytesFrom(segments, offsetKeepingBytes(segments, maxBytes, 0))).toBeLessThanOrEqual(maxBytes);
  });
});
