import type { Broker } from '../../../broker/broker.js';
import { type DecodedRecord, decodeRecordBatch, iterateBatches } from '../../../format/index.js';

/** What a scan may still read: shared by the partitions of one request, so the request as a whole is bounded. */
export interface ScanBudget {
  remainingBytes: number;
}

export interface ScanResult {
  /** Where a scan of this partition goes on from (the first offset not looked at). */
  nextOffset: number;
  /** The scan reached `untilOffset` (or the log's end). */
  isComplete: boolean;
}

/**
 * Reads one partition's records in [fromOffset, untilOffset) in offset order, a chunk at a time, and
 * hands each to `onRecord` until it returns false, the range ends, or the budget's bytes are read.
 * Never waits for new records (a read at the end answers at once).
 */
export async function scanPartition(
  broker: Broker,
  topic: string,
  partition: number,
  range: { fromOffset: number; untilOffset: number },
  options: { budget: ScanBudget; chunkBytes: number },
  onRecord: (record: DecodedRecord) => boolean,
): Promise<ScanResult> {
  let offset = range.fromOffset;
  while (offset < range.untilOffset) {
    if (options.budget.remainingBytes <= 0) return { nextOffset: offset, isComplete: false };
    const read = await broker.fetch(topic, partition, offset, { maxBytes: Math.min(options.chunkBytes, Math.max(1, options.budget.remainingBytes)), minBytes: 1, maxWaitMs: 0, waitForFirstData: false });
    if (read.batches.length === 0) return { nextOffset: offset, isComplete: true };
    options.budget.remainingBytes -= read.batches.length;
    for (const { position } of iterateBatches(read.batches)) {
      for (const record of decodeRecordBatch(read.batches, position).records) {
        // The first batch may start before the offset asked for; the range's end is exclusive.
        if (record.offset < offset) continue;
        if (record.offset >= range.untilOffset) return { nextOffset: range.untilOffset, isComplete: true };
        offset = record.offset + 1;
        if (!onRecord(record)) return { nextOffset: offset, isComplete: offset >= range.untilOffset };
      }
    }
    // Offsets with no record (compacted away, or a batch's trailing gap): go on past the read.
    offset = Math.max(offset, read.nextOffset);
  }
  return { nextOffset: offset, isComplete: true };
}
