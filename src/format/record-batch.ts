import { crc32c } from '@node-rs/crc32';
import { BatchTooLargeError, CorruptBatchError, UnsupportedBatchTypeError, UnsupportedCompressionError } from '../core/errors.js';
import { MAX_RECORDS_PER_BATCH } from '../core/limits.js';
import { readInt64BE, writeInt64BE } from './int64.js';
import {
  ATTRIBUTES_POSITION,
  BASE_OFFSET_POSITION,
  BASE_SEQUENCE_POSITION,
  BASE_TIMESTAMP_POSITION,
  BATCH_HEADER_BYTES,
  BATCH_LENGTH_POSITION,
  COMPRESSION_CODEC_MASK,
  CONTROL_FLAG,
  CRC_POSITION,
  CompressionCodec,
  type CompressionCodecId,
  LAST_OFFSET_DELTA_POSITION,
  LOG_OVERHEAD_BYTES,
  MAGIC_POSITION,
  MAGIC_V2,
  MAX_COMPRESSION_CODEC_ID,
  MAX_TIMESTAMP_POSITION,
  MIN_BATCH_LENGTH_BYTES,
  MIN_RECORD_BODY_BYTES,
  PARTITION_LEADER_EPOCH_POSITION,
  PRODUCER_EPOCH_POSITION,
  PRODUCER_ID_POSITION,
  RECORD_COUNT_POSITION,
  RECORDS_POSITION,
  STORED_PARTITION_LEADER_EPOCH,
  TRANSACTIONAL_FLAG,
} from './record-batch-layout.js';
import { gunzipRecords, maxInflatedRecordsBytes } from './compressed-records.js';
import { readVarint, varintCursor } from './varint.js';

/**
 * The append hot path: everything here reads the fixed-size header and, at most, the record length
 * prefixes (of a gzip batch, after inflating it). Records are never decoded on the server; they are
 * stored and served as the producer wrote them.
 */

export interface BatchHeader {
  baseOffset: number;
  batchLengthBytes: number;
  /** total bytes = LOG_OVERHEAD_BYTES + batchLengthBytes */
  sizeBytes: number;
  partitionLeaderEpoch: number;
  magic: number;
  crc: number;
  attributes: number;
  compression: CompressionCodecId;
  lastOffsetDelta: number;
  baseTimestampMs: number;
  maxTimestampMs: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
  recordCount: number;
  isControl: boolean;
  isTransactional: boolean;
}

export interface ValidateOptions {
  maxBatchBytes: number;
}

/**
 * Parses the 61-byte header at `position`. Checks only what is needed to interpret it (enough bytes,
 * magic 2, a length that covers the header, a known codec, int64 fields that fit a JS number); it does
 * not check that the whole batch is present or that the CRC matches: validateBatch does.
 */
export function readBatchHeader(buf: Buffer, position = 0): BatchHeader {
  const availableBytes = buf.length - position;
  if (availableBytes < BATCH_HEADER_BYTES) {
    throw new CorruptBatchError(
      `batch header at byte ${position} is truncated: ${availableBytes} of ${BATCH_HEADER_BYTES} bytes`,
    );
  }
  const magic = buf.readInt8(position + MAGIC_POSITION);
  if (magic !== MAGIC_V2) {
    throw new CorruptBatchError(`batch at byte ${position} has magic ${magic}, only ${MAGIC_V2} is supported`);
  }
  const batchLengthBytes = buf.readInt32BE(position + BATCH_LENGTH_POSITION);
  if (batchLengthBytes < MIN_BATCH_LENGTH_BYTES) {
    throw new CorruptBatchError(
      `batch at byte ${position} has batchLength ${batchLengthBytes}, below the header's ${MIN_BATCH_LENGTH_BYTES}`,
    );
  }
  const attributes = buf.readInt16BE(position + ATTRIBUTES_POSITION);
  const codec = attributes & COMPRESSION_CODEC_MASK;
  if (codec > MAX_COMPRESSION_CODEC_ID) {
    throw new CorruptBatchError(`batch at byte ${position} names unknown compression codec ${codec}`);
  }
  return {
    baseOffset: readInt64BE(buf, position + BASE_OFFSET_POSITION, 'baseOffset'),
    batchLengthBytes,
    sizeBytes: LOG_OVERHEAD_BYTES + batchLengthBytes,
    partitionLeaderEpoch: buf.readInt32BE(position + PARTITION_LEADER_EPOCH_POSITION),
    magic,
    crc: buf.readUInt32BE(position + CRC_POSITION),
    attributes,
    compression: codec as CompressionCodecId,
    lastOffsetDelta: buf.readInt32BE(position + LAST_OFFSET_DELTA_POSITION),
    baseTimestampMs: readInt64BE(buf, position + BASE_TIMESTAMP_POSITION, 'baseTimestamp'),
    maxTimestampMs: readInt64BE(buf, position + MAX_TIMESTAMP_POSITION, 'maxTimestamp'),
    producerId: readInt64BE(buf, position + PRODUCER_ID_POSITION, 'producerId'),
    producerEpoch: buf.readInt16BE(position + PRODUCER_EPOCH_POSITION),
    baseSequence: buf.readInt32BE(position + BASE_SEQUENCE_POSITION),
    recordCount: buf.readInt32BE(position + RECORD_COUNT_POSITION),
    isControl: (attributes & CONTROL_FLAG) !== 0,
    isTransactional: (attributes & TRANSACTIONAL_FLAG) !== 0,
  };
}

