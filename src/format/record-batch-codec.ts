import { gunzipSync, gzipSync } from 'node:zlib';
import { crc32c } from '@node-rs/crc32';
import { assert } from '../core/assert.js';
import { BatchTooLargeError, CorruptBatchError, InvalidArgumentError } from '../core/errors.js';
import { MAX_BATCH_BYTES_LIMIT, MAX_RECORDS_PER_BATCH } from '../core/limits.js';
import { writeInt64BE } from './int64.js';
import {
  ATTRIBUTES_POSITION,
  BASE_OFFSET_POSITION,
  BASE_SEQUENCE_POSITION,
  BASE_TIMESTAMP_POSITION,
  BATCH_HEADER_BYTES,
  BATCH_LENGTH_POSITION,
  CRC_POSITION,
  CompressionCodec,
  LAST_OFFSET_DELTA_POSITION,
  LOG_OVERHEAD_BYTES,
  MAGIC_POSITION,
  MAGIC_V2,
  MAX_TIMESTAMP_POSITION,
  MIN_BATCH_LENGTH_BYTES,
  PARTITION_LEADER_EPOCH_POSITION,
  PRODUCER_EPOCH_POSITION,
  PRODUCER_ID_POSITION,
  RECORD_COUNT_POSITION,
  RECORDS_POSITION,
  TIMESTAMP_TYPE_FLAG,
} from './record-batch-layout.js';
import { type BatchHeader, readBatchHeader, readBatchSize, validateBatch } from './record-batch.js';
import {
  decodeRecords,
  type DecodedRecord,
  type EncodableRecord,
  measureRecord,
  type RecordHeader,
  writeRecord,
} from './record.js';

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

export interface EncodeBatchOptions {
  /** default 0: producers leave offsets to the broker */
  baseOffset?: number;
  /** default 'none' */
  compression?: 'none' | 'gzip';
  /** default -1 (not idempotent), as Kafka's Java producer */
  producerId?: number;
  /** default -1, as Kafka's Java producer */
  producerEpoch?: number;
  /** default -1, as Kafka's Java producer */
  baseSequence?: number;
  /** default -1 (Kafka's NO_PARTITION_LEADER_EPOCH); kafkajs writes 0 */
  partitionLeaderEpoch?: number;
  /** clock for records without timestampMs; read at most once per batch; default Date.now */
  nowMs?: () => number;
}

export type { DecodedRecord, RecordHeader } from './record.js';

/**
 * The largest records area a gzip batch may inflate to. Without a bound, a few kilobytes of crafted
 * gzip could make a client allocate gigabytes; the encoder enforces the same bound, so anything we
 * encode we can also decode.
 */
export const MAX_DECOMPRESSED_RECORDS_BYTES = 4 * MAX_BATCH_BYTES_LIMIT;

const INT16_MIN = -0x8000;
const INT16_MAX = 0x7fff;
const INT32_MIN = -0x8000_0000;
const INT32_MAX = 0x7fff_ffff;

