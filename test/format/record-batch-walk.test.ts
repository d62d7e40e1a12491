import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CorruptBatchError } from '../../src/core/errors.js';
import {
  BATCH_LENGTH_POSITION,
  MAGIC_POSITION,
  decodeRecordBatch,
  encodeRecordBatch,
  iterateBatches,
  readBatchHeader,
  readBatchSize,
  validateBatches,
} from '../../src/format/index.js';
import {
  encodeOptionsArb,
  expectRejected,
  LIMITS,
  recordsArb,
  sampleBatch,
  withClock,
} from './batch-fixtures.js';

/** Walking buffers of concatenated batches, and the header readers the walk is built on. */

describe('validateBatches and iterateBatches', () => {
  const batchesArb = fc.array(fc.tuple(recordsArb, encodeOptionsArb), { minLength: 1, maxLength: 4 });

  it('validates concatenated batches and rejects trailing garbage', () => {
    fc.assert(
      fc.property(batchesArb, fc.uint8Array({ minLength: 1, maxLength: 80 }), (specs, garbage) => {
        const batches = specs.map(([records, options]) => encodeRecordBatch(records, withClock(options)));
        const all = Buffer.concat(batches);
        const headers = validateBatches(all, LIMITS);
        expect(headers.map((header) => header.sizeBytes)).toEqual(batches.map((batch) => batch.length));
        expectRejected(() => validateBatches(Buffer.concat([all, garbage]), LIMITS));
      }),
      { numRuns: 100 },
    );
  });

  it('rejects an empty record set', () => {
    expect(() => validateBatches(Buffer.alloc(0), LIMITS)).toThrow(CorruptBatchError);
  });

  it('iterates whole batches and stops quietly at a trailing partial one', () => {
    fc.assert(
      fc.property(batchesArb, fc.nat(), (specs, seed) => {
        const batches = specs.map(([records, options]) => encodeRecordBatch(records, withClock(options)));
        const whole = Buffer.concat(batches.slice(0, -1));
        const last = batches[batches.length - 1]!;
        const cut = seed % last.length; // 0 .. size-1 bytes of the last batch
        const buf = Buffer.concat([whole, last.subarray(0, cut)]);
        const seen = [...iterateBatches(buf)];
        expect(seen.length).toBe(batches.length - 1);
        let position = 0;
        seen.forEach((entry, i) => {
          expect(entry.position).toBe(position);
          expect(entry.header.sizeBytes).toBe(batches[i]!.length);
          const decoded = decodeRecordBatch(buf, entry.position);
          expect(decoded.header).toEqual(entry.header);
          position += batches[i]!.length;
        });
        expect([...iterateBatches(Buffer.concat(batches))].length).toBe(batches.length);
      }),
      { numRuns: 100 },
    );
  });

  it('throws when a header cannot be a batch', () => {
    const garbage = Buffer.concat([sampleBatch('none'), Buffer.alloc(70)]);
    expect(() => [...iterateBatches(garbage)]).toThrow(CorruptBatchError);
  });
});

describe('header readers', () => {
  it('readBatchSize needs only the 12-byte prefix', () => {
    const batch = sampleBatch('none');
    expect(readBatchSize(batch)).toBe(batch.length);
    expect(readBatchSize(batch.subarray(0, 12))).toBe(batch.length);
    expect(readBatchSize(batch.subarray(0, 11))).toBeUndefined();
    expect(readBatchSize(Buffer.concat([Buffer.alloc(3), batch]), 3)).toBe(batch.length);
  });

  it('readBatchHeader rejects short buffers, wrong magic and impossible lengths', () => {
    const batch = sampleBatch('none');
    expect(() => readBatchHeader(batch.subarray(0, 60))).toThrow(CorruptBatchError);
    const magic1 = Buffer.from(batch);
    magic1.writeInt8(1, MAGIC_POSITION);
    expect(() => readBatchHeader(magic1)).toThrow(/magic 1/);
    const shortLength = Buffer.from(batch);
    shortLength.writeInt32BE(48, BATCH_LENGTH_POSITION);
    expect(() => readBatchHeader(shortLength)).toThrow(CorruptBatchError);
    expect(readBatchHeader(batch.subarray(0, 61)).sizeBytes).toBe(batch.length);
  });
});
