import type { Buffer } from 'node:buffer';
import { MAX_BATCH_BYTES_LIMIT, MAX_RECORDS_PER_BATCH } from '../core/limits.js';
import {
  BASE_OFFSET_POSITION,
  BATCH_HEADER_BYTES,
  BATCH_LENGTH_POSITION,
  LAST_OFFSET_DELTA_POSITION,
  LEGACY_PARTITION_LEADER_EPOCH,
  LOG_OVERHEAD_BYTES,
  MAGIC_POSITION,
  MAGIC_V2,
  PARTITION_LEADER_EPOCH_POSITION,
  RECORD_COUNT_POSITION,
  STORED_PARTITION_LEADER_EPOCH,
} from '../format/record-batch-layout.js';

/**
 * Why the stored batch header at `at` in `chunk` is not the one the log holds at that place, or
 * undefined when it is. This checks what the CRC-32C does not cover (baseOffset, batchLength,
 * partitionLeaderEpoch, magic; see record-batch-layout.ts) plus lastOffsetDelta against recordCount,
 * on every batch a read or a startup walk passes: a flipped bit there passes the CRC and would serve
 * records under wrong offsets or end a replay early.
 *
 * `expectedBaseOffset` is where the batch must start: one past the previous batch, or the offset of
 * the index entry (or segment base) the walk began at. `segmentBytesLeft` is how many bytes of the
 * segment (up to the end the reader may see) start at this header. The caller guarantees that the
 * chunk holds at least BATCH_HEADER_BYTES from `at`. Allocates nothing unless it finds a fault.
 */
export function batchHeaderFault(chunk: Buffer, at: number, expectedBaseOffset: number, segmentBytesLeft: number): string | undefined {
  const sizeBytes = LOG_OVERHEAD_BYTES + chunk.readInt32BE(at + BATCH_LENGTH_POSITION);
  if (sizeBytes < BATCH_HEADER_BYTES || sizeBytes > MAX_BATCH_BYTES_LIMIT) return `batchLength says ${sizeBytes} bytes, outside ${BATCH_HEADER_BYTES}..${MAX_BATCH_BYTES_LIMIT}`;
  if (sizeBytes > segmentBytesLeft) return `batch of ${sizeBytes} bytes cut off by the end of the segment after ${segmentBytesLeft} bytes`;
  const magic = chunk.readInt8(at + MAGIC_POSITION);
  if (magic !== MAGIC_V2) return `magic is ${magic}, not ${MAGIC_V2}`;
  const epoch = chunk.readInt32BE(at + PARTITION_LEADER_EPOCH_POSITION);
  if (epoch !== STORED_PARTITION_LEADER_EPOCH && epoch !== LEGACY_PARTITION_LEADER_EPOCH) {
    return `partitionLeaderEpoch is ${epoch}, not the ${STORED_PARTITION_LEADER_EPOCH} Strata stores`;
  }
  // Exact for every safe offset; a value past 2^53 never equals a safe expected offset.
  const baseOffset = chunk.readInt32BE(at + BASE_OFFSET_POSITION) * 0x1_0000_0000 + chunk.readUInt32BE(at + BASE_OFFSET_POSITION + 4);
  if (baseOffset !== expectedBaseOffset) return `baseOffset is ${baseOffset} where ${expectedBaseOffset} continues the log`;
  const recordCount = chunk.readInt32BE(at + RECORD_COUNT_POSITION);
  const lastOffsetDelta = chunk.readInt32BE(at + LAST_OFFSET_DELTA_POSITION);
  if (recordCount < 1 || recordCount > MAX_RECORDS_PER_BATCH || lastOffsetDelta !== recordCount - 1) {
    return `lastOffsetDelta ${lastOffsetDelta} does not fit recordCount ${recordCount}`;
  }
  return undefined;
}

/** One past the last offset of a batch whose header passed batchHeaderFault. */
export function offsetAfterBatch(chunk: Buffer, at: number, baseOffset: number): number {
  return baseOffset + chunk.readInt32BE(at + LAST_OFFSET_DELTA_POSITION) + 1;
}
