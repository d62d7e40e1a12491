/**
 * What groups/ needs to know of topics, read-only. groups/ never imports the broker or the log manager:
 * the composition root (server/bootstrap.ts) hands in an implementation over storage, and tests a
 * fake. The offset store writes through its own port instead (offset-log.ts).
 */
export interface TopicsView {
  /** Partition count of a topic, or undefined if it does not exist. */
  partitionCount(topic: string): number | undefined;
}

/** One partition as group admin reads it: its bounds, time look-ups, and a read for the age of a record. */
export interface PartitionView {
  /** The first readable offset (inclusive). */
  readonly logStartOffset: number;
  /** The end a reader sees (exclusive): lag is measured to it, resets are clamped to it. */
  readonly highWatermark: number;
  /** The first offset whose record's timestamp is at or after `timestampMs`, else the end as the search began (`found` false). */
  startForTimestamp(timestampMs: number): Promise<{ offset: number; found: boolean }>;
  /** Whole record batches from the one holding `offset` on, about `maxBytes` (at least one batch). */
  read(offset: number, maxBytes: number): Promise<{ batches: Buffer }>;
}

export interface TopicLogsView extends TopicsView {
  /** A partition; throws TopicNotFoundError, PartitionNotFoundError or the partition's DataLossError. */
  partition(topic: string, partition: number): PartitionView;
}
