import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AssertionError } from '../../src/core/assert.js';
import { CorruptBatchError } from '../../src/core/errors.js';
import { readInt64BE, writeInt64BE } from '../../src/format/int64.js';
import {
  decodeVarint,
  decodeVarlong,
  encodeVarint,
  encodeVarlong,
  sizeOfVarint,
  sizeOfVarlong,
} from '../../src/format/varint.js';

function varintBytes(value: number): string {
  const buf = Buffer.alloc(16);
  return buf.subarray(0, encodeVarint(buf, 0, value)).toString('hex');
}

function varlongBytes(value: number): string {
  const buf = Buffer.alloc(16);
  return buf.subarray(0, encodeVarlong(buf, 0, value)).toString('hex');
}

/** Reference zigzag varlong via BigInt, independent of the arithmetic in varint.ts. */
function referenceVarlong(value: number): string {
  let zigzag = BigInt.asUintN(64, (BigInt(value) << 1n) ^ (BigInt(value) >> 63n));
  const bytes: number[] = [];
  while (zigzag >= 0x80n) {
    bytes.push(Number(zigzag & 0x7fn) | 0x80);
    zigzag >>= 7n;
  }
  bytes.push(Number(zigzag));
  return Buffer.from(bytes).toString('hex');
}

describe('varint known vectors', () => {
  const vectors: [number, string][] = [
    [0, '00'],
    [-1, '01'],
    [1, '02'],
    [63, '7e'],
    [-64, '7f'],
    [64, '8001'],
    [300, 'd804'],
    [0x7fff_ffff, 'feffffff0f'],
    [-0x8000_0000, 'ffffffff0f'],
  ];
  it.each(vectors)('varint %d encodes as %s and back', (value, hex) => {
    expect(varintBytes(value)).toBe(hex);
    expect(sizeOfVarint(value)).toBe(hex.length / 2);
    expect(decodeVarint(Buffer.from(hex, 'hex'), 0)).toEqual({ value, nextPosition: hex.length / 2 });
  });

  it.each(vectors)('varlong %d encodes as %s for int32-range values', (value, hex) => {
    expect(varlongBytes(value)).toBe(hex);
    expect(sizeOfVarlong(value)).toBe(hex.length / 2);
  });

  it('varlong edge values match a BigInt reference', () => {
    const edges = [
      2 ** 31,
      -(2 ** 31) - 1,
      2 ** 32,
      2 ** 35 - 1,
      2 ** 48,
      -(2 ** 48),
      Number.MAX_SAFE_INTEGER,
      Number.MIN_SAFE_INTEGER,
      Number.MAX_SAFE_INTEGER - 1,
      Number.MIN_SAFE_INTEGER + 1,
    ];
    for (const value of edges) {
      const hex = varlongBytes(value);
      expect(hex).toBe(referenceVarlong(value));
      expect(sizeOfVarlong(value)).toBe(hex.length / 2);
      expect(decodeVarlong(Buffer.from(hex, 'hex'), 0)).toEqual({ value, nextPosition: hex.length / 2 });
    }
  });
});

describe('varint round trips', () => {
  it('int32 varints round-trip at an arbitrary position', () => {
    fc.assert(
      fc.property(fc.integer({ min: -0x8000_0000, max: 0x7fff_ffff }), fc.nat(8), (value, position) => {
        const buf = Buffer.alloc(position + 5);
        const end = encodeVarint(buf, position, value);
        expect(end - position).toBe(sizeOfVarint(value));
        expect(decodeVarint(buf, position)).toEqual({ value, nextPosition: end });
      }),
      { numRuns: 2000 },
    );
  });

  it('safe-integer varlongs round-trip and match the BigInt reference', () => {
    const safeInteger = fc.oneof(
      fc.integer({ min: -1000, max: 1000 }),
      fc.integer(),
      fc.maxSafeInteger().filter((v) => v >= Number.MIN_SAFE_INTEGER),
    );
    fc.assert(
      fc.property(safeInteger, (value) => {
        const buf = Buffer.alloc(10);
        const end = encodeVarlong(buf, 0, value);
        expect(end).toBe(sizeOfVarlong(value));
        expect(buf.subarray(0, end).toString('hex')).toBe(referenceVarlong(value));
        expect(decodeVarlong(buf, 0)).toEqual({ value, nextPosition: end });
      }),
      { numRuns: 2000 },
    );
  });
});

