import type { TopicConfig } from './topic-config.js';

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
