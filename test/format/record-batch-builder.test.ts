import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AssertionError } from '../../src/core/assert.js';
import { BatchTooLargeError, InvalidArgumentError } from '../../src/core/errors.js';
import { MAX_BATCH_BYTES_LIMIT } from '../../src/core/limits.js';
import { decodeRecordBatch, encodeRecordBatch, type RecordInput, validateBatch } from '../../src/format/index.js';
import { RecordBatchBuilder } from '../../src/format/record-batch-builder.js';
import { BATCH_HEADER_BYTES } from '../../src/format/record-batch-layout.js';
import { encodeOptionsArb, expectedRecords, LIMITS, NOW_MS, recordInputArb } from './batch-fixtures.js';

/** Appends records the way the producer does: into the open batch, or a new one when it is full. */
function fill(records: readonly RecordInput[], capacityBytes: number, initialBytes: number): Array<{ batch: Buffer; records: RecordInput[] }> {
  const batches: Array<{ batch: Buffer; records: RecordInput[] }> = [];
  let builder = new RecordBatchBuilder(capacityBytes, { initialBytes });
  let placed: RecordInput[] = [];
  for (const record of records) {
    const timestampMs = record.timestampMs ?? NOW_MS;
    if (!builder.tryAppend(timestampMs, record.key ?? null, record.value, record.headers)) {
      // Refused only when it had records: an empty builder takes anything up to the hard limit.
      expect(builder.recordCount).toBeGreaterThan(0);
      batches.push({ batch: builder.build(), records: placed });
      builder = new RecordBatchBuilder(capacityBytes, { initialBytes });
      placed = [];
      expect(builder.tryAppend(timestampMs, record.key ?? null, record.value, record.headers)).toBe(true);
    }
    placed.push(record);
  }
  batches.push({ batch: builder.build(), records: placed });
  return batches;
}