describe('varint errors', () => {
  it('throws CorruptBatchError when the bytes run out', () => {
    expect(() => decodeVarint(Buffer.from([]), 0)).toThrow(CorruptBatchError);
    expect(() => decodeVarint(Buffer.from([0x80]), 0)).toThrow(CorruptBatchError);
    expect(() => decodeVarint(Buffer.from([0xd8, 0x04]), 0, 1)).toThrow(CorruptBatchError);
    expect(() => decodeVarlong(Buffer.from([0xff, 0xff, 0xff]), 0)).toThrow(CorruptBatchError);
    expect(() => decodeVarlong(Buffer.from([0xd8, 0x04]), 0, 1)).toThrow(CorruptBatchError);
  });

  it('throws CorruptBatchError on a varint longer than 5 bytes or wider than 32 bits', () => {
    expect(() => decodeVarint(Buffer.from('808080808000', 'hex'), 0)).toThrow(/longer than 5/);
    expect(() => decodeVarint(Buffer.from('ffffffff1f', 'hex'), 0)).toThrow(/exceeds 32 bits/);
  });

  it('throws CorruptBatchError on a varlong longer than 10 bytes or beyond the safe range', () => {
    expect(() => decodeVarlong(Buffer.from('8080808080808080808000', 'hex'), 0)).toThrow(/longer than 10/);
    // zigzag 2^54 - 2 and 2^54 - 3 are the safe extremes; 2^54 and 2^54 - 1 are one beyond each.
    expect(decodeVarlong(Buffer.from('feffffffffffff1f', 'hex'), 0).value).toBe(Number.MAX_SAFE_INTEGER);
    expect(decodeVarlong(Buffer.from('fdffffffffffff1f', 'hex'), 0).value).toBe(Number.MIN_SAFE_INTEGER);
    expect(() => decodeVarlong(Buffer.from('8080808080808020', 'hex'), 0)).toThrow(/safe integer/);
    expect(() => decodeVarlong(Buffer.from('ffffffffffffff1f', 'hex'), 0)).toThrow(/safe integer/);
    // int64 min and max are valid on the wire but not JS numbers.
    expect(() => decodeVarlong(Buffer.from('ffffffffffffffffff01', 'hex'), 0)).toThrow(/safe integer/);
    expect(() => decodeVarlong(Buffer.from('feffffffffffffffff01', 'hex'), 0)).toThrow(/safe integer/);
  });

  it('refuses to encode values outside the type (a caller bug, so an assertion)', () => {
    const buf = Buffer.alloc(16);
    expect(() => encodeVarint(buf, 0, 2 ** 31)).toThrow(AssertionError);
    expect(() => encodeVarint(buf, 0, 1.5)).toThrow(AssertionError);
    expect(() => encodeVarlong(buf, 0, 2 ** 53)).toThrow(AssertionError);
  });
});

describe('int64 helpers', () => {
  it('agree with BigInt for every safe integer and reject unsafe ones', () => {
    fc.assert(
      fc.property(fc.maxSafeInteger().filter((v) => v >= Number.MIN_SAFE_INTEGER), (value) => {
        const ours = Buffer.alloc(8);
        writeInt64BE(ours, 0, value);
        const reference = Buffer.alloc(8);
        reference.writeBigInt64BE(BigInt(value));
        expect(ours.equals(reference)).toBe(true);
        expect(readInt64BE(reference, 0, 'field')).toBe(value);
      }),
      { numRuns: 1000 },
    );
    for (const unsafe of [2n ** 53n, -(2n ** 53n), 2n ** 63n - 1n, -(2n ** 63n), 2n ** 53n + 1n]) {
      const buf = Buffer.alloc(8);
      buf.writeBigInt64BE(unsafe);
      expect(() => readInt64BE(buf, 0, 'field')).toThrow(CorruptBatchError);
    }
  });
});
