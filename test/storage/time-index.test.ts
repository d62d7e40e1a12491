import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AssertionError } from '../../src/core/assert.js';
import { MAX_RELATIVE_OFFSET } from '../../src/core/limits.js';
import { TIME_INDEX_ENTRY_BYTES, TimeIndex, type TimeIndexEntry } from '../../src/storage/time-index.js';

/** Candidate (timestamp, offset) pairs as a segment produces them: offsets rise, timestamps wander. */
const candidatesArbitrary = fc
  .record({
    baseOffset: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 2 ** 40 })),
    steps: fc.array(
      fc.record({
        offsetStep: fc.integer({ min: 1, max: 300 }),
        // Mostly small moves in both directions, sometimes a jump; duplicates are frequent.
        timestampStep: fc.oneof(fc.integer({ min: -20, max: 20 }), fc.integer({ min: -1e9, max: 1e12 })),
      }),
      { maxLength: 200 },
    ),
    firstTimestampMs: fc.oneof(fc.constant(1_700_000_000_000), fc.integer({ min: -1e12, max: 4e12 })),
  })
  .map(({ baseOffset, steps, firstTimestampMs }) => {
    const candidates: TimeIndexEntry[] = [];
    let relative = -1;
    let timestampMs = firstTimestampMs;
    for (const step of steps) {
      relative += step.offsetStep;
      timestampMs += step.timestampStep;
      candidates.push({ timestampMs, offset: baseOffset + relative });
    }
    return { baseOffset, candidates };
  });

/** The oracle for maybeAppend: keep a candidate only if it raises the largest timestamp kept so far. */
function keptEntries(candidates: readonly TimeIndexEntry[]): TimeIndexEntry[] {
  const kept: TimeIndexEntry[] = [];
  for (const c of candidates) if (kept.length === 0 || c.timestampMs > kept.at(-1)!.timestampMs) kept.push(c);
  return kept;
}

/** The oracle for lastEntryBefore: a linear scan for the last entry strictly below the timestamp. */
function scanBefore(entries: readonly TimeIndexEntry[], timestampMs: number): TimeIndexEntry | undefined {
  let found: TimeIndexEntry | undefined;
  for (const entry of entries) if (entry.timestampMs < timestampMs) found = entry;
  return found;
}

/** Encodes entries by hand: int64 BE timestamp, uint32 BE relative offset. */
function rawIndex(baseOffset: number, entries: ReadonlyArray<readonly [number, number]>): Buffer {
  const out = Buffer.alloc(entries.length * 12);
  entries.forEach(([timestampMs, offset], i) => {
    out.writeBigInt64BE(BigInt(timestampMs), i * 12);
    out.writeUInt32BE(offset - baseOffset, i * 12 + 8);
  });
  return out;
}

function build(baseOffset: number, candidates: readonly TimeIndexEntry[]): TimeIndex {
  const index = new TimeIndex(baseOffset);
  for (const c of candidates) index.maybeAppend(c.timestampMs, c.offset);
  return index;
}

describe('TimeIndex format', () => {
  it('pins the entry size: int64 timestamp + uint32 relative offset', () => {
    expect(TIME_INDEX_ENTRY_BYTES).toBe(12);
  });

  it('encodes each entry as big-endian int64 timestamp then uint32 relative offset, no header', () => {
    const index = new TimeIndex(500);
    index.maybeAppend(0x0102_0304_0506, 503);
    index.maybeAppend(1_700_000_000_000, 500 + 0x0a0b0c0d);
    expect(index.encode().toString('hex')).toBe(
      '0000010203040506' + '00000003' + (1_700_000_000_000).toString(16).padStart(16, '0') + '0a0b0c0d',
    );
    expect(new TimeIndex(0).encode().length).toBe(0);
  });

  it('writes timestamps as signed two-complement int64 and relative offsets as unsigned', () => {
    const index = new TimeIndex(0);
    index.maybeAppend(-2, MAX_RELATIVE_OFFSET - 1);
    expect(index.encode().toString('hex')).toBe('fffffffffffffffe' + 'fffffffe');
    const decoded = TimeIndex.decode(0, index.encode(), MAX_RELATIVE_OFFSET);
    expect(decoded?.lastEntry()).toEqual({ timestampMs: -2, offset: MAX_RELATIVE_OFFSET - 1 });
  });
});

