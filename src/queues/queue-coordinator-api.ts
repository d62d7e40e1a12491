import type { Clock } from '../core/clock.js';
import type { StrataError } from '../core/errors.js';
import type { GroupQuotaPort } from '../core/group-holders.js';
import type { RecordHeader } from '../format/index.js';
import type { QueueGroupConfig } from './queue-group-config.js';
import type { QueueStateJournal } from './queue-state-journal.js';

/**
 * The queue groups' domain as the server sees it: what server/queue-service.ts maps protobuf onto.
 * The implementation is QueueCoordinator (queue-coordinator.ts); this file is the whole contract, so
 * the service and its tests can be built against it alone.
 *
 * Concurrency contract: every method may be called at any time from the event loop. A change is
 * applied in memory when it is made (so the next operation plans on it) and appended to the journal;
 * a promise resolves, and a delivery goes out, only once the changes it depends on are durable. The
 * coordinator relies on the journal writing one group's appends in the order they were called, also
 * when several are under way at once. A journal append that fails fences its group: memory may be
 * ahead of the log, so every later call on that group rejects with the same error until a restart
 * replays what is durable (as a partition that failed an fsync stays read-only). Errors are
 * StrataError subclasses (src/core/errors.ts), never plain Errors, except AssertionError for a broken
 * invariant (a bug).
 */
export interface QueueCoordinatorApi {
  /**
   * Replays the journal (every group's config and state as of the last run) and starts the lock
   * timers. Call once, before anything else; locks held at the crash expire at their recorded deadlines.
   * Rejects with the journal's error (DataLossError for a damaged state topic).
   */
  start(): Promise<void>;

  /**
   * A member joins `groupId` (created on first join with `config` over the defaults: a durable
   * 'config' change). From then on the coordinator calls `deliver` with records of `topics`, never
   * more than `inFlightLimit` unanswered at once, while the member is ready (see setDeliveryReady).
   *
   * - `inFlightLimit`: 1..MAX_QUEUE_IN_FLIGHT_PER_MEMBER; 0 means QUEUE_DEFAULT_IN_FLIGHT.
   * - `config`: the fields given (undefined = not given; the service maps proto zero values to
   *   undefined) must equal an existing group's values, else InvalidArgumentError naming the field
   *   and both values (change a group with alterConfig). For a new group they are validated.
   * - `clientId`: a name shown by describe, not an identity (any string up to 255 chars).
   *
   * Throws (rejects) InvalidArgumentError (bad group id, no topics, duplicate or internal topic, bad
   * in-flight limit or config, config differing from the group's), TopicNotFoundError (a topic that
   * does not exist), GroupMaxSizeReachedError (MAX_QUEUE_MEMBERS_PER_GROUP members in the group, or
   * MAX_QUEUE_GROUPS groups on the server), QuotaExceededError (the principal holds max_groups
   * groups, this one not among them), ShuttingDownError (after close), or the journal's error
   * when creating the group could not be made durable. Nothing changed when it throws.
   */
  join(request: QueueJoinRequest): Promise<QueueMemberHandle>;

  /**
   * Answers records the member holds, in one durable write; resolves with one result per answer, in
   * the order given. An answer that changes nothing carries `error`:
   * - QueueRecordNotAcquiredError: unknown record, already answered (also earlier in the same call),
   *   lock expired, or another member's;
   * - InvalidArgumentError: a release delay that is negative, not an integer, or over MAX_QUEUE_DELAY_MS.
   * `reason` is cut to MAX_QUEUE_REASON_BYTES (UTF-8). A release of a record that has reached
   * maxDeliveryAttempts dead-letters it; a reject dead-letters at once; the result then resolves
   * after the dead-letter append and the 'archive' change are both durable.
   * Each successful answer frees one place of the member's in-flight limit (more deliveries follow).
   *
   * Under at-most-once a record is done as it is handed out: answers for it fail with
   * QueueRecordNotAcquiredError (a client need not send them).
   *
   * Rejects (nothing changed, the member stays) with UnknownMemberIdError (not a member now),
   * InvalidArgumentError (more than MAX_QUEUE_ANSWERS_PER_REQUEST answers), ShuttingDownError, or the
   * journal's error (the group is fenced then). A failed dead-letter append leaves its record
   * acquired by the member (it may answer again; else its lock expires and it is tried again) and is
   * that answer's `error`.
   */
  answer(memberId: string, answers: readonly QueueAnswer[]): Promise<QueueAnswerResult[]>;

  /**
   * Extends the locks of records the member holds to now + `lockMs` (0: the group's lockDurationMs).
   * Results as answer()'s, with `lockDeadlineMs` set on success; QueueRecordNotAcquiredError for a
   * record the member does not hold. Rejects with UnknownMemberIdError, InvalidArgumentError (lockMs
   * negative, not an integer, or over MAX_QUEUE_DELAY_MS; more than MAX_QUEUE_ANSWERS_PER_REQUEST refs),
   * or the journal's error.
   */
  extendLocks(memberId: string, records: readonly QueueRecordRef[], lockMs: number): Promise<QueueAnswerResult[]>;

