import { describe, expect, it } from 'vitest';
import { resetOffsetFor } from '../../src/groups/offset-reset.js';
import { FakePartition } from '../helpers/fake-topic-logs.js';

describe('resetOffsetFor (the arithmetic of groups reset-offsets)', () => {
  // Offsets [100, 200); the record at offset n was written at n seconds.
  const log = new FakePartition(100, 200);

  it('goes to the log start or the high watermark for earliest and latest, whatever was committed', async () => {
    expect(await resetOffsetFor({ point: 'earliest' }, 150, log)).toBe(100);
    expect(await resetOffsetFor({ point: 'latest' }, 150, log)).toBe(200);
    expect(await resetOffsetFor({ point: 'latest' }, -1, log)).toBe(200);
  });

  it('takes an offset as given inside the log, clamped into [logStartOffset, highWatermark] outside it', async () => {
    expect(await resetOffsetFor({ offset: 123 }, -1, log)).toBe(123);
    expect(await resetOffsetFor({ offset: 5 }, -1, log)).toBe(100);
    expect(await resetOffsetFor({ offset: 5_000 }, -1, log)).toBe(200);
  });

  it('finds the first record at or after a timestamp, and the high watermark past the last one', async () => {
    expect(await resetOffsetFor({ timestampMs: 150_000 }, -1, log)).toBe(150);
    expect(await resetOffsetFor({ timestampMs: 150_001 }, -1, log)).toBe(151);
    expect(await resetOffsetFor({ timestampMs: 0 }, 170, log)).toBe(100);
    expect(await resetOffsetFor({ timestampMs: 10_000_000 }, 170, log)).toBe(200);
  });

  it('shifts from the committed offset, or from the log start when nothing is committed, clamped', async () => {
    expect(await resetOffsetFor({ shiftBy: -10 }, 150, log)).toBe(140);
    expect(await resetOffsetFor({ shiftBy: 10 }, 150, log)).toBe(160);
    expect(await resetOffsetFor({ shiftBy: 10 }, -1, log)).toBe(110);
    expect(await resetOffsetFor({ shiftBy: -500 }, 150, log)).toBe(100);
    expect(await resetOffsetFor({ shiftBy: 500 }, 150, log)).toBe(200);
    // A committed offset retention has passed shifts from where it is, then lands in the log.
    expect(await resetOffsetFor({ shiftBy: 20 }, 90, log)).toBe(110);
  });

  it('lands on the one offset an empty log has', async () => {
    const empty = new FakePartition(7, 7);
    for (const target of [{ point: 'earliest' as const }, { point: 'latest' as const }, { offset: 0 }, { timestampMs: 1 }, { shiftBy: 3 }]) {
      expect(await resetOffsetFor(target, -1, empty)).toBe(7);
    }
  });
});