/**
 * Total bytes of the batch at `position` as its length field claims (unchecked: it may be below the
 * header size or beyond the buffer), or undefined if even the length field is not there yet. Readers
 * of a stream use it to know how many bytes to wait for.
 */
export function readBatchSize(buf: Buffer, position = 0): number | undefined {
  if (buf.length - position < LOG_OVERHEAD_BYTES) return undefined;
  return LOG_OVERHEAD_BYTES + buf.readInt32BE(position + BATCH_LENGTH_POSITION);
}

/**
 * Everything the server checks before it accepts a batch, without decoding a record. The size limit is
 * checked once the bytes are framed like a batch (whole, magic 2) and before the CRC, as Kafka's broker
 * does: a length read from bytes that are not a batch at all is noise, and calling noise "too large"
 * sends its producer after the wrong problem (splitting batches instead of fixing its encoder).
 */
export function validateBatch(buf: Buffer, position: number, options: ValidateOptions): BatchHeader {
  const availableBytes = buf.length - position;
  const declaredSizeBytes = readBatchSize(buf, position);
  if (declaredSizeBytes === undefined) {
    throw new CorruptBatchError(
      `batch at byte ${position} is truncated: ${Math.max(0, availableBytes)} bytes, ` +
        `less than its ${LOG_OVERHEAD_BYTES}-byte offset and length prefix`,
    );
  }
  if (declaredSizeBytes < BATCH_HEADER_BYTES) {
    throw new CorruptBatchError(
      `batch at byte ${position} claims ${declaredSizeBytes} bytes, less than the ${BATCH_HEADER_BYTES}-byte header`,
    );
  }
  if (availableBytes < BATCH_HEADER_BYTES) {
    throw new CorruptBatchError(`batch header at byte ${position} is truncated: ${availableBytes} of ${BATCH_HEADER_BYTES} bytes`);
  }
  // Magic before length and CRC: the CRC's position and coverage are only defined for magic 2.
  const magic = buf.readInt8(position + MAGIC_POSITION);
  if (magic !== MAGIC_V2) {
    throw new CorruptBatchError(`batch at byte ${position} has magic ${magic}, only ${MAGIC_V2} is supported`);
  }
  const end = position + declaredSizeBytes;
  if (end > buf.length) {
    throw new CorruptBatchError(
      `batch at byte ${position} is truncated: ${availableBytes} of ${declaredSizeBytes} bytes present`,
    );
  }
  if (declaredSizeBytes > options.maxBatchBytes) {
    throw new BatchTooLargeError(declaredSizeBytes, options.maxBatchBytes);
  }
  const storedCrc = buf.readUInt32BE(position + CRC_POSITION);
  const computedCrc = crc32c(buf.subarray(position + ATTRIBUTES_POSITION, end));
  if (storedCrc !== computedCrc) {
    throw new CorruptBatchError(
      `batch at byte ${position} fails its CRC-32C check: stored ${hex(storedCrc)}, computed ${hex(computedCrc)}`,
    );
  }
  // From here on the bytes are what the producer wrote; what follows catches producer bugs.
  const header = readBatchHeader(buf, position);
  if (header.baseOffset < 0) {
    throw new CorruptBatchError(`batch at byte ${position} has negative baseOffset ${header.baseOffset}`);
  }
  if (header.recordCount < 1 || header.recordCount > MAX_RECORDS_PER_BATCH) {
    throw new CorruptBatchError(
      `batch at byte ${position} has recordCount ${header.recordCount}, outside 1..${MAX_RECORDS_PER_BATCH}`,
    );
  }
  if (header.lastOffsetDelta !== header.recordCount - 1) {
    throw new CorruptBatchError(
      `batch at byte ${position} has lastOffsetDelta ${header.lastOffsetDelta} ` +
        `but ${header.recordCount} records (expected ${header.recordCount - 1})`,
    );
  }
  if (!Number.isSafeInteger(header.baseOffset + header.lastOffsetDelta)) {
    throw new CorruptBatchError(`batch at byte ${position} ends beyond the safe offset range`);
  }
  if (header.compression === CompressionCodec.none) {
    checkRecordFraming(buf, position + RECORDS_POSITION, end, header.recordCount, position);
  }
  return header;
}

