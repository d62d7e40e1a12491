import { gzipSync } from 'node:zlib';
import { crc32c } from '@node-rs/crc32';
import { AssertionError } from '../core/assert.js';
import { BatchTooLargeError, InvalidArgumentError } from '../core/errors.js';
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
  PARTITION_LEADER_EPOCH_POSITION,
  PRODUCER_EPOCH_POSITION,
  PRODUCER_ID_POSITION,
  RECORD_COUNT_POSITION,
  RECORDS_POSITION,
} from './record-batch-layout.js';
import type { RecordHeader } from './record.js';
import { encodeVarint, encodeVarlong, sizeOfVarint, sizeOfVarlong } from './varint.js';

/** Kafka's ordered header list, or an object (kafkajs's shape; its headers go out in Object.keys order). */
export type RecordHeaders = readonly RecordHeader[] | Readonly<Record<string, string | Buffer>>;

export interface BuildBatchOptions {
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
}

/**
 * The largest records area a gzip batch may inflate to. Without a bound, a few kilobytes of crafted
 * gzip could make a client allocate gigabytes; the encoder enforces the same bound, so anything we
 * encode we can also decode.
 */
export const MAX_DECOMPRESSED_RECORDS_BYTES = 4 * MAX_BATCH_BYTES_LIMIT;

const NULL_LENGTH = -1;
const INT16_MIN = -0x8000;
const INT16_MAX = 0x7fff;
const INT32_MIN = -0x8000_0000;
const INT32_MAX = 0x7fff_ffff;

/**
 * Writes records straight into one batch buffer as they come, the way Kafka's MemoryRecordsBuilder
 * does: a producer encodes each record once, with no per-record object kept until the batch is sealed,
 * and build() only fills in the header and the CRC. Layout: record-batch-layout.ts.
 *
 * Capacity: records are appended while they fit in `capacityBytes` (header included, as Kafka's
 * batch.size); a first record larger than that gets a batch of its own size (up to the hard limit).
 * Timestamps: the first record's is the batch's base (later deltas may be negative), as in Kafka.
 */
export class RecordBatchBuilder {
  private buffer: Buffer;
  /** Where the next record goes (exclusive end of the records written so far). */
  private position = RECORDS_POSITION;
  private count = 0;
  private baseTimestampMs = 0;
  private maxTimestampMs = 0;
  private isBuilt = false;

  constructor(capacityBytes: number) {
    // Unsafe is fine: build() writes every header byte and returns only the bytes written.
    this.buffer = Buffer.allocUnsafe(Math.min(MAX_BATCH_BYTES_LIMIT, Math.max(BATCH_HEADER_BYTES, capacityBytes)));
  }

  get recordCount(): number {
    return this.count;
  }

  /** Bytes of the batch so far, header included (before compression). */
  get sizeBytes(): number {
    return this.position;
  }

  /** Room left for records before the capacity is reached. */
  get remainingBytes(): number {
    return this.buffer.length - this.position;
  }

