/**
 * Every expected failure is a StrataError subclass with a literal `code` (stable, machine-readable,
 * mapped to a gRPC status by the server) and a `retriable` flag that tells a client whether the same
 * request may succeed later without being changed.
 */
export abstract class StrataError extends Error {
  abstract readonly code: string;
  abstract readonly retriable: boolean;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class InvalidArgumentError extends StrataError {
  readonly code = 'INVALID_ARGUMENT';
  readonly retriable = false;
}

export class InvalidTopicNameError extends StrataError {
  readonly code = 'INVALID_TOPIC_NAME';
  readonly retriable = false;
}

export class InvalidConfigError extends StrataError {
  readonly code = 'INVALID_CONFIG';
  readonly retriable = false;
}

/** A batch that cannot be what its producer meant: truncated, wrong magic, CRC mismatch, bad counts. */
export class CorruptBatchError extends StrataError {
  readonly code = 'CORRUPT_BATCH';
  readonly retriable = false;
}

/** A write, delete or repartition of a topic the server keeps for itself (Kafka's INVALID_TOPIC_EXCEPTION). */
export class InternalTopicError extends StrataError {
  readonly code = 'INTERNAL_TOPIC';
  readonly retriable = false;
}

/** A batch compressed with a codec this server cannot read back for its consumers (Kafka's UNSUPPORTED_COMPRESSION_TYPE). */
export class UnsupportedCompressionError extends StrataError {
  readonly code = 'UNSUPPORTED_COMPRESSION';
  readonly retriable = false;
}

export class BatchTooLargeError extends StrataError {
  readonly code = 'BATCH_TOO_LARGE';
  readonly retriable = false;
  constructor(
    readonly sizeBytes: number,
    readonly maxBatchBytes: number,
    message = `batch of ${sizeBytes} bytes exceeds the limit of ${maxBatchBytes} bytes`,
  ) {
    super(message);
  }
}

export class TopicNotFoundError extends StrataError {
  readonly code = 'TOPIC_NOT_FOUND';
  readonly retriable = false;
  constructor(readonly topic: string) {
    super(`topic '${topic}' does not exist`);
  }
}

export class PartitionNotFoundError extends StrataError {
  readonly code = 'PARTITION_NOT_FOUND';
  readonly retriable = false;
  constructor(
    readonly topic: string,
    readonly partition: number,
    readonly partitionCount: number,
  ) {
    super(`topic '${topic}' has no partition ${partition} (partitions 0..${partitionCount - 1})`);
  }
}

export class TopicAlreadyExistsError extends StrataError {
  readonly code = 'TOPIC_ALREADY_EXISTS';
  readonly retriable = false;
  constructor(readonly topic: string) {
    super(`topic '${topic}' already exists`);
  }
}

/** The range is [logStartOffset, logEndOffset]: reading at logEndOffset is valid and waits for data. */
export class OffsetOutOfRangeError extends StrataError {
  readonly code = 'OFFSET_OUT_OF_RANGE';
  readonly retriable = false;
  constructor(
    readonly requestedOffset: number,
    readonly logStartOffset: number,
    readonly logEndOffset: number,
  ) {
    super(
      `offset ${requestedOffset} is outside the valid range [${logStartOffset}, ${logEndOffset}] ` +
        `(log start inclusive, log end inclusive for reads that wait for new records)`,
    );
  }
}

/**
 * The partition stopped taking writes after a write or fsync error. Retrying fsync after a failure can
 * report success although the kernel already dropped the dirty pages, so the partition stays failed
 * until a restart runs recovery over what really reached the disk.
 */
export class StorageFailedError extends StrataError {
  readonly code = 'STORAGE_FAILED';
  readonly retriable = false;
}

/** Damage in the middle of a log: valid batches follow a bad one, so cutting the tail would drop data. */
export class DataLossError extends StrataError {
  readonly code = 'DATA_LOSS';
  readonly retriable = false;
  constructor(
    readonly topic: string,
    readonly partition: number,
    readonly firstBadOffset: number,
    readonly nextValidOffset: number,
    readonly segmentPath: string,
    readonly position: number,
  ) {
    super(
      `partition ${topic}/${partition} is damaged in the middle of the log: no valid batch covers ` +
        `offsets [${firstBadOffset}, ${nextValidOffset}) at byte ${position} of ${segmentPath}, ` +
        `and valid batches follow; the partition refuses service until an operator repairs or ` +
        `truncates it`,
    );
  }
}

export class ShuttingDownError extends StrataError {
  readonly code = 'SHUTTING_DOWN';
  readonly retriable = true;
}

export class LogClosedError extends StrataError {
  readonly code = 'LOG_CLOSED';
  readonly retriable = true;
}

export class DataDirLockedError extends StrataError {
  readonly code = 'DATA_DIR_LOCKED';
  readonly retriable = false;
}

/** Too many appends wait behind one partition's writer; the client should back off and retry. */
export class TooManyPendingAppendsError extends StrataError {
  readonly code = 'TOO_MANY_PENDING_APPENDS';
  readonly retriable = true;
}

/**
 * A producer's batch does not carry the sequence number the partition expects next: an earlier batch
 * of the same producer failed or is still in flight. The producer resends its batches in order.
 */
export class OutOfOrderSequenceError extends StrataError {
  readonly code = 'OUT_OF_ORDER_SEQUENCE';
  readonly retriable = true;
}

/**
 * The partition does not know this producer at this epoch (a new producer, a new epoch, or the server
 * restarted and forgot it), and the batch does not start the producer's sequence at 0. The producer
 * renumbers its unacknowledged batches from 0 under a new epoch and sends them again, in order.
 */
export class UnknownProducerError extends StrataError {
  readonly code = 'UNKNOWN_PRODUCER';
  readonly retriable = true;
}

/**
 * A retry of a batch older than what the partition kept of its producer after a restart (the state is
 * rebuilt from the log's tail): the batch may be in the log, and retrying cannot tell.
 */
export class DuplicateSequenceError extends StrataError {
  readonly code = 'DUPLICATE_SEQUENCE';
  readonly retriable = false;
}

/** A heartbeat or commit from a member epoch the group has moved past: the member must rejoin. */
export class FencedMemberEpochError extends StrataError {
  readonly code = 'FENCED_MEMBER_EPOCH';
  readonly retriable = false;
}

/** A static member whose instance id a newer member took: it must stop, not rejoin (Kafka's FENCED_INSTANCE_ID). */
export class FencedInstanceIdError extends StrataError {
  readonly code = 'FENCED_INSTANCE_ID';
  readonly retriable = false;
}

/** The group has no member with this id (it left, timed out, or was replaced): rejoin with epoch 0. */
export class UnknownMemberIdError extends StrataError {
  readonly code = 'UNKNOWN_MEMBER_ID';
  readonly retriable = false;
}

export class GroupNotFoundError extends StrataError {
  readonly code = 'GROUP_NOT_FOUND';
  readonly retriable = false;
}

export class GroupNotEmptyError extends StrataError {
  readonly code = 'GROUP_NOT_EMPTY';
  readonly retriable = false;
}

/** The group (or the server) has as many members (groups) as it may have. */
export class GroupMaxSizeReachedError extends StrataError {
  readonly code = 'GROUP_MAX_SIZE_REACHED';
  readonly retriable = true;
}

/** A client left too many answers unread on a stream; the stream is ended rather than buffered for. */
export class SlowReaderError extends StrataError {
  readonly code = 'SLOW_READER';
  readonly retriable = true;
}

/** A client sends requests faster than the server serves them on one stream; they are refused. */
export class TooManyRequestsError extends StrataError {
  readonly code = 'TOO_MANY_REQUESTS';
  readonly retriable = true;
}

/**
 * The server already has as many partitions as it may have (MAX_PARTITIONS_PER_SERVER). Not
 * retriable: unlike group members, partitions do not go away by themselves; an operator must delete
 * topics first.
 */
export class PartitionLimitReachedError extends StrataError {
  readonly code = 'PARTITION_LIMIT_REACHED';
  readonly retriable = false;
}