  /**
   * Flow control of one member's stream. `false`: stop calling its `deliver` (the gRPC stream's
   * write() returned false); `true`: resume (on 'drain'). A `deliver` that returns false has the same
   * effect as setDeliveryReady(memberId, false). Records already acquired for it stay acquired and
   * their locks run. Unknown member ids are ignored (the member may have left meanwhile).
   */
  setDeliveryReady(memberId: string, isReady: boolean): void;

  /**
   * The member leaves (its stream ended cleanly): it gets no more deliveries at once, and every record
   * it holds is released at once with its backoff (dead-lettered if it reached maxDeliveryAttempts).
   * Resolves when that is durable. Unknown member ids resolve at once (idempotent). A journal failure
   * rejects; the member is gone anyway and its records come back when their locks expire.
   */
  leave(memberId: string): Promise<void>;

  /** As leave(), for a stream that broke (cancelled, errored, connection lost). Logged differently. */
  streamLost(memberId: string): Promise<void>;

  /** Every group with its member count and topics (those of its members and those it has state for), sorted by id. */
  listGroups(): QueueGroupSummary[];

  /**
   * A group's configuration, members and per-partition numbers (QueueDepth), in total too. Reads the
   * log for the oldest unacknowledged record's timestamp. Rejects with QueueGroupNotFoundError or
   * InvalidArgumentError (bad group id).
   */
  describeGroup(groupId: string): Promise<QueueGroupDescription>;

  /**
   * Changes the given fields of a group's configuration (a durable 'config' change); resolves with the
   * configuration in force. Records already acquired keep their lock deadlines; the new values apply
   * to the next deliveries, releases and expiries. Rejects with QueueGroupNotFoundError,
   * InvalidArgumentError (naming the field), or the journal's error.
   */
  alterConfig(groupId: string, config: Partial<QueueGroupConfig>): Promise<QueueGroupConfig>;

  /**
   * Moves the group's start offset in `partitions` of `topic` (all when undefined or empty) to
   * `to`: everything below counts as done, the window above is tracked anew (delivery counts 0). An
   * offset is clamped to nothing: it must lie in [logStartOffset, highWatermark] (else
   * OffsetOutOfRangeError). Rejects with QueueGroupNotFoundError, QueueGroupNotEmptyError (the group
   * has members), TopicNotFoundError, PartitionNotFoundError, InvalidArgumentError, or the journal's error.
   */
  reset(groupId: string, topic: string, to: QueueResetTarget, partitions?: readonly number[]): Promise<QueuePartitionDescription[]>;

  /**
   * Forgets a group and all its state (a durable 'delete' change). Rejects with
   * QueueGroupNotFoundError, QueueGroupNotEmptyError (members), or the journal's error.
   */
  deleteGroup(groupId: string): Promise<void>;

  /**
   * The server must call this when a topic is deleted (before a topic of the same name can be
   * created again: the old start offsets would not fit it). Every group forgets its state of it (durable 'forget-topic' changes),
   * records of it held by members are dropped from their in-flight counts, and answers for them fail
   * with QueueRecordNotAcquiredError. Members keep their other topics. Call after the deletion.
   */
  onTopicDeleted(topic: string): Promise<void>;

  /**
   * Stops timers and deliveries and waits for durable writes under way. Nothing is released: locks
   * held now expire after the next start, as after a crash. Later calls reject with ShuttingDownError.
   * Does not close the journal (its owner does).
   */
  close(): Promise<void>;
}

/** What a QueueCoordinator is built from (its composition root: server/bootstrap.ts; tests: fakes). */
export interface QueueCoordinatorDependencies {
  journal: QueueStateJournal;
  topics: QueueTopicsView;
  deadLetters: DeadLetterWriter;
  clock: Clock;
  /** Floats in [0, 1): backoff jitter and member ids. SeededRandom in tests, Math.random in production. */
  random: { next(): number };
  /** Optional: warnings (a failed dead-letter append, a journal failure on expiry). */
  logger?: { warn(fields: object, message: string): void; info?(fields: object, message: string): void; error?(fields: object, message: string): void };
  /** Optional: bounds on the stored batches windows hold for deliveries (QUEUE_HELD_BATCH_BYTES_* by default). */
  heldBatchBytes?: { perPartition: number; perServer: number };
  /** Optional: max_groups. A join as a principal that would hold one group too many is refused (QUOTA_EXCEEDED). */
  groupQuota?: GroupQuotaPort;
}

export interface QueueJoinRequest {
  groupId: string;
  topics: readonly string[];
  /** 0 means QUEUE_DEFAULT_IN_FLIGHT. */
  inFlightLimit: number;
  config?: Partial<QueueGroupConfig>;
  clientId: string;
  /**
   * Called with each delivery after its 'acquire' (or, at-most-once, 'ack') change is durable.
   * Return call.write()'s result: false pauses this member until setDeliveryReady(memberId, true).
   * Never called after the member left. One that throws is taken for a broken stream: the member is
   * dropped as by streamLost().
   */
  deliver: (delivery: QueueDelivery) => boolean | void;
  /** Who joins (the call's authenticated principal): the group counts against its max_groups while the member lives. */
  principal?: string | undefined;
}

