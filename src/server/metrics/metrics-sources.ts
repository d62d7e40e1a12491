/**
 * What the metrics read at scrape time, as the composition root (bootstrap.ts) hands it in: views of
 * the log manager, consumer groups (GroupAdmin), queue groups (QueueCoordinator) and the data
 * directory. Structural and minimal, so the metrics depend on no component's class, and tests can
 * hand in plain objects.
 */
export interface MetricsSources {
  /** The data directory (statfs gives free and total bytes of its file system). */
  readonly dataDir: string;
  /** Every topic, internal ones too, as the log manager describes them now. */
  topics(): readonly TopicSnapshot[];
  /** Live consumer groups and groups with only committed offsets. */
  consumerGroups(): ReadonlyArray<{ groupId: string; memberCount: number }>;
  /** A group's lag per partition (GroupAdmin.describeGroup); rejects when the group went meanwhile. */
  consumerGroupLag(groupId: string): Promise<readonly PartitionLagSnapshot[]>;
  queueGroups(): ReadonlyArray<{ groupId: string }>;
  /** A queue group's numbers per partition (QueueCoordinator.describeGroup); rejects when it went meanwhile. */
  queueGroupPartitions(groupId: string): Promise<readonly QueuePartitionSnapshot[]>;
  /** Records retention removed before a group read them, per group and topic, since the server started. */
  unconsumedRemovals(): ReadonlyArray<{ group: string; topic: string; records: number }>;
}

export interface TopicSnapshot {
  readonly name: string;
  readonly partitions: ReadonlyArray<{
    readonly partition: number;
    /** online, read-only, failed, data-loss */
    readonly status: string;
    readonly logStartOffset: number;
    readonly logEndOffset: number;
    readonly highWatermark: number;
    readonly sizeBytes: number;
  }>;
}

export interface PartitionLagSnapshot {
  readonly topic: string;
  readonly partition: number;
  /** -1: nothing committed (no lag series: the group's start is not known, as Kafka shows '-'). */
  readonly committedOffset: number;
  readonly lagRecords: number;
  readonly lagMs: number;
}

export interface QueuePartitionSnapshot {
  readonly topic: string;
  readonly partition: number;
  readonly deadLetterTopic: string;
  readonly depth: {
    readonly depth: number;
    readonly inFlight: number;
    readonly oldestUnacknowledgedAgeMs: number;
    readonly redeliveries: number;
    readonly deadLettered: number;
  };
}

/** The sources of a server without groups or topics (before the components exist). */
export const NO_SOURCES: MetricsSources = {
  dataDir: '',
  topics: () => [],
  consumerGroups: () => [],
  consumerGroupLag: async () => [],
  queueGroups: () => [],
  queueGroupPartitions: async () => [],
  unconsumedRemovals: () => [],
};
