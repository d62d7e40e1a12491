import { crc32c } from '@node-rs/crc32';
import fc from 'fast-check';
import { BatchTooLargeError, CorruptBatchError } from '../../src/core/errors.js';
import {
  ATTRIBUTES_POSITION,
  CRC_POSITION,
  type EncodeBatchOptions,
  encodeRecordBatch,
  type RecordHeader,
  type RecordInput,
} from '../../src/format/index.js';

/** fast-check generators, fixed batches and helpers shared by the format tests. */

export const NOW_MS = 1_717_000_000_000;
export const LIMITS = { maxBatchBytes: 1024 * 1024 };
export const withClock = (options: EncodeBatchOptions): EncodeBatchOptions => ({ ...options, nowMs: () => NOW_MS });

/** A fixed batch with keys, null values, headers and a negative timestamp delta. */
export function sampleBatch(compression: 'none' | 'gzip'): Buffer {
  return encodeRecordBatch(
    [
      {
        key: 'user-1',
        value: 'created',
        headers: { trace: 'abc', bin: Buffer.from([0, 255]) },
        timestampMs: 1_000_000,
      },
      { key: null, value: Buffer.from([1, 2, 3]), timestampMs: 999_000 },
      { key: 'user-1', value: null, headers: [{ key: 'tombstone', value: null }], timestampMs: 1_500_000 },
    ],
    { compression, baseOffset: 42, producerId: 7, producerEpoch: 1, baseSequence: 10 },
  );
}

/** Asserts that `fn` fails with CorruptBatchError, or BatchTooLargeError when `tooLargeAllowed`. */
export function expectRejected(fn: () => unknown, tooLargeAllowed = false): void {
  let error: unknown;
  try {
    fn();
  } catch (caught) {
    error = caught;
  }
  const allowed = tooLargeAllowed
    ? error instanceof CorruptBatchError || error instanceof BatchTooLargeError
    : error instanceof CorruptBatchError;
  if (!allowed) throw new Error(`expected rejection, got ${error === undefined ? 'acceptance' : String(error)}`);
}

const bytes = fc.uint8Array({ maxLength: 48 }).map((array) => Buffer.from(array));
/** Strings of whole graphemes: valid Unicode, so UTF-8 round-trips them exactly. */
const text = fc.string({ unit: 'grapheme', maxLength: 12 });
const nullableData = fc.oneof(fc.constant(null), fc.constant(Buffer.alloc(0)), fc.constant(''), bytes, text);

const headerList = fc.array(
  fc.record({ key: text, value: fc.oneof(fc.constant(null), fc.constant(Buffer.alloc(0)), bytes) }),
  { maxLength: 4 },
);
const headerObject = fc.dictionary(text, fc.oneof(text, bytes), { maxKeys: 3 });

/** A sane range of millisecond timestamps around now, including some before 1970. */
export const timestampMsArb = fc.integer({ min: -1_000_000_000_000, max: 4_000_000_000_000 });

export const recordInputArb: fc.Arbitrary<RecordInput> = fc.record(
  {
    key: nullableData,
    value: nullableData,
    headers: fc.oneof(headerList, headerObject),
    timestampMs: timestampMsArb,
  },
  { requiredKeys: ['value'] },
);

export const recordsArb = fc.array(recordInputArb, { minLength: 1, maxLength: 8 });

export const encodeOptionsArb: fc.Arbitrary<EncodeBatchOptions> = fc.record({
  baseOffset: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 2 ** 48 })),
  compression: fc.constantFrom('none' as const, 'gzip' as const),
  producerId: fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 2 ** 40 })),
  producerEpoch: fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 0x7fff })),
  baseSequence: fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 0x7fff_ffff })),
  partitionLeaderEpoch: fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 0x7fff_ffff })),
});

function toBuffer(data: Buffer | string | null | undefined): Buffer | null {
  if (data === null || data === undefined) return null;
  return typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
}

function expectedHeaders(headers: RecordInput['headers']): RecordHeader[] {
  if (headers === undefined) return [];
  if (Array.isArray(headers)) return headers.map(({ key, value }) => ({ key, value }));
  return Object.keys(headers).map((key) => ({ key, value: toBuffer(headers[key]) }));
}

/** What decodeRecordBatch should return for `records` encoded with `options`. */
export function expectedRecords(records: readonly RecordInput[], options: EncodeBatchOptions, nowMs: number) {
  return records.map((record, i) => ({
    offset: (options.baseOffset ?? 0) + i,
    timestampMs: record.timestampMs ?? nowMs,
    key: toBuffer(record.key),
    value: toBuffer(record.value),
    headers: expectedHeaders(record.headers),
    attributes: 0,
  }));
}

/** Recomputes the CRC after a test edits a covered field on purpose. */
export function resealCrc(batch: Buffer, position = 0): void {
  const end = position + 12 + batch.readInt32BE(position + 8);
  batch.writeUInt32BE(crc32c(batch.subarray(position + ATTRIBUTES_POSITION, end)), position + CRC_POSITION);
}