describe('TimeIndex.maybeAppend and lastEntryBefore', () => {
  it('keeps only entries that raise the largest timestamp (hand example)', () => {
    const index = new TimeIndex(0);
    index.maybeAppend(100, 3);
    index.maybeAppend(100, 5); // equal: ignored
    index.maybeAppend(90, 7); // lower: ignored
    index.maybeAppend(150, 9);
    expect(index.entryCount).toBe(2);
    expect(index.lastEntry()).toEqual({ timestampMs: 150, offset: 9 });
    expect(index.lastEntryBefore(100)).toBeUndefined();
    expect(index.lastEntryBefore(101)).toEqual({ timestampMs: 100, offset: 3 });
    expect(index.lastEntryBefore(150)).toEqual({ timestampMs: 100, offset: 3 });
    expect(index.lastEntryBefore(151)).toEqual({ timestampMs: 150, offset: 9 });
  });

  it('ignores a non-increasing timestamp even when its offset does not increase either', () => {
    const index = new TimeIndex(0);
    index.maybeAppend(100, 10);
    expect(() => index.maybeAppend(100, 10)).not.toThrow();
    expect(() => index.maybeAppend(50, 4)).not.toThrow();
    expect(index.entryCount).toBe(1);
  });

  it('refuses a raised timestamp at a non-increasing offset, an offset outside the segment, or an unsafe timestamp', () => {
    const index = new TimeIndex(10);
    index.maybeAppend(100, 20);
    expect(() => index.maybeAppend(200, 20)).toThrow(AssertionError);
    expect(() => index.maybeAppend(200, 19)).toThrow(AssertionError);
    expect(() => index.maybeAppend(200, 9)).toThrow(AssertionError);
    expect(() => index.maybeAppend(200, 10 + MAX_RELATIVE_OFFSET + 1)).toThrow(AssertionError);
    expect(() => index.maybeAppend(2 ** 60, 30)).toThrow(AssertionError);
    expect(() => index.maybeAppend(200.5, 30)).toThrow(AssertionError);
    expect(index.entryCount).toBe(1);
  });

  it('matches the oracles for any candidate sequence: kept entries, bytes, lastEntryBefore', () => {
    fc.assert(
      fc.property(candidatesArbitrary, fc.array(fc.integer({ min: -1e12, max: 5e12 }), { maxLength: 30 }), ({ baseOffset, candidates }, probes) => {
        const index = build(baseOffset, candidates);
        const kept = keptEntries(candidates);
        expect(index.entryCount).toBe(kept.length);
        expect(index.lastEntry()).toEqual(kept.at(-1));
        expect(index.encode().equals(rawIndex(baseOffset, kept.map((e) => [e.timestampMs, e.offset])))).toBe(true);
        const timestamps = new Set<number>(probes);
        for (const c of candidates) for (const d of [-1, 0, 1]) timestamps.add(c.timestampMs + d);
        for (const timestampMs of timestamps) {
          expect(index.lastEntryBefore(timestampMs), `lastEntryBefore(${timestampMs})`).toEqual(scanBefore(kept, timestampMs));
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('TimeIndex.encode / decode', () => {
  it('round-trips any index built by maybeAppend', () => {
    fc.assert(
      fc.property(candidatesArbitrary, fc.integer({ min: 1, max: 100 }), ({ baseOffset, candidates }, slack) => {
        const index = build(baseOffset, candidates);
        const encoded = index.encode();
        expect(encoded.length).toBe(index.entryCount * TIME_INDEX_ENTRY_BYTES);
        const nextOffset = (candidates.at(-1)?.offset ?? baseOffset) + slack;
        const decoded = TimeIndex.decode(baseOffset, encoded, nextOffset);
        expect(decoded).toBeDefined();
        expect(decoded!.entryCount).toBe(index.entryCount);
        expect(decoded!.lastEntry()).toEqual(index.lastEntry());
        expect(decoded!.encode().equals(encoded)).toBe(true);
        for (const entry of keptEntries(candidates)) {
          expect(decoded!.lastEntryBefore(entry.timestampMs + 1)).toEqual(entry);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('accepts an empty file as an empty index', () => {
    expect(TimeIndex.decode(0, Buffer.alloc(0), 0)?.entryCount).toBe(0);
  });

  it('rejects a size that is not a whole number of entries', () => {
    const valid = rawIndex(0, [
      [100, 2],
      [200, 5],
    ]);
    expect(TimeIndex.decode(0, valid, 10)).toBeDefined();
    for (let extra = 1; extra < TIME_INDEX_ENTRY_BYTES; extra++) {
      expect(TimeIndex.decode(0, Buffer.concat([valid, Buffer.alloc(extra)]), 10), `+${extra} bytes`).toBeUndefined();
      expect(TimeIndex.decode(0, valid.subarray(0, valid.length - extra), 10), `-${extra} bytes`).toBeUndefined();
    }
  });

  it('rejects timestamps that do not strictly increase', () => {
    expect(TimeIndex.decode(0, rawIndex(0, [[100, 2], [100, 5]]), 10)).toBeUndefined();
    expect(TimeIndex.decode(0, rawIndex(0, [[100, 2], [99, 5]]), 10)).toBeUndefined();
  });

  it('rejects offsets that do not strictly increase', () => {
    expect(TimeIndex.decode(0, rawIndex(0, [[100, 5], [200, 5]]), 10)).toBeUndefined();
    expect(TimeIndex.decode(0, rawIndex(0, [[100, 5], [200, 4]]), 10)).toBeUndefined();
  });

  it('rejects an offset at or past the segment end, and accepts the last offset', () => {
    const entries: Array<[number, number]> = [
      [100, 1002],
      [200, 1009],
    ];
    expect(TimeIndex.decode(1000, rawIndex(1000, entries), 1010)).toBeDefined();
    expect(TimeIndex.decode(1000, rawIndex(1000, entries), 1009)).toBeUndefined();
    expect(TimeIndex.decode(1000, rawIndex(1000, entries), 1003)).toBeUndefined();
    expect(TimeIndex.decode(1000, rawIndex(1000, [[100, 1000]]), 1000)).toBeUndefined();
  });

  it('rejects a timestamp a JS number cannot hold exactly, instead of rounding it', () => {
    const data = Buffer.alloc(12);
    data.writeBigInt64BE(2n ** 62n + 1n, 0);
    data.writeUInt32BE(0, 8);
    expect(TimeIndex.decode(0, data, 1)).toBeUndefined();
    data.writeBigInt64BE(-(2n ** 62n) - 1n, 0);
    expect(TimeIndex.decode(0, data, 1)).toBeUndefined();
  });
});