/**
 * Walks the length prefixes of an uncompressed batch's records, skipping their bodies, and checks that
 * exactly `recordCount` records fill [recordsStart, end). A CRC only proves the bytes are the ones the
 * producer wrote; this proves the producer's count agrees with its records, for the price of one varint
 * per record. validateBatch walks plain batches only; validateBatches (an append) inflates gzip ones
 * to walk them too.
 */
function checkRecordFraming(
  buf: Buffer,
  recordsStart: number,
  end: number,
  recordCount: number,
  batchPosition: number,
): void {
  let pos = recordsStart;
  for (let i = 0; i < recordCount; i++) {
    if (pos >= end) {
      throw new CorruptBatchError(
        `batch at byte ${batchPosition} claims ${recordCount} records but its records area holds only ${i}`,
      );
    }
    const bodyBytes = readVarint(buf, pos, end);
    const nextPosition = varintCursor.nextPosition;
    if (bodyBytes < MIN_RECORD_BODY_BYTES) {
      throw new CorruptBatchError(
        `record ${i} of the batch at byte ${batchPosition} has length ${bodyBytes}, ` +
          `below the minimum of ${MIN_RECORD_BODY_BYTES}`,
      );
    }
    pos = nextPosition + bodyBytes;
    if (pos > end) {
      throw new CorruptBatchError(`record ${i} of the batch at byte ${batchPosition} runs past the end of the batch`);
    }
  }
  if (pos !== end) {
    throw new CorruptBatchError(
      `batch at byte ${batchPosition} has ${end - pos} bytes after its ${recordCount} records`,
    );
  }
}

/**
 * Validates every batch in a buffer of concatenated batches (a produce request's record set), as an
 * append must: validateBatch, no transactional or control batch (UnsupportedBatchTypeError), and a
 * compressed batch must be one its consumers can read back, so gzip records are inflated and walked
 * like plain ones (as Kafka's broker decompresses to validate), and other codecs are refused. The batches must cover the buffer exactly: trailing bytes that are not a
 * whole batch are corruption, not something to ignore, because the producer meant them to be records.
 */
export function validateBatches(buf: Buffer, options: ValidateOptions): BatchHeader[] {
  const headers: BatchHeader[] = [];
  let position = 0;
  if (buf.length === 0) throw new CorruptBatchError('record set is empty');
  while (position < buf.length) {
    const header = validateBatch(buf, position, options);
    if (header.isControl || header.isTransactional) {
      throw new UnsupportedBatchTypeError(
        `batch at byte ${position} is ${header.isControl ? 'a control batch (attributes bit 5): only a broker writes those' : 'transactional (attributes bit 4): this server has no transactions'}; send attributes with bits 4 and 5 clear`,
      );
    }
    if (header.compression === CompressionCodec.gzip) {
      // Bounded by the batch limit: a small crafted batch cannot make the server inflate more.
      const records = gunzipRecords(buf.subarray(position + RECORDS_POSITION, position + header.sizeBytes), position, maxInflatedRecordsBytes(options.maxBatchBytes));
      checkRecordFraming(records, 0, records.length, header.recordCount, position);
    } else if (header.compression !== CompressionCodec.none) {
      throw new UnsupportedCompressionError(`batch at byte ${position} uses compression codec ${header.compression}; this server takes none (0) and gzip (1)`);
    }
    headers.push(header);
    position += header.sizeBytes;
  }
  return headers;
}

/** Assigns the batch's first offset. The CRC does not cover baseOffset, so the batch stays valid. */
export function patchBaseOffset(buf: Buffer, position: number, baseOffset: number): void {
  writeInt64BE(buf, position + BASE_OFFSET_POSITION, baseOffset);
}

/**
 * What the broker writes into a batch it stores: its first offset, and the partition leader epoch
 * Strata stamps on every stored batch (STORED_PARTITION_LEADER_EPOCH), so that reads can tell a
 * damaged epoch from a producer's choice. Neither field is covered by the CRC.
 */
export function stampStoredBatch(buf: Buffer, position: number, baseOffset: number): void {
  writeInt64BE(buf, position + BASE_OFFSET_POSITION, baseOffset);
  buf.writeInt32BE(STORED_PARTITION_LEADER_EPOCH, position + PARTITION_LEADER_EPOCH_POSITION);
}

export function lastOffsetOf(header: BatchHeader): number {
  return header.baseOffset + header.lastOffsetDelta;
}

function hex(crc: number): string {
  return `0x${crc.toString(16).padStart(8, '0')}`;
}

/**
 * Whether the stored CRC-32C of the whole batch at `position` matches its bytes. The read path checks
 * this on every batch it serves, so damage in a segment that recovery trusted is reported instead of
 * being handed to consumers; a hardware CRC costs far less than the copy to the socket.
 */
export function isBatchCrcValid(buf: Buffer, position: number, sizeBytes: number): boolean {
  return crc32c(buf.subarray(position + ATTRIBUTES_POSITION, position + sizeBytes)) === buf.readUInt32BE(position + CRC_POSITION);
}
