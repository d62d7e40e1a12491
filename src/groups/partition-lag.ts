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

/**
 * Timestamps of records read for their age, a few per partition log: a record's timestamp never
 * changes (the log is append-only; a topic created again has new logs), and describe runs again
 * and again at the same offsets (a metrics scrape every few seconds describes every group, and an
 * idle group's next record stays the same), so each is read from disk once. Bounded: at most
 * TIMESTAMPS_PER_PARTITION per log (the oldest entry goes first), and a log's entries go with it.
 */
const recordTimestamps = new WeakMap<PartitionView, Map<number, number>>();
const TIMESTAMPS_PER_PARTITION = 4;

/** How old the record at `offset` is (0 when there is none yet): the lag in time of a consumer there. */
export async function ageOfRecordAt(log: PartitionView, offset: number, nowMs: number): Promise<number> {
  if (offset >= log.highWatermark) return 0;
  const timestampMs = await timestampOfRecordAt(log, offset);
  return timestampMs === undefined ? 0 : Math.max(0, nowMs - timestampMs);
}

async function timestampOfRecordAt(log: PartitionView, offset: number): Promise<number | undefined> {
  let cached = recordTimestamps.get(log);
  const known = cached?.get(offset);
  if (known !== undefined) return known;
  const { batches } = await log.read(offset, 1);
  for (const { position } of iterateBatches(batches)) {
    for (const record of decodeRecordBatch(batches, position).records) {
      if (record.offset < offset) continue;
      if (!cached) recordTimestamps.set(log, (cached = new Map()));
      if (cached.size >= TIMESTAMPS_PER_PARTITION) cached.delete(cached.keys().next().value!);
      cached.set(offset, record.timestampMs);
      return record.timestampMs;
    }
  }
  return undefined;
}
