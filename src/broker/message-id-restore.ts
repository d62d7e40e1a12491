import type { Clock } from '../core/clock.js';
import { RESTORE_READ_BYTES } from '../core/limits.js';
import { readMessageIds } from '../format/message-ids.js';
import { readBatchHeader } from '../format/record-batch.js';
import type { PartitionLog } from '../storage/partition-log.js';
import type { MessageIdIndex } from './message-id-index.js';

/**
 * Fills `index` with the message ids of the records `log` holds from the start of its dedupe window
 * on (the first record whose timestamp is within `dedupe.window.ms` of now, by the time index), read
 * in bounded reads, so that an id appended before a restart is still a duplicate after it. An id's
 * append time is taken as its batch's max timestamp (the producer's create time: what the log keeps);
 * the count bound applies as the ids come, so the newest are kept. Bad id headers are skipped (records
 * written before dedupe was turned on may have any). Returns the bytes read.
 */
export async function restoreMessageIds(log: PartitionLog, index: MessageIdIndex, clock: Clock): Promise<number> {
  const windowMs = log.topicConfig.dedupeWindowMs;
  const nowMs = clock.nowMs();
  let offset = (await log.startForTimestamp(nowMs - windowMs)).offset;
  let bytesRead = 0;
  // Each read returns at least one whole batch, so this ends; the bound only guards the loop.
  for (let round = 0; offset < log.highWatermark && round < 10_000_000; round++) {
    const { batches, nextOffset } = await log.read(offset, RESTORE_READ_BYTES);
    if (batches.length === 0) break;
    for (let position = 0; position < batches.length; ) {
      const header = readBatchHeader(batches, position);
      const batch = batches.subarray(position, position + header.sizeBytes);
      const ids = readMessageIds(batch, [header], { maxBatchBytes: log.topicConfig.maxBatchBytes, onInvalid: 'skip' });
      for (let i = 0; i < ids.count; i++) {
        const start = ids.starts[i]!;
        if (start >= 0) index.restore(ids.bytes, start, ids.lengths[i]!, header.baseOffset + i, header.maxTimestampMs, nowMs);
      }
      position += header.sizeBytes;
    }
    bytesRead += batches.length;
    offset = nextOffset;
  }
  index.expire(nowMs, windowMs);
  return bytesRead;
}
