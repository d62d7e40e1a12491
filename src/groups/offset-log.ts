/**
 * The log the offset store keeps committed offsets in (`__consumer_offsets`), as a port: the storage
 * engine's LogManager implements it as it is, and a test may hand in another. Only what the store
 * uses: create the topic once, read it back at startup, append durably, cut compacted segments.
 */
export interface OffsetLog {
  listTopics(): string[];
  createTopic(name: string, partitionCount: number, configOverrides: Record<string, string>): Promise<unknown>;
  /** Partition count of a topic, or undefined if it does not exist. */
  partitionCount(topic: string): number | undefined;
  /** A partition; throws TopicNotFoundError, PartitionNotFoundError or the partition's DataLossError. */
  partition(topic: string, partition: number): OffsetLogPartition;
}

export interface OffsetLogPartition {
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
  /** Resolves once the batch is durable (fsynced). */
  append(batch: Buffer, options: { ackLevel: 'durable' }): Promise<unknown>;
  /** Deletes the segments wholly below `offset` (what compaction made redundant). */
  deleteSegmentsBelow(offset: number): Promise<unknown>;
}
