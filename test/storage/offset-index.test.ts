import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AssertionError } from '../../src/core/assert.js';
import { MAX_RELATIVE_OFFSET, MAX_SEGMENT_BYTES } from '../../src/core/limits.js';
import { OFFSET_INDEX_ENTRY_BYTES, OffsetIndex, type IndexEntry } from '../../src/storage/offset-index.js';

/** Strictly increasing (offset, position) entries of a segment at `baseOffset`, as appends make them. */
const indexArbitrary = fc
  .record({
    baseOffset: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 2 ** 40 })),
    steps: fc.array(fc.record({ offsetStep: fc.integer({ min: 1, max: 500 }), positionStep: fc.integer({ min: 1, max: 20_000 }) }), {
      maxLength: 200,
    }),
    // Whether the first entry may sit at relative offset 0 (a decoded file may hold one).
    startsAtBase: fc.boolean(),
  })
  .map(({ baseOffset, steps, startsAtBase }) => {
    const entries: IndexEntry[] = [];
    let relative = startsAtBase ? -1 : 0;
    let position = 0;
    for (const step of steps) {
      relative += step.offsetStep;
      position += step.positionStep;
      entries.push({ offset: baseOffset + relative, position });
    }
    return { baseOffset, entries };
  });

function build(baseOffset: number, entries: readonly IndexEntry[]): OffsetIndex {
  const index = new OffsetIndex(baseOffset);
  for (const entry of entries) index.append(entry.offset, entry.position);
  return index;
}

/** The oracle: a linear scan for the last entry at or below `offset`, else the segment start. */
function scanLookup(baseOffset: number, entries: readonly IndexEntry[], offset: number): IndexEntry {
  let found: IndexEntry = { offset: baseOffset, position: 0 };
  for (const entry of entries) if (entry.offset <= offset) found = entry;
  return found;
}

/** Encodes entries by hand, independently of OffsetIndex.encode. */
function rawIndex(baseOffset: number, entries: ReadonlyArray<readonly [number, number]>): Buffer {
  const out = Buffer.alloc(entries.length * 8);
  entries.forEach(([offset, position], i) => {
    out.writeUInt32BE(offset - baseOffset, i * 8);
    out.writeUInt32BE(position, i * 8 + 4);
  });
  return out;
}

describe('OffsetIndex format', () => {
  it('pins the entry size: uint32 relative offset + uint32 position', () => {
    expect(OFFSET_INDEX_ENTRY_BYTES).toBe(8);
  });

  it('encodes each entry as big-endian uint32 relative offset then uint32 position, no header', () => {
    const index = new OffsetIndex(1000);
    index.append(1005, 0x0102);
    index.append(1000 + 0x01020304, 0x0a0b0c0d);
    expect(index.encode().toString('hex')).toBe('00000005' + '00000102' + '01020304' + '0a0b0c0d');
    expect(new OffsetIndex(7).encode().length).toBe(0);
  });

  it('uses the full unsigned range of both columns (no sign bit, no truncation)', () => {
    const index = new OffsetIndex(2 ** 40);
    index.append(2 ** 40 + MAX_RELATIVE_OFFSET, MAX_SEGMENT_BYTES);
    expect(index.encode().toString('hex')).toBe('ffffffff' + '7fffffff');
    const decoded = OffsetIndex.decode(2 ** 40, index.encode(), MAX_SEGMENT_BYTES + 1);
    expect(decoded?.lastEntry()).toEqual({ offset: 2 ** 40 + MAX_RELATIVE_OFFSET, position: MAX_SEGMENT_BYTES });
  });
});

