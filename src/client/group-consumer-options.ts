/** What a group member is told: a partition of a topic. */
export interface TopicPartition {
  topic: string;
  partition: number;
}

/** Where a group member writes warnings (a pino logger fits); default: process.emitWarning. */
export interface GroupConsumerLogger {
  warn(fields: object, message: string): void;
}

export interface GroupConsumerOptions {
  groupId: string;
  /** Static membership: the same id after a restart gets the same partitions back, nobody moves. */
  instanceId?: string;
  topics: string[];
  /** Where to start on a partition the group never committed: earliest (true) or latest. Default false. */
  fromBeginning?: boolean;
  /** Commit processed offsets this often (and on revocation and close). Default 5000. */
  autoCommitIntervalMs?: number;
  /** Called before the consumer reads newly assigned partitions. */
  onAssigned?: (partitions: TopicPartition[]) => void | Promise<void>;
  /** Called after the consumer stopped reading revoked partitions and committed them. */
  onRevoked?: (partitions: TopicPartition[]) => void | Promise<void>;
  /**
   * Called when partitions were lost without a chance to commit (Kafka's onPartitionsLost): no
   * heartbeat was answered within the session timeout, so the group may have given them to others.
   * The consumer stopped reading them before the call and rejoins after it. Default: onRevoked.
   */
  onLost?: (partitions: TopicPartition[]) => void | Promise<void>;
  /**
   * Records held between the server and the loop. Default 1000. Shared among the partitions that
   * have records waiting; they are handed out round robin, 64 of a partition at a time.
   */
  bufferRecords?: number;
  /** Most bytes of one partition in one server response (at least one batch). Default 256 KiB (DEFAULT_MEMBER_MAX_BYTES). */
  maxBytes?: number;
  /** How long close() waits for the server to acknowledge the leave. Default 5000. */
  leaveTimeoutMs?: number;
  /** Warnings: an event loop blocked near the session timeout, partitions lost. */
  logger?: GroupConsumerLogger;
}
