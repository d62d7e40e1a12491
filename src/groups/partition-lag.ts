import { decodeRecordBatch, iterateBatches } from '../format/record-batch-codec.js';
import type { PartitionView } from './topics-view.js';

/** How far a group is behind on one partition, as `groups describe` shows it. */
export interface PartitionLag {
  topic: string;
  partition: number;
  /** -1: nothing committed. */
  committedOffset: number;
  /** The high watermark: the end a consumer can reach. */
  logEndOffset: number;
  lagRecords: number;
  /** How old the next record to consume is (0 when caught up). */
  lagMs: number;
  /** '' when no member holds the partition. */
  ownerMemberId: string;
  /** -1: nothing committed. */
  sinceCommitMs: number;
}

/**
 * Where the group reads next: its committed offset, or the log start when it has none or retention
 * deleted past it (a consumer there would be reset to the start anyway).
 */
export function nextOffsetToRead(committedOffset: number, logStartOffset: number): number {
  return committedOffset >= 0 ? Math.max(committedOffset, logStartOffset) : logStartOffset;
}

/** Records between the next offset to read and the high watermark (never negative). */
export function lagRecords(committedOffset: number, log: Pick<PartitionView, 'logStartOffset' | 'highWatermark'>): number {
  return Math.max(0, log.highWatermark - nextOffsetToRead(committedOffset, log.logStartOffset));
}

/** How old the record at `offset` is (0 when there is none yet): the lag in time of a consumer there. */
export async function ageOfRecordAt(log: PartitionView, offset: number, nowMs: number): Promise<number> {
  if (offset >= log.highWatermark) return 0;
  const { batches } = await log.read(offset, 1);
  for (const { position } of iterateBatches(batches)) {
    for (const record of decodeRecordBatch(batches, position).records) if (record.offset >= offset) return Math.max(0, nowMs - record.timestampMs);
  }
  return 0;
}
