import type { TopicConfig } from './topic-config.js';
import type { ConsumptionReader } from './consumption-progress.js';

export interface SegmentSummary {
  sizeBytes: number;
  /** The largest record timestamp in the segment; -1 if it is empty. */
  maxTimestampMs: number;
}

/**
 * How many of the oldest segments retention deletes: a pure decision, so it is tested without files.
 * `segments` is oldest first and its last element is the active segment, which is never deleted.
 * As in Kafka: a segment expires by time when its largest timestamp is older than retention.ms; by
 * size, while deleting it still leaves the log at or above retention.bytes. Only a prefix is deleted,
 * so the log stays contiguous and the log start offset simply advances.
 */
export function countSegmentsToDelete(
  segments: readonly SegmentSummary[],
  config: Pick<TopicConfig, 'retentionMs' | 'retentionBytes'>,
  nowMs: number,
): number {
  const closedCount = segments.length - 1;
  let count = 0;
  if (config.retentionMs >= 0) {
    while (count < closedCount && segments[count]!.maxTimestampMs < nowMs - config.retentionMs) count++;
  }
  if (config.retentionBytes >= 0) {
    let excessBytes = -config.retentionBytes;
    for (let i = count; i < segments.length; i++) excessBytes += segments[i]!.sizeBytes;
    while (count < closedCount && excessBytes - segments[count]!.sizeBytes >= 0) {
      excessBytes -= segments[count]!.sizeBytes;
      count++;
    }
  }
  return count;
}

/**
 * How many of the oldest closed segments `retention.after.ack` deletes: those wholly below every
 * reader's consumedBeforeOffset (a segment's records are all below its `nextOffset`). A topic no
 * group reads (no readers) keeps everything; the active segment is never deleted. Pure, like
 * countSegmentsToDelete; the partition deletes the longer of the two prefixes.
 */
export function countConsumedSegments(segments: ReadonlyArray<{ nextOffset: number }>, readers: readonly ConsumptionReader[]): number {
  if (readers.length === 0) return 0;
  let consumedBeforeOffset = Number.POSITIVE_INFINITY;
  for (const reader of readers) consumedBeforeOffset = Math.min(consumedBeforeOffset, reader.consumedBeforeOffset);
  const closedCount = segments.length - 1;
  let count = 0;
  while (count < closedCount && segments[count]!.nextOffset <= consumedBeforeOffset) count++;
  return count;
}

/**
 * Per reader, how many of the records [fromOffset, toOffset) it had not consumed: what moving the
 * log start from `fromOffset` to `toOffset` (time or size retention, drop-oldest) took from it.
 * Readers that lose nothing are left out.
 */
export function unconsumedRemoved(readers: readonly ConsumptionReader[], fromOffset: number, toOffset: number): Array<{ reader: ConsumptionReader; records: number }> {
  const out: Array<{ reader: ConsumptionReader; records: number }> = [];
  for (const reader of readers) {
    const records = toOffset - Math.max(fromOffset, reader.consumedBeforeOffset);
    if (records > 0) out.push({ reader, records });
  }
  return out;
}