  /**
   * Encodes one record after the others and returns true; returns false, writing nothing, when the
   * batch already has records and this one does not fit (the caller seals it and starts another).
   * Throws InvalidArgumentError for a timestamp that is not a safe integer (or too far from the
   * base), BatchTooLargeError for a record over the hard batch limit.
   */
  tryAppend(timestampMs: number, key: Buffer | string | null, value: Buffer | string | null, headers?: RecordHeaders): boolean {
    if (this.isBuilt) throw new AssertionError('append to a built batch');
    if (this.count >= MAX_RECORDS_PER_BATCH) return false;
    if (!Number.isSafeInteger(timestampMs)) throw new InvalidArgumentError(`record timestamp must be a safe integer of ms, got ${timestampMs}`);
    const timestampDeltaMs = this.count === 0 ? 0 : timestampMs - this.baseTimestampMs;
    if (!Number.isSafeInteger(timestampDeltaMs)) {
      throw new InvalidArgumentError(`record timestamps ${timestampMs} and ${this.baseTimestampMs} are too far apart`);
    }
    const keyBytes = byteLengthOf(key);
    const valueBytes = byteLengthOf(value);
    let bodyBytes = 1 + sizeOfVarlong(timestampDeltaMs) + sizeOfVarint(this.count) + sizeOfNullable(keyBytes) + sizeOfNullable(valueBytes);
    let headerCount = 0;
    if (headers !== undefined) {
      if (isHeaderList(headers)) {
        for (const header of headers) bodyBytes += sizeOfNullable(Buffer.byteLength(header.key)) + sizeOfNullable(byteLengthOf(header.value));
        headerCount = headers.length;
      } else {
        for (const name of Object.keys(headers)) {
          bodyBytes += sizeOfNullable(Buffer.byteLength(name)) + sizeOfNullable(byteLengthOf(headers[name]!));
          headerCount++;
        }
      }
    }
    bodyBytes += sizeOfVarint(headerCount);
    if (RECORDS_POSITION + bodyBytes + 5 > MAX_BATCH_BYTES_LIMIT) throw new BatchTooLargeError(RECORDS_POSITION + bodyBytes + 5, MAX_BATCH_BYTES_LIMIT);
    const sizeBytes = sizeOfVarint(bodyBytes) + bodyBytes;
    if (sizeBytes > this.buffer.length - this.position) {
      if (this.count > 0) return false;
      this.buffer = Buffer.allocUnsafe(RECORDS_POSITION + sizeBytes);
    }

    const buf = this.buffer;
    let pos = encodeVarint(buf, this.position, bodyBytes);
    buf[pos++] = 0; // attributes: no record-level attribute is defined
    pos = encodeVarlong(buf, pos, timestampDeltaMs);
    pos = encodeVarint(buf, pos, this.count);
    pos = writeNullable(buf, pos, key, keyBytes);
    pos = writeNullable(buf, pos, value, valueBytes);
    pos = encodeVarint(buf, pos, headerCount);
    if (headers !== undefined) {
      if (isHeaderList(headers)) {
        for (const header of headers) {
          pos = writeNullable(buf, pos, header.key, Buffer.byteLength(header.key));
          pos = writeNullable(buf, pos, header.value, byteLengthOf(header.value));
        }
      } else {
        for (const name of Object.keys(headers)) {
          const headerValue = headers[name]!;
          pos = writeNullable(buf, pos, name, Buffer.byteLength(name));
          pos = writeNullable(buf, pos, headerValue, byteLengthOf(headerValue));
        }
      }
    }
    // Sizes and writes disagreeing is a bug here, never bad input.
    if (pos !== this.position + sizeBytes) throw new AssertionError(`record sized ${sizeBytes} bytes but ${pos - this.position} written`);
    this.position = pos;
    if (this.count === 0) {
      this.baseTimestampMs = timestampMs;
      this.maxTimestampMs = timestampMs;
    } else if (timestampMs > this.maxTimestampMs) {
      this.maxTimestampMs = timestampMs;
    }
    this.count++;
    return true;
  }