export function encodeRecordBatch(records: readonly RecordInput[], options: EncodeBatchOptions = {}): Buffer {
  if (records.length === 0) throw new InvalidArgumentError('a record batch needs at least one record');
  if (records.length > MAX_RECORDS_PER_BATCH) {
    throw new InvalidArgumentError(`${records.length} records exceed the limit of ${MAX_RECORDS_PER_BATCH} per batch`);
  }
  const baseOffset = options.baseOffset ?? 0;
  const producerId = options.producerId ?? -1;
  const producerEpoch = options.producerEpoch ?? -1;
  const baseSequence = options.baseSequence ?? -1;
  const partitionLeaderEpoch = options.partitionLeaderEpoch ?? -1;
  const compression = options.compression ?? 'none';
  checkIntegerOption('baseOffset', baseOffset, 0, Number.MAX_SAFE_INTEGER - (records.length - 1));
  checkIntegerOption('producerId', producerId, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
  checkIntegerOption('producerEpoch', producerEpoch, INT16_MIN, INT16_MAX);
  checkIntegerOption('baseSequence', baseSequence, INT32_MIN, INT32_MAX);
  checkIntegerOption('partitionLeaderEpoch', partitionLeaderEpoch, INT32_MIN, INT32_MAX);
  if (compression !== 'none' && compression !== 'gzip') {
    throw new InvalidArgumentError(`unsupported compression '${String(compression)}' (none or gzip)`);
  }

  // Like Kafka's Java producer: the first record's timestamp is the base (later deltas may be
  // negative), and the clock is read once so records without a timestamp share one.
  let clockMs: number | undefined;
  const timestampsMs = records.map((record) => {
    if (record.timestampMs !== undefined) return record.timestampMs;
    clockMs ??= (options.nowMs ?? Date.now)();
    return clockMs;
  });
  const baseTimestampMs = timestampsMs[0]!;
  let maxTimestampMs = baseTimestampMs;
  for (const timestampMs of timestampsMs) {
    if (!Number.isSafeInteger(timestampMs)) {
      throw new InvalidArgumentError(`record timestamp must be a safe integer of ms, got ${timestampMs}`);
    }
    if (!Number.isSafeInteger(timestampMs - baseTimestampMs)) {
      throw new InvalidArgumentError(`record timestamps ${timestampMs} and ${baseTimestampMs} are too far apart`);
    }
    if (timestampMs > maxTimestampMs) maxTimestampMs = timestampMs;
  }

  // Sizes first, then one allocation for the whole (uncompressed) batch.
  const encodable: EncodableRecord[] = records.map((record, i) =>
    measureRecord(toEncodable(record, i, timestampsMs[i]! - baseTimestampMs)),
  );
  let recordsBytes = 0;
  for (const record of encodable) recordsBytes += record.sizeBytes;

  let batch: Buffer;
  if (compression === 'none') {
    batch = allocateBatch(BATCH_HEADER_BYTES + recordsBytes);
    writeRecordsArea(batch, RECORDS_POSITION, encodable, recordsBytes);
  } else {
    if (recordsBytes > MAX_DECOMPRESSED_RECORDS_BYTES) {
      throw new BatchTooLargeError(recordsBytes, MAX_DECOMPRESSED_RECORDS_BYTES);
    }
    const recordsArea = Buffer.allocUnsafe(recordsBytes);
    writeRecordsArea(recordsArea, 0, encodable, recordsBytes);
    // Default options: the same call kafkajs makes, and Node writes mtime 0, so the bytes are stable.
    const compressed = gzipSync(recordsArea);
    batch = allocateBatch(BATCH_HEADER_BYTES + compressed.length);
    compressed.copy(batch, RECORDS_POSITION);
  }

  writeInt64BE(batch, BASE_OFFSET_POSITION, baseOffset);
  batch.writeInt32BE(batch.length - LOG_OVERHEAD_BYTES, BATCH_LENGTH_POSITION);
  batch.writeInt32BE(partitionLeaderEpoch, PARTITION_LEADER_EPOCH_POSITION);
  batch.writeInt8(MAGIC_V2, MAGIC_POSITION);
  // Timestamp type 0 (create time), not transactional, not control: only the codec is set.
  batch.writeInt16BE(CompressionCodec[compression], ATTRIBUTES_POSITION);
  batch.writeInt32BE(records.length - 1, LAST_OFFSET_DELTA_POSITION);
  writeInt64BE(batch, BASE_TIMESTAMP_POSITION, baseTimestampMs);
  writeInt64BE(batch, MAX_TIMESTAMP_POSITION, maxTimestampMs);
  writeInt64BE(batch, PRODUCER_ID_POSITION, producerId);
  batch.writeInt16BE(producerEpoch, PRODUCER_EPOCH_POSITION);
  batch.writeInt32BE(baseSequence, BASE_SEQUENCE_POSITION);
  batch.writeInt32BE(records.length, RECORD_COUNT_POSITION);
  // Last, because it covers everything from attributes to the end.
  batch.writeUInt32BE(crc32c(batch.subarray(ATTRIBUTES_POSITION)), CRC_POSITION);
  return batch;
}

/**
 * Gives an encoded batch (at position 0) a new producer epoch and base sequence, and its new CRC, in
 * place: how a producer renumbers a batch it already encoded without keeping or re-encoding records.
 */
export function restampProducerState(batch: Buffer, producerEpoch: number, baseSequence: number): void {
  checkIntegerOption('producerEpoch', producerEpoch, INT16_MIN, INT16_MAX);
  checkIntegerOption('baseSequence', baseSequence, INT32_MIN, INT32_MAX);
  batch.writeInt16BE(producerEpoch, PRODUCER_EPOCH_POSITION);
  batch.writeInt32BE(baseSequence, BASE_SEQUENCE_POSITION);
  batch.writeUInt32BE(crc32c(batch.subarray(ATTRIBUTES_POSITION)), CRC_POSITION);
}

/**
 * Decodes the batch at `position` after the full validateBatch check (CRC included, with the hard
 * batch-size limit). Keys and values are views into `buf` (uncompressed) or into the inflated records.
 */
export function decodeRecordBatch(buf: Buffer, position = 0): { header: BatchHeader; records: DecodedRecord[] } {
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
  const records = decodeRecords(plainRecords, header, logAppendTimeMs);
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

function gunzipRecords(compressed: Buffer, batchPosition: number): Buffer {
  try {
    return gunzipSync(compressed, { maxOutputLength: MAX_DECOMPRESSED_RECORDS_BYTES });
  } catch (cause) {
    throw new CorruptBatchError(`batch at byte ${batchPosition} has records that do not gunzip`, { cause });
  }
}

function toEncodable(record: RecordInput, index: number, timestampDeltaMs: number): EncodableRecord {
  return {
    offsetDelta: index,
    timestampDeltaMs,
    key: toBytes(record.key ?? null),
    value: toBytes(record.value),
    headers: normalizeHeaders(record.headers),
    sizeBytes: 0,
    bodyBytes: 0,
  };
}

function toBytes(data: Buffer | string | null): Buffer | null {
  if (data === null) return null;
  return typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
}

/** Object headers go out in Object.keys order, which is what kafkajs does too. */
function normalizeHeaders(
  headers: RecordInput['headers'],
): { key: Buffer; value: Buffer | null }[] {
  if (headers === undefined) return [];
  if (Array.isArray(headers)) {
    return headers.map((header) => ({ key: Buffer.from(header.key, 'utf8'), value: header.value }));
  }
  return Object.keys(headers).map((key) => ({ key: Buffer.from(key, 'utf8'), value: toBytes(headers[key]!) }));
}

function writeRecordsArea(buf: Buffer, start: number, records: EncodableRecord[], recordsBytes: number): void {
  let pos = start;
  for (const record of records) pos = writeRecord(buf, pos, record);
  // Sizes and writes disagreeing is a bug here, never bad input.
  assert(pos === start + recordsBytes, `records area sized ${recordsBytes} bytes but ${pos - start} written`);
}

function allocateBatch(sizeBytes: number): Buffer {
  if (sizeBytes > MAX_BATCH_BYTES_LIMIT) throw new BatchTooLargeError(sizeBytes, MAX_BATCH_BYTES_LIMIT);
  // Unsafe is fine: every byte is written below (the records area is checked against its size).
  return Buffer.allocUnsafe(sizeBytes);
}

function checkIntegerOption(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(`${name} must be an integer in ${min}..${max}, got ${value}`);
  }
}