describe('RecordBatchBuilder', () => {
  it('fills batches up to their capacity; every batch decodes to its records, in order, and nothing is lost', () => {
    fc.assert(
      fc.property(fc.array(recordInputArb, { minLength: 1, maxLength: 30 }), fc.integer({ min: BATCH_HEADER_BYTES, max: 600 }), fc.integer({ min: 0, max: 700 }), (records, capacityBytes, initialBytes) => {
        // Any first buffer size: it grows (doubling) as records come, within the capacity.
        const batches = fill(records, capacityBytes, initialBytes);
        expect(batches.flatMap((b) => b.records)).toEqual(records);
        for (const { batch, records: placed } of batches) {
          validateBatch(batch, 0, LIMITS);
          expect(decodeRecordBatch(batch).records).toEqual(expectedRecords(placed, {}, NOW_MS));
          // Only a batch of one record may pass the capacity (a record larger than a whole batch).
          if (placed.length > 1) expect(batch.length).toBeLessThanOrEqual(capacityBytes);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('writes the same bytes as encodeRecordBatch, whatever the producer state and compression', () => {
    fc.assert(
      fc.property(fc.array(recordInputArb, { minLength: 1, maxLength: 8 }), encodeOptionsArb, (records, options) => {
        const builder = new RecordBatchBuilder(1 << 16);
        for (const record of records) expect(builder.tryAppend(record.timestampMs ?? NOW_MS, record.key ?? null, record.value, record.headers)).toBe(true);
        const batch = builder.build(options);
        const header = validateBatch(batch, 0, LIMITS);
        expect(header.producerId).toBe(options.producerId);
        expect(header.baseSequence).toBe(options.baseSequence);
        expect(decodeRecordBatch(batch).records).toEqual(expectedRecords(records, options, NOW_MS));
      }),
      { numRuns: 200 },
    );
  });

  it('copies a batch that used under half of its buffer, so a sealed batch does not pin the rest', () => {
    const small = new RecordBatchBuilder(1 << 20);
    small.tryAppend(NOW_MS, null, Buffer.alloc(100));
    const smallBatch = small.build();
    expect(smallBatch.buffer.byteLength).toBeLessThan(1 << 19);

    const full = new RecordBatchBuilder(1 << 14);
    while (full.tryAppend(NOW_MS, null, Buffer.alloc(100)));
    const fullBatch = full.build();
    // Mostly used: handed out as it is (a view of the one buffer), no copy.
    expect(fullBatch.buffer.byteLength).toBe(1 << 14);
    expect(fullBatch.length).toBeGreaterThan((1 << 14) - 120);
    expect(decodeRecordBatch(fullBatch).records).toHaveLength(fullBatch.readInt32BE(57));
  });

  it('gives a first record larger than the capacity a batch of its own size', () => {
    const builder = new RecordBatchBuilder(200);
    expect(builder.tryAppend(NOW_MS, null, Buffer.alloc(1000, 7))).toBe(true);
    expect(builder.tryAppend(NOW_MS, null, Buffer.alloc(1))).toBe(false);
    const batch = builder.build();
    expect(batch.length).toBeGreaterThan(1000);
    expect(decodeRecordBatch(batch).records[0]!.value).toEqual(Buffer.alloc(1000, 7));
  });

  it('refuses bad timestamps without writing anything, and is built once', () => {
    const builder = new RecordBatchBuilder(1000);
    expect(() => builder.tryAppend(Number.NaN, null, 'a')).toThrow(InvalidArgumentError);
    expect(() => builder.tryAppend(2 ** 53, null, 'a')).toThrow(InvalidArgumentError);
    expect(builder.recordCount).toBe(0);
    expect(() => builder.build()).toThrow(InvalidArgumentError);
    expect(builder.tryAppend(Number.MAX_SAFE_INTEGER, null, 'a')).toBe(true);
    expect(() => builder.tryAppend(-Number.MAX_SAFE_INTEGER, null, 'b')).toThrow(InvalidArgumentError);
    expect(builder.recordCount).toBe(1);
    expect(() => builder.build({ producerEpoch: 0x8000 })).toThrow(InvalidArgumentError);
    const batch = builder.build();
    expect(decodeRecordBatch(batch).records.map((r) => r.value?.toString())).toEqual(['a']);
    expect(() => builder.build()).toThrow(AssertionError);
    expect(() => builder.tryAppend(NOW_MS, null, 'c')).toThrow(AssertionError);
  });

  it('takes a batch of exactly the hard limit, and gzip records up to what readers inflate (not 64 MiB)', () => {
    const exact = new RecordBatchBuilder(1 << 10);
    // 61 header + 4 length + 1 attributes + 1 + 1 + 1 (null key) + 4 + value + 1 = 64 MiB
    const valueBytes = MAX_BATCH_BYTES_LIMIT - 61 - 4 - 1 - 1 - 1 - 1 - 4 - 1;
    expect(exact.tryAppend(NOW_MS, null, Buffer.alloc(valueBytes))).toBe(true);
    expect(exact.build().length).toBe(MAX_BATCH_BYTES_LIMIT);
    expect(() => new RecordBatchBuilder(1 << 10).tryAppend(NOW_MS, null, Buffer.alloc(valueBytes + 1))).toThrow(BatchTooLargeError);

    const compressible = Buffer.alloc(MAX_BATCH_BYTES_LIMIT + (1 << 20));
    expect(() => new RecordBatchBuilder(1 << 10).tryAppend(NOW_MS, null, compressible)).toThrow(BatchTooLargeError);
    const gzip = new RecordBatchBuilder(1 << 10, { compression: 'gzip' });
    expect(gzip.tryAppend(NOW_MS, null, compressible)).toBe(true);
    const batch = gzip.build();
    expect(batch.length).toBeLessThan(1 << 20);
    expect(decodeRecordBatch(batch).records[0]!.value!.length).toBe(compressible.length);
  });

  it('encodeRecordBatch checks its options before it encodes anything', () => {
    expect(() => encodeRecordBatch([{ value: 'a', timestampMs: 1.5 }], { producerEpoch: 0x8000 })).toThrow(/producerEpoch/);
    expect(() => encodeRecordBatch([{ value: 'a', timestampMs: 1.5 }], { compression: 'snappy' as 'gzip' })).toThrow(/compression/);
  });
});