export interface QueueMemberHandle {
  memberId: string;
  /** The group's configuration in force. */
  config: QueueGroupConfig;
}

/** proto QueueDelivery: whole stored batches, of which only `records`' offsets are this member's. */
export interface QueueDelivery {
  topic: string;
  partition: number;
  batches: Buffer;
  records: QueueDeliveredRecord[];
}

export interface QueueDeliveredRecord {
  offset: number;
  /** 1 on the first delivery. */
  deliveryCount: number;
  /** ms since the epoch on the coordinator's clock (0 under at-most-once: nothing to answer). */
  lockDeadlineMs: number;
}

export interface QueueRecordRef {
  topic: string;
  partition: number;
  offset: number;
}

export interface QueueAnswer extends QueueRecordRef {
  type: 'ack' | 'release' | 'reject';
  /** release only: ms before the record is available again; undefined or 0: the group's backoff. */
  delayMs?: number;
  /** reject (and release: kept as the last error text for the dead-letter headers). */
  reason?: string;
}

export interface QueueAnswerResult extends QueueRecordRef {
  /** Undefined on success; else why this answer changed nothing. */
  error?: StrataError;
  /** extendLocks only, on success: the new deadline (ms since the epoch). */
  lockDeadlineMs?: number;
}

export type QueueResetTarget = { point: 'earliest' | 'latest' } | { offset: number } | { timestampMs: number };

export interface QueueGroupSummary {
  groupId: string;
  memberCount: number;
  topics: string[];
}

/** proto QueueDepth. */
export interface QueueDepth {
  /** Records in [startOffset, highWatermark) not acknowledged or dead-lettered. */
  depth: number;
  inFlight: number;
  waitingForRetry: number;
  /** now - timestamp of the oldest record not done (0 when none). */
  oldestUnacknowledgedAgeMs: number;
  /** The dead-letter topic's records (high watermark minus log start), summed over its partitions in the total. */
  deadLetterDepth: number;
  deadLettered: number;
  redeliveries: number;
  /**
   * Records retention removed before the group handled them (the start offset moved up to the log
   * start), since this server started: not in proto QueueDepth (yet); the service may log or drop it.
   */
  skipped: number;
}

export interface QueuePartitionDescription {
  topic: string;
  partition: number;
  startOffset: number;
  highWatermark: number;
  depth: QueueDepth;
  deadLetterTopic: string;
}

export interface QueueMemberDescription {
  memberId: string;
  clientId: string;
  topics: string[];
  inFlight: number;
  inFlightLimit: number;
}

export interface QueueGroupDescription {
  groupId: string;
  config: QueueGroupConfig;
  members: QueueMemberDescription[];
  partitions: QueuePartitionDescription[];
  /** Sums over partitions; oldestUnacknowledgedAgeMs the largest; deadLetterDepth summed per dead-letter topic once. */
  total: QueueDepth;
}

/**
 * What queues/ reads of topics, read-only (queues/ never imports the broker). server/bootstrap.ts
 * hands in the log manager's partitions (PartitionLog fits as it is); tests a fake.
 */
export interface QueueTopicsView {
  /** Partition count of a topic, or undefined if it does not exist. */
  partitionCount(topic: string): number | undefined;
  /** Throws TopicNotFoundError or PartitionNotFoundError. */
  partition(topic: string, partition: number): QueuePartitionView;
}

export interface QueuePartitionView {
  /** The first readable offset (inclusive). */
  readonly logStartOffset: number;
  /** The end a reader sees (exclusive). */
  readonly highWatermark: number;
  /** Whole record batches from the one holding `offset` on, about `maxBytes` (at least one batch); empty at the high watermark. */
  read(offset: number, maxBytes: number): Promise<{ batches: Buffer }>;
  /** The first offset whose record's timestamp is at or after `timestampMs`, else the high watermark (`found` false). */
  startForTimestamp(timestampMs: number): Promise<{ offset: number; found: boolean }>;
  /** Calls `listener` whenever the high watermark advances; returns an unsubscribe function. Optional: without it, new records are noticed only on other wake-ups. */
  onHighWatermark?(listener: (highWatermark: number) => void): () => void;
}

/** A record for the dead-letter topic: the source record unchanged, plus DEAD_LETTER_HEADERS at the end of `headers`. */
export interface DeadLetter {
  /** The source partition: the writer appends to partition `sourcePartition % (dead-letter topic's partition count)`. */
  sourcePartition: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
  timestampMs: number;
}

/**
 * Where dead letters go: the server's writer over the broker. It creates `deadLetterTopic` when
 * missing, with `sourcePartitionCount` partitions, and appends `letters` (all of one source
 * partition, in offset order) durably (fsynced) before it resolves. Rejects with a StrataError when
 * it could not; the coordinator then archives nothing and tries again on a later expiry.
 */
export interface DeadLetterWriter {
  append(deadLetterTopic: string, sourcePartitionCount: number, letters: readonly DeadLetter[]): Promise<void>;
}
