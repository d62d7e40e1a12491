import { Buffer } from 'node:buffer';
import { crc32c } from '@node-rs/crc32';
import { BatchTooLargeError, CorruptBatchError, InvalidArgumentError } from '../core/errors.js';
import { MAX_BATCH_BYTES_LIMIT, MAX_RECORDS_PER_BATCH } from '../core/limits.js';
import { gunzipRecords } from './compressed-records.js';
import { type BuildBatchOptions, checkBuildOptions, checkIntegerOption, RecordBatchBuilder } from './record-batch-builder.js';
import {
  ATTRIBUTES_POSITION,
  BATCH_HEADER_BYTES,
  BASE_SEQUENCE_POSITION,
  CRC_POSITION,
  CompressionCodec,
  LOG_OVERHEAD_BYTES,
  MIN_BATCH_LENGTH_BYTES,
  PRODUCER_EPOCH_POSITION,
  PRODUCER_ID_POSITION,
  RECORDS_POSITION,
  TIMESTAMP_TYPE_FLAG,
} from './record-batch-layout.js';
import { type BatchHeader, readBatchHeader, readBatchSize, validateBatch } from './record-batch.js';
import { decodeRecordsWith, type DecodedRecord, makeDecodedRecord, type RecordFactory, type RecordHeader } from './record.js';
import { MAX_VARINT_BYTES, MAX_VARLONG_BYTES } from './varint.js';
import { writeInt64BE } from './int64.js';

const INT16_MIN = -0x8000;
const INT16_MAX = 0x7fff;
const INT32_MIN = -0x8000_0000;
const INT32_MAX = 0x7fff_ffff;

/**
 * Building and reading whole batches, records included: used by clients and tests. The server never
 * calls this on the append path (see record-batch.ts).
 */

export interface RecordInput {
  key?: Buffer | string | null;
  value: Buffer | string | null;
  headers?: RecordHeader[] | Record<string, string | Buffer>;
  timestampMs?: number;
}

export interface EncodeBatchOptions extends BuildBatchOptions {
  /** default 'none' */
  compression?: 'none' | 'gzip';
  /** clock for records without timestampMs; read at most once per batch; default Date.now */
  nowMs?: () => number;
}

export type { DecodedRecord, RecordHeader } from './record.js';
export { MAX_DECOMPRESSED_RECORDS_BYTES } from './compressed-records.js';

/**
 * Encodes records into one batch with a RecordBatchBuilder sized for them (the producer uses the
 * builder directly, record by record). Records without timestampMs share one reading of the clock.
 */
export function encodeRecordBatch(records: readonly RecordInput[], options: EncodeBatchOptions = {}): Buffer {
  if (records.length === 0) throw new InvalidArgumentError('a record batch needs at least one record');
  if (records.length > MAX_RECORDS_PER_BATCH) {
    throw new InvalidArgumentError(`${records.length} records exceed the limit of ${MAX_RECORDS_PER_BATCH} per batch`);
  }
  checkBuildOptions(options, records.length);
  let upperBoundBytes = BATCH_HEADER_BYTES;
  for (const record of records) upperBoundBytes += recordUpperBoundBytes(record);
  // The builder caps its capacity at the hard batch limit: a record that does not fit is past it.
  const builder = new RecordBatchBuilder(upperBoundBytes, { compression: options.compression ?? 'none' });
  let clockMs: number | undefined;
  for (const record of records) {
    const timestampMs = record.timestampMs ?? (clockMs ??= (options.nowMs ?? Date.now)());
    if (!builder.tryAppend(timestampMs, record.key ?? null, record.value, record.headers)) {
      throw new BatchTooLargeError(upperBoundBytes, MAX_BATCH_BYTES_LIMIT);
    }
  }
  return builder.build(options);
}

