import { InvalidArgumentError, type StrataError } from '../core/errors.js';
import { resolveFailurePolicy, type GroupFailurePolicyOptions } from './group-failure-policy.js';
import type { Deserializer } from './schema-deserializer.js';

export const DEFAULT_LEAVE_TIMEOUT_MS = 5_000;

/** What a group member is told: a partition of a topic. */
export interface TopicPartition {
  topic: string;
  partition: number;
}

/** A partition's offset as a commit writes it: the next offset to read. */
export interface TopicPartitionOffset {
  topic: string;
  partition: number;
  offset: number;
}

/** What made the consumer commit by itself: its timer, a revocation, close(), or process() moving past a dead-lettered record. */
export type CommitTrigger = 'interval' | 'revocation' | 'close' | 'dead-letter';

/** A commit the consumer made by itself that failed, as onCommitFailed gets it. */
export interface CommitFailure {
  trigger: CommitTrigger;
  /** What the commit would have written: the records before these offsets may be read again. */
  offsets: TopicPartitionOffset[];
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
  /**
   * Rate quota: a partition's subscription said the principal is over its consumer_byte_rate; the
   * server holds that subscription's next records back for `throttleTimeMs` (nothing is skipped).
   */
  onThrottled?: (topic: string, partition: number, throttleTimeMs: number) => void;
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
  /** How long close() waits for the server to acknowledge the leave, and before that for process()'s handler under way to finish. Default 5000. */
  leaveTimeoutMs?: number;
  /** Warnings: an event loop blocked near the session timeout, partitions lost, commits that failed. */
  logger?: GroupConsumerLogger;
  /**
   * Called when a commit the consumer makes by itself (on its timer, on a revocation, on close())
   * fails: the server refused it (a stale member epoch after a rebalance or an offset reset, a member
   * the group no longer knows) or could not be reached. Nothing is retried: the records before
   * `offsets` were processed but not committed, so whoever reads those partitions next (this member
   * at its next commit, or another) may get them again. commit() rejects instead. Default: a warning
   * to `logger`. A throw from it is logged, and changes nothing.
   */
  onCommitFailed?: (error: StrataError, failure: CommitFailure) => void;
  /**
   * process()'s failure policy (see GroupFailurePolicyOptions): a record whose handler throws is tried
   * again in place with backoff (its partition waits, the others go on), then appended to the
   * dead-letter topic, and only then committed past. Without it, a throw stops the member. A consumer
   * with a policy is read with process() only: a for-await loop cannot say that a record failed.
   */
  onFailure?: GroupFailurePolicyOptions;
  /**
   * Keys and values handed out deserialized (schemaDeserializer({ registry: client.schemas })); a
   * side without one stays bytes. A record that does not deserialize fails like a throwing handler
   * in process() (with `onFailure`: dead-lettered, raw, at once, no retries) and ends a for-await
   * loop with its typed error.
   */
  keyDeserializer?: Deserializer<unknown>;
  valueDeserializer?: Deserializer<unknown>;
}

/** Refuses options a group consumer cannot run with (INVALID_ARGUMENT), before it starts anything. */
export function checkGroupConsumerOptions(options: GroupConsumerOptions): void {
  if (options.topics.length === 0) throw new InvalidArgumentError('a group consumer needs at least one topic');
  const leaveTimeoutMs = options.leaveTimeoutMs ?? DEFAULT_LEAVE_TIMEOUT_MS;
  if (!Number.isInteger(leaveTimeoutMs) || leaveTimeoutMs <= 0) throw new InvalidArgumentError(`leaveTimeoutMs must be a positive integer, got ${leaveTimeoutMs}`);
  if (options.maxBytes !== undefined && (!Number.isInteger(options.maxBytes) || options.maxBytes <= 0)) {
    throw new InvalidArgumentError(`maxBytes must be a positive integer, got ${options.maxBytes}`);
  }
  if (options.onFailure !== undefined) resolveFailurePolicy(options.onFailure);
}