describe('OffsetIndex.lookup', () => {
  it('is the segment start on an empty index, for any offset', () => {
    const index = new OffsetIndex(50);
    for (const offset of [0, 49, 50, 51, 10_000]) expect(index.lookup(offset)).toEqual({ offset: 50, position: 0 });
    expect(index.lastEntry()).toBeUndefined();
    expect(index.entryCount).toBe(0);
  });

  it('finds the largest entry at or below an offset (hand example)', () => {
    const index = build(100, [
      { offset: 110, position: 400 },
      { offset: 125, position: 900 },
      { offset: 130, position: 1500 },
    ]);
    expect(index.lookup(99)).toEqual({ offset: 100, position: 0 });
    expect(index.lookup(109)).toEqual({ offset: 100, position: 0 });
    expect(index.lookup(110)).toEqual({ offset: 110, position: 400 });
    expect(index.lookup(124)).toEqual({ offset: 110, position: 400 });
    expect(index.lookup(125)).toEqual({ offset: 125, position: 900 });
    expect(index.lookup(129)).toEqual({ offset: 125, position: 900 });
    expect(index.lookup(10_000)).toEqual({ offset: 130, position: 1500 });
  });

  it('equals a linear scan for any strictly increasing entries and any offset', () => {
    fc.assert(
      fc.property(indexArbitrary, fc.array(fc.integer({ min: -5, max: 100_010 }), { maxLength: 50 }), ({ baseOffset, entries }, queries) => {
        const index = build(baseOffset, entries);
        expect(index.entryCount).toBe(entries.length);
        expect(index.lastEntry()).toEqual(entries.at(-1));
        // Every entry and its neighbours (where off-by-one bugs live), plus random offsets.
        const offsets = new Set<number>([baseOffset - 1, baseOffset]);
        for (const entry of entries) for (const d of [-1, 0, 1]) offsets.add(entry.offset + d);
        for (const q of queries) offsets.add(baseOffset + q);
        for (const offset of offsets) {
          expect(index.lookup(offset), `lookup(${offset})`).toEqual(scanLookup(baseOffset, entries, offset));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('floorByPosition equals a linear scan by position for any entries and any position', () => {
    fc.assert(
      fc.property(indexArbitrary, fc.array(fc.integer({ min: 0, max: 2_000_000 }), { maxLength: 50 }), ({ baseOffset, entries }, queries) => {
        const index = build(baseOffset, entries);
        const positions = new Set<number>([0, ...queries]);
        for (const entry of entries) for (const d of [-1, 0, 1]) positions.add(Math.max(0, entry.position + d));
        for (const position of positions) {
          const expected = entries.filter((e) => e.position <= position).at(-1) ?? { offset: baseOffset, position: 0 };
          expect(index.floorByPosition(position), `floorByPosition(${position})`).toEqual(expected);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('refuses entries that do not strictly increase in both columns, or lie outside the segment', () => {
    const index = build(10, [{ offset: 20, position: 100 }]);
    expect(() => index.append(20, 200)).toThrow(AssertionError);
    expect(() => index.append(19, 200)).toThrow(AssertionError);
    expect(() => index.append(21, 100)).toThrow(AssertionError);
    expect(() => index.append(21, 99)).toThrow(AssertionError);
    expect(() => index.append(9, 200)).toThrow(AssertionError);
    expect(() => index.append(10 + MAX_RELATIVE_OFFSET + 1, 200)).toThrow(AssertionError);
    expect(() => index.append(21, MAX_SEGMENT_BYTES + 1)).toThrow(AssertionError);
    // None of the refused entries was kept.
    expect(index.entryCount).toBe(1);
    expect(index.lookup(1000)).toEqual({ offset: 20, position: 100 });
  });
});

describe('OffsetIndex.encode / decode', () => {
  it('round-trips any index: same entries, same lookups, same bytes', () => {
    fc.assert(
      fc.property(indexArbitrary, fc.integer({ min: 1, max: 1000 }), ({ baseOffset, entries }, slackBytes) => {
        const encoded = build(baseOffset, entries).encode();
        expect(encoded.length).toBe(entries.length * OFFSET_INDEX_ENTRY_BYTES);
        expect(encoded.equals(rawIndex(baseOffset, entries.map((e) => [e.offset, e.position])))).toBe(true);
        const logSizeBytes = (entries.at(-1)?.position ?? 0) + slackBytes;
        const decoded = OffsetIndex.decode(baseOffset, encoded, logSizeBytes);
        expect(decoded).toBeDefined();
        expect(decoded!.entryCount).toBe(entries.length);
        expect(decoded!.lastEntry()).toEqual(entries.at(-1));
        expect(decoded!.encode().equals(encoded)).toBe(true);
        for (const entry of entries) {
          expect(decoded!.lookup(entry.offset)).toEqual(entry);
          expect(decoded!.lookup(entry.offset - 1)).toEqual(scanLookup(baseOffset, entries, entry.offset - 1));
        }
      }),
      { numRuns: 200 },
    );
  });

  it('accepts an empty file as an empty index', () => {
    const decoded = OffsetIndex.decode(5, Buffer.alloc(0), 0);
    expect(decoded?.entryCount).toBe(0);
  });

  it('rejects a size that is not a whole number of entries', () => {
    const valid = rawIndex(0, [
      [3, 10],
      [9, 70],
    ]);
    expect(OffsetIndex.decode(0, valid, 100)).toBeDefined();
    for (let extra = 1; extra < OFFSET_INDEX_ENTRY_BYTES; extra++) {
      expect(OffsetIndex.decode(0, Buffer.concat([valid, Buffer.alloc(extra)]), 100), `+${extra} bytes`).toBeUndefined();
      expect(OffsetIndex.decode(0, valid.subarray(0, valid.length - extra), 100), `-${extra} bytes`).toBeUndefined();
    }
  });

  it('rejects offsets that do not strictly increase', () => {
    expect(OffsetIndex.decode(0, rawIndex(0, [[5, 10], [5, 20]]), 100)).toBeUndefined();
    expect(OffsetIndex.decode(0, rawIndex(0, [[5, 10], [4, 20]]), 100)).toBeUndefined();
    expect(OffsetIndex.decode(0, rawIndex(0, [[5, 10], [6, 20], [6, 30]]), 100)).toBeUndefined();
  });

  it('rejects positions that do not strictly increase', () => {
    expect(OffsetIndex.decode(0, rawIndex(0, [[5, 10], [6, 10]]), 100)).toBeUndefined();
    expect(OffsetIndex.decode(0, rawIndex(0, [[5, 10], [6, 9]]), 100)).toBeUndefined();
  });

  it('rejects positions at or beyond the end of the log, and accepts the last byte', () => {
    const entries: Array<[number, number]> = [
      [5, 10],
      [6, 99],
    ];
    expect(OffsetIndex.decode(0, rawIndex(0, entries), 100)).toBeDefined();
    expect(OffsetIndex.decode(0, rawIndex(0, entries), 99)).toBeUndefined();
    expect(OffsetIndex.decode(0, rawIndex(0, entries), 50)).toBeUndefined();
    expect(OffsetIndex.decode(0, rawIndex(0, [[0, 0]]), 0)).toBeUndefined();
  });

  it('after any single byte flip, either rejects the file or yields an index that still passes the checks', () => {
    fc.assert(
      fc.property(indexArbitrary.filter(({ entries }) => entries.length >= 2), fc.nat(), fc.integer({ min: 1, max: 255 }), ({ baseOffset, entries }, at, xor) => {
        const encoded = build(baseOffset, entries).encode();
        const logSizeBytes = entries.at(-1)!.position + 1;
        const damaged = Buffer.from(encoded);
        const byte = at % damaged.length;
        damaged[byte] = damaged[byte]! ^ xor;
        const decoded = OffsetIndex.decode(baseOffset, damaged, logSizeBytes);
        if (decoded === undefined) return;
        // A flip may leave a structurally valid index; then it must still be strictly increasing and
        // inside the log, which is all the check promises.
        const values: IndexEntry[] = [];
        for (let i = 0; i < decoded.entryCount; i++) {
          values.push({ offset: baseOffset + damaged.readUInt32BE(i * 8), position: damaged.readUInt32BE(i * 8 + 4) });
        }
        for (let i = 1; i < values.length; i++) {
          expect(values[i]!.offset).toBeGreaterThan(values[i - 1]!.offset);
          expect(values[i]!.position).toBeGreaterThan(values[i - 1]!.position);
        }
        expect(values.at(-1)!.position).toBeLessThan(logSizeBytes);
      }),
      { numRuns: 200 },
    );
  });
});