/** The most bytes a record can take in a batch: every varint at its longest. */
function recordUpperBoundBytes(record: RecordInput): number {
  let bytes = MAX_VARINT_BYTES + 1 + MAX_VARLONG_BYTES + MAX_VARINT_BYTES + 3 * MAX_VARINT_BYTES;
  if (record.key !== null && record.key !== undefined) bytes += Buffer.byteLength(record.key);
  if (record.value !== null) bytes += Buffer.byteLength(record.value);
  if (record.headers !== undefined) {
    const headers = Array.isArray(record.headers) ? record.headers : Object.entries(record.headers).map(([key, value]) => ({ key, value }));
    for (const header of headers) bytes += 2 * MAX_VARINT_BYTES + Buffer.byteLength(header.key) + (header.value === null ? 0 : Buffer.byteLength(header.value));
  }
  return bytes;
}

/**
 * Gives an encoded batch (at position 0) a new producer id, epoch and base sequence, and its new CRC,
 * in place: how a producer renumbers a batch it already encoded without keeping or re-encoding records.
 */
export function restampProducerState(batch: Buffer, producerId: number, producerEpoch: number, baseSequence: number): void {
  checkIntegerOption('producerId', producerId, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
  checkIntegerOption('producerEpoch', producerEpoch, INT16_MIN, INT16_MAX);
  checkIntegerOption('baseSequence', baseSequence, INT32_MIN, INT32_MAX);
  writeInt64BE(batch, PRODUCER_ID_POSITION, producerId);
  batch.writeInt16BE(producerEpoch, PRODUCER_EPOCH_POSITION);
  batch.writeInt32BE(baseSequence, BASE_SEQUENCE_POSITION);
  batch.writeUInt32BE(crc32c(batch.subarray(ATTRIBUTES_POSITION)), CRC_POSITION);
}

/**
 * Decodes the batch at `position` after the full validateBatch check (CRC included, with the hard
 * batch-size limit). Keys and values are views into `buf` (uncompressed) or into the inflated records.
 */
export function decodeRecordBatch(buf: Buffer, position = 0): { header: BatchHeader; records: DecodedRecord[] } {
  return decodeRecordBatchWith(buf, position, makeDecodedRecord);
}

/** decodeRecordBatch making each record with `make` (see decodeRecordsWith). */
export function decodeRecordBatchWith<T>(buf: Buffer, position: number, make: RecordFactory<T>): { header: BatchHeader; records: T[] } {
  const header = validateBatch(buf, position, { maxBatchBytes: MAX_BATCH_BYTES_LIMIT });
  const recordsArea = buf.subarray(position + RECORDS_POSITION, position + header.sizeBytes);
  let plainRecords: Buffer;
  switch (header.compression) {
    case CompressionCodec.none:
      plainRecords = recordsArea;
      break;
    case CompressionCodec.gzip:
      plainRecords = gunzipRecords(recordsArea, position);
      break;
    default:
      throw new CorruptBatchError(
        `batch at byte ${position} uses unsupported codec ${header.compression} (only none and gzip are supported)`,
      );
  }
  // With log-append time the broker's time, kept in maxTimestamp, is every record's timestamp.
  const logAppendTimeMs = (header.attributes & TIMESTAMP_TYPE_FLAG) !== 0 ? header.maxTimestampMs : undefined;
  const records = decodeRecordsWith(plainRecords, header, logAppendTimeMs, make);
  return { header, records };
}

/**
 * Walks concatenated batches by their headers only (no CRC, no record walk: use validateBatch for
 * that). Stops quietly at a trailing partial batch, which is what a fetch response ends with when the
 * broker cut it at a size limit. A header that cannot be a batch throws CorruptBatchError.
 */
export function* iterateBatches(buf: Buffer): Generator<{ position: number; header: BatchHeader }> {
  let position = 0;
  for (;;) {
    const sizeBytes = readBatchSize(buf, position);
    if (sizeBytes === undefined) return;
    if (sizeBytes < LOG_OVERHEAD_BYTES + MIN_BATCH_LENGTH_BYTES) {
      throw new CorruptBatchError(`batch at byte ${position} claims ${sizeBytes} bytes, less than a header`);
    }
    if (position + sizeBytes > buf.length) return;
    const header = readBatchHeader(buf, position);
    yield { position, header };
    position += sizeBytes;
  }
}
