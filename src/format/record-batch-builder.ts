import { Buffer } from 'node:buffer';
import { gzipSync } from 'node:zlib';
import { crc32c } from '@node-rs/crc32';
import { AssertionError } from '../core/assert.js';
import { BatchTooLargeError, InvalidArgumentError } from '../core/errors.js';
import { MAX_BATCH_BYTES_LIMIT, MAX_RECORDS_PER_BATCH } from '../core/limits.js';
import { maxInflatedRecordsBytes } from './compressed-records.js';
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

export interface BuilderOptions {
  /** default 'none'; gzip batches may hold up to maxInflatedRecordsBytes(maxBatchBytes) of records before compression */
  compression?: 'none' | 'gzip';
  /** The first buffer's size; it doubles as records come, up to the capacity. Default: the capacity. */
  initialBytes?: number;
  /** Where buffers come from (a pool); default Buffer.allocUnsafe. */
  allocate?: (sizeBytes: number) => Buffer;
  /** Takes back a buffer the builder no longer uses (outgrown, or copied out of at build()). */
  release?: (buffer: Buffer) => void;
  /**
   * The largest batch it may build, as stored (a topic's max.message.bytes): a record that does not
   * fit alone is refused with BatchTooLargeError (for gzip, at build()). Default and at most
   * MAX_BATCH_BYTES_LIMIT.
   */
  maxBatchBytes?: number;
}

