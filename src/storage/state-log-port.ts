/**
 * The logs a state log (state-log.ts) keeps its records in, as a port: the storage engine's
 * LogManager implements it as it is, and a test may hand in another (one whose appends fail or wait).
 * Only what a state log uses: create its topic once, read it back at startup, append durably, cut
 * the segments a snapshot made redundant.
 */
export interface StateLogPort {
  listTopics(): string[];
  createTopic(name: string, partitionCount: number, configOverrides: Record<string, string>): Promise<unknown>;
  /** Partition count of a topic, or undefined if it does not exist. */
  partitionCount(topic: string): number | undefined;
  /** A partition; throws TopicNotFoundError, PartitionNotFoundError or the partition's DataLossError. */
  partition(topic: string, partition: number): StateLogPartition;
}

export interface StateLogPartition {
  /** The first readable offset (inclusive). */
  readonly logStartOffset: number;
  /** The next offset to assign (exclusive). */
  readonly logEndOffset: number;
  /** The end a reader sees (exclusive). */
  readonly highWatermark: number;
  readonly segmentCount: number;
  readonly sizeBytes: number;
  /** Whole record batches from the one holding `offset` on, and the offset to read next. */
  read(offset: number, maxBytes: number): Promise<{ batches: Buffer; nextOffset: number }>;
  /** Appends one or more concatenated batches; resolves once they are durable (fsynced). */
  append(batch: Buffer, options: { ackLevel: 'durable' }): Promise<unknown>;
  /** Deletes the segments wholly below `offset` (what compaction made redundant). */
  deleteSegmentsBelow(offset: number): Promise<unknown>;
}