  /**
   * Fills in the header and the CRC and returns the batch. The builder takes no more records. A batch
   * that used under half of its buffer is copied out, so a sealed batch never pins a mostly empty
   * buffer while it waits to be sent.
   */
  build(options: BuildBatchOptions = {}): Buffer {
    if (this.isBuilt) throw new AssertionError('a batch is built once');
    if (this.count === 0) throw new InvalidArgumentError('a record batch needs at least one record');
    const baseOffset = options.baseOffset ?? 0;
    const producerId = options.producerId ?? -1;
    const producerEpoch = options.producerEpoch ?? -1;
    const baseSequence = options.baseSequence ?? -1;
    const partitionLeaderEpoch = options.partitionLeaderEpoch ?? -1;
    const compression = options.compression ?? 'none';
    checkIntegerOption('baseOffset', baseOffset, 0, Number.MAX_SAFE_INTEGER - (this.count - 1));
    checkIntegerOption('producerId', producerId, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
    checkIntegerOption('producerEpoch', producerEpoch, INT16_MIN, INT16_MAX);
    checkIntegerOption('baseSequence', baseSequence, INT32_MIN, INT32_MAX);
    checkIntegerOption('partitionLeaderEpoch', partitionLeaderEpoch, INT32_MIN, INT32_MAX);
    if (compression !== 'none' && compression !== 'gzip') {
      throw new InvalidArgumentError(`unsupported compression '${String(compression)}' (none or gzip)`);
    }
    this.isBuilt = true;

    let batch: Buffer;
    if (compression === 'gzip') {
      const recordsBytes = this.position - RECORDS_POSITION;
      if (recordsBytes > MAX_DECOMPRESSED_RECORDS_BYTES) throw new BatchTooLargeError(recordsBytes, MAX_DECOMPRESSED_RECORDS_BYTES);
      // Default options: the same call kafkajs makes, and Node writes mtime 0, so the bytes are stable.
      const compressed = gzipSync(this.buffer.subarray(RECORDS_POSITION, this.position));
      if (RECORDS_POSITION + compressed.length > MAX_BATCH_BYTES_LIMIT) throw new BatchTooLargeError(RECORDS_POSITION + compressed.length, MAX_BATCH_BYTES_LIMIT);
      batch = Buffer.allocUnsafe(RECORDS_POSITION + compressed.length);
      compressed.copy(batch, RECORDS_POSITION);
    } else if (this.position * 2 < this.buffer.length) {
      batch = Buffer.allocUnsafe(this.position);
      this.buffer.copy(batch, RECORDS_POSITION, RECORDS_POSITION, this.position);
    } else {
      batch = this.buffer.subarray(0, this.position);
    }
    this.buffer = Buffer.alloc(0);

    writeInt64BE(batch, BASE_OFFSET_POSITION, baseOffset);
    batch.writeInt32BE(batch.length - LOG_OVERHEAD_BYTES, BATCH_LENGTH_POSITION);
    batch.writeInt32BE(partitionLeaderEpoch, PARTITION_LEADER_EPOCH_POSITION);
    batch.writeInt8(MAGIC_V2, MAGIC_POSITION);
    // Timestamp type 0 (create time), not transactional, not control: only the codec is set.
    batch.writeInt16BE(CompressionCodec[compression], ATTRIBUTES_POSITION);
    batch.writeInt32BE(this.count - 1, LAST_OFFSET_DELTA_POSITION);
    writeInt64BE(batch, BASE_TIMESTAMP_POSITION, this.baseTimestampMs);
    writeInt64BE(batch, MAX_TIMESTAMP_POSITION, this.maxTimestampMs);
    writeInt64BE(batch, PRODUCER_ID_POSITION, producerId);
    batch.writeInt16BE(producerEpoch, PRODUCER_EPOCH_POSITION);
    batch.writeInt32BE(baseSequence, BASE_SEQUENCE_POSITION);
    batch.writeInt32BE(this.count, RECORD_COUNT_POSITION);
    // Last, because it covers everything from attributes to the end.
    batch.writeUInt32BE(crc32c(batch.subarray(ATTRIBUTES_POSITION)), CRC_POSITION);
    return batch;
  }
}

export function checkIntegerOption(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(`${name} must be an integer in ${min}..${max}, got ${value}`);
  }
}

function isHeaderList(headers: RecordHeaders): headers is readonly RecordHeader[] {
  return Array.isArray(headers);
}

/** -1 for null (Kafka's null length). */
function byteLengthOf(bytes: Buffer | string | null): number {
  if (bytes === null) return NULL_LENGTH;
  return typeof bytes === 'string' ? Buffer.byteLength(bytes) : bytes.length;
}

function sizeOfNullable(byteLength: number): number {
  return byteLength === NULL_LENGTH ? 1 : sizeOfVarint(byteLength) + byteLength;
}

function writeNullable(buf: Buffer, position: number, bytes: Buffer | string | null, byteLength: number): number {
  const pos = encodeVarint(buf, position, byteLength);
  if (bytes === null) return pos;
  if (typeof bytes === 'string') return pos + buf.write(bytes, pos, byteLength, 'utf8');
  return pos + bytes.copy(buf, pos);
}