export interface BuildBatchOptions {
  /** default 0: producers leave offsets to the broker */
  baseOffset?: number;
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
 * The most raw bytes whose gzip surely fits in `compressedBytes`: zlib's deflateBound is
 * n + n/4096 + n/16384 + 13 (n/2048 is taken here, with room for gzip's 18-byte frame).
 */
function gzipRawCapacity(compressedBytes: number): number {
  return Math.max(1, compressedBytes - Math.ceil(compressedBytes / 2048) - 64);
}

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
 * The buffer starts at `initialBytes` and doubles as needed, so a batch that stays small (a quiet
 * partition) does not hold a whole capacity's worth of memory.
 * Timestamps: the first record's is the batch's base (later deltas may be negative), as in Kafka.
 */
export class RecordBatchBuilder {
  private buffer: Buffer;
  private readonly compression: 'none' | 'gzip';
  /** The hard limit of the batch before compression (header included). */
  private readonly limitBytes: number;
  /** The hard limit of the batch as built (after compression). */
  private readonly builtLimitBytes: number;
  private readonly capacityBytes: number;
  private readonly allocate: (sizeBytes: number) => Buffer;
  private readonly release: ((buffer: Buffer) => void) | undefined;
  /** Where the next record goes (exclusive end of the records written so far). */
  private position = RECORDS_POSITION;
  private count = 0;
  private baseTimestampMs = 0;
  private maxTimestampMs = 0;
  private isBuilt = false;

  constructor(capacityBytes: number, options: BuilderOptions = {}) {
    this.compression = options.compression ?? 'none';
    if (this.compression !== 'none' && this.compression !== 'gzip') {
      throw new InvalidArgumentError(`unsupported compression '${String(this.compression)}' (none or gzip)`);
    }
    this.builtLimitBytes = Math.min(MAX_BATCH_BYTES_LIMIT, Math.max(BATCH_HEADER_BYTES, options.maxBatchBytes ?? MAX_BATCH_BYTES_LIMIT));
    this.limitBytes = this.compression === 'gzip' ? RECORDS_POSITION + maxInflatedRecordsBytes(this.builtLimitBytes) : this.builtLimitBytes;
    // A gzip batch is measured against its limit once compressed: records that do not compress must
    // still fit, so its raw capacity keeps room for deflate's worst case (zlib's deflateBound).
    const rawLimitBytes = this.compression === 'gzip' ? RECORDS_POSITION + gzipRawCapacity(this.builtLimitBytes - RECORDS_POSITION) : this.limitBytes;
    this.capacityBytes = Math.min(this.limitBytes, rawLimitBytes, Math.max(BATCH_HEADER_BYTES, capacityBytes));
    // Unsafe is fine: build() writes every header byte and returns only the bytes written.
    this.allocate = options.allocate ?? Buffer.allocUnsafe;
    this.release = options.release;
    this.buffer = this.allocate(Math.min(this.capacityBytes, Math.max(BATCH_HEADER_BYTES, options.initialBytes ?? this.capacityBytes)));
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
    return Math.max(0, this.capacityBytes - this.position);
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
    // Checked before sizeOfVarint, which takes an int32 (the limits are far below 2^31).
    if (RECORDS_POSITION + bodyBytes > this.limitBytes) throw new BatchTooLargeError(RECORDS_POSITION + bodyBytes, this.limitBytes);
    const sizeBytes = sizeOfVarint(bodyBytes) + bodyBytes;
    if (RECORDS_POSITION + sizeBytes > this.limitBytes) throw new BatchTooLargeError(RECORDS_POSITION + sizeBytes, this.limitBytes);
    const endPosition = this.position + sizeBytes;
    if (endPosition > this.capacityBytes && this.count > 0) return false;
    if (endPosition > this.buffer.length) this.grow(endPosition);

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

  /** A larger buffer holding at least `neededBytes`: twice the current one, within the capacity. */
  private grow(neededBytes: number): void {
    const lengthBytes = neededBytes > this.capacityBytes ? neededBytes : Math.min(this.capacityBytes, Math.max(neededBytes, 2 * this.buffer.length));
    const grown = this.allocate(lengthBytes);
    this.buffer.copy(grown, RECORDS_POSITION, RECORDS_POSITION, this.position);
    this.release?.(this.buffer);
    this.buffer = grown;
  }

  /**
   * Fills in the header and the CRC and returns the batch. The builder takes no more records. A batch
   * that used under half of its buffer is copied out, so a sealed batch never pins a mostly empty
   * buffer while it waits to be sent.
   */
  build(options: BuildBatchOptions = {}): Buffer {
    if (this.isBuilt) throw new AssertionError('a batch is built once');
    if (this.count === 0) throw new InvalidArgumentError('a record batch needs at least one record');
    checkBuildOptions(options, this.count);
    const baseOffset = options.baseOffset ?? 0;
    const producerId = options.producerId ?? -1;
    const producerEpoch = options.producerEpoch ?? -1;
    const baseSequence = options.baseSequence ?? -1;
    const partitionLeaderEpoch = options.partitionLeaderEpoch ?? -1;
    const compression = this.compression;
    this.isBuilt = true;

    let batch: Buffer;
    if (compression === 'gzip') {
      const recordsBytes = this.position - RECORDS_POSITION;
      const maxRecordsBytes = maxInflatedRecordsBytes(this.builtLimitBytes);
      if (recordsBytes > maxRecordsBytes) throw new BatchTooLargeError(recordsBytes, maxRecordsBytes);
      // Default options: the same call kafkajs makes, and Node writes mtime 0, so the bytes are stable.
      const compressed = gzipSync(this.buffer.subarray(RECORDS_POSITION, this.position));
      if (RECORDS_POSITION + compressed.length > this.builtLimitBytes) throw new BatchTooLargeError(RECORDS_POSITION + compressed.length, this.builtLimitBytes);
      batch = Buffer.allocUnsafe(RECORDS_POSITION + compressed.length);
      compressed.copy(batch, RECORDS_POSITION);
    } else if (this.position * 2 < this.buffer.length) {
      batch = Buffer.allocUnsafe(this.position);
      this.buffer.copy(batch, RECORDS_POSITION, RECORDS_POSITION, this.position);
    } else {
      batch = this.buffer.subarray(0, this.position);
    }
    // The batch was copied out (gzip, or under half used): the builder's buffer can serve another.
    if (batch.buffer !== this.buffer.buffer) this.release?.(this.buffer);
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

/** Throws InvalidArgumentError for an option out of its field's range (for a batch of `recordCount`). */
export function checkBuildOptions(options: BuildBatchOptions, recordCount: number): void {
  checkIntegerOption('baseOffset', options.baseOffset ?? 0, 0, Number.MAX_SAFE_INTEGER - (recordCount - 1));
  checkIntegerOption('producerId', options.producerId ?? -1, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
  checkIntegerOption('producerEpoch', options.producerEpoch ?? -1, INT16_MIN, INT16_MAX);
  checkIntegerOption('baseSequence', options.baseSequence ?? -1, INT32_MIN, INT32_MAX);
  checkIntegerOption('partitionLeaderEpoch', options.partitionLeaderEpoch ?? -1, INT32_MIN, INT32_MAX);
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
