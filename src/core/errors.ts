/**
 * Every expected failure is a StrataError subclass with a literal `code` (stable, machine-readable,
 * mapped to a gRPC status by the server) and a `retriable` flag that tells a client whether the same
 * request may succeed later without being changed.
 */
export abstract class StrataError extends Error {
  abstract readonly code: string;
  abstract readonly retriable: boolean;
  /**
   * Set on an error a client received: the id the server's log lines name the failed call by (its
   * `strata-call-id` trailer), when it sent one. Undefined where the error was raised.
   */
  declare readonly callId?: string;
  /** Set on an error a client received or raised for a call: the call's gRPC status code. */
  declare readonly grpcStatus?: number;
  constructor(message: string, options?: StrataErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    // Own properties only where set: an error raised in the server carries neither.
    if (options?.callId !== undefined) Object.defineProperty(this, 'callId', { value: options.callId, enumerable: true });
    if (options?.grpcStatus !== undefined) Object.defineProperty(this, 'grpcStatus', { value: options.grpcStatus, enumerable: true });
  }
}

export interface StrataErrorOptions {
  cause?: unknown;
  callId?: string;
  grpcStatus?: number;
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

/**
 * A transactional or control batch (attributes bit 4 or 5). Control batches carry a transaction's
 * commit or abort marker and only a broker writes them (Kafka refuses them from clients too);
 * transactional batches need transactions, which this server does not have: stored, their records
 * would be served as committed whatever the producer later decided.
 */
export class UnsupportedBatchTypeError extends StrataError {
  readonly code = 'UNSUPPORTED_BATCH_TYPE';
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
 * The process ran out of file descriptors (EMFILE, or the system's ENFILE) opening a file. Nothing
 * is wrong with the disk or the request: an operator must raise `ulimit -n` or use fewer partitions.
 */
export class TooManyOpenFilesError extends StrataError {
  readonly code = 'TOO_MANY_OPEN_FILES';
  readonly retriable = false;
}

/**
 * A file-system error of an operation as a Strata error: a full disk (ENOSPC, EDQUOT) or an I/O
 * error (EIO, EROFS) is STORAGE_FAILED, the descriptor limit TOO_MANY_OPEN_FILES. Anything else
 * (a Strata error already, a bug) is returned unchanged.
 */
export function asStorageError(error: unknown, doing: string): unknown {
  if (error instanceof StrataError || !(error instanceof Error)) return error;
  const errno = (error as NodeJS.ErrnoException).code;
  if (errno === 'EMFILE' || errno === 'ENFILE') return new TooManyOpenFilesError(`${doing}: ${error.message}`, { cause: error });
  if (errno === 'ENOSPC' || errno === 'EDQUOT' || errno === 'EIO' || errno === 'EROFS') return new StorageFailedError(`${doing}: ${error.message}`, { cause: error });
  return error;
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

/**
 * Damage in a log that cannot be a torn tail: a bad batch followed by valid ones, a gap between
 * segments, or (with `reason`) a batch header that fails what the CRC does not cover, found on read or
 * at start. [firstBadOffset, nextValidOffset) is what cannot be served; nextValidOffset equals
 * firstBadOffset when no later valid offset is known.
 */
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
    readonly reason?: string,
  ) {
    super(
      reason === undefined
        ? `partition ${topic}/${partition} is damaged in the middle of the log: no valid batch covers ` +
            `offsets [${firstBadOffset}, ${nextValidOffset}) at byte ${position} of ${segmentPath}, ` +
            `and valid batches follow; the partition refuses service until an operator repairs or ` +
            `truncates it`
        : `partition ${topic}/${partition} is damaged at byte ${position} of ${segmentPath} (${reason}): ` +
            `offsets ${nextValidOffset > firstBadOffset ? `[${firstBadOffset}, ${nextValidOffset})` : `from ${firstBadOffset} on`} ` +
            `cannot be served as stored; the partition refuses service for them until an operator ` +
            `repairs or truncates it`,
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

/** The server's address is taken by another process (EADDRINUSE): found before the data dir is touched. */
export class PortInUseError extends StrataError {
  readonly code = 'PORT_IN_USE';
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

/**
 * A newer instance of this producer took over (InitProducer with its name issued a newer epoch), or a
 * request for the next epoch named one that is not the latest issued (nor the one the latest was
 * bumped from: that is the same bump asked again, and answered again): this producer must stop. Its
 * batches are refused on every partition; nothing of them was written.
 */
export class ProducerFencedError extends StrataError {
  readonly code = 'PRODUCER_FENCED';
  readonly retriable = false;
}

/** The server already holds MAX_NAMED_PRODUCERS producer names: a new name is refused (known ones still work). */
export class TooManyProducersError extends StrataError {
  readonly code = 'TOO_MANY_PRODUCERS';
  readonly retriable = false;
}

/** A heartbeat or commit from a member epoch the group has moved past: the member must rejoin. */
export class FencedMemberEpochError extends StrataError {
  readonly code = 'FENCED_MEMBER_EPOCH';
  readonly retriable = false;
}

/**
 * Another process joined with this member's static instance id, and the newer one holds the instance
 * now (as Kafka's FENCED_INSTANCE_ID): two processes share one instance id, a configuration mistake.
 * The fenced member must stop, not rejoin: rejoining would fence the other and they would take turns.
 */
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

/**
 * A queue answer or lock extension for a record this member does not hold now: unknown, already
 * answered, its lock expired (it may be another member's by now), or never delivered to it. Nothing changed.
 */
export class QueueRecordNotAcquiredError extends StrataError {
  readonly code = 'QUEUE_RECORD_NOT_ACQUIRED';
  readonly retriable = false;
}

export class QueueGroupNotFoundError extends StrataError {
  readonly code = 'QUEUE_GROUP_NOT_FOUND';
  readonly retriable = false;
}

/** An admin change (reset, delete) of a queue group that has members: stop them first. */
export class QueueGroupNotEmptyError extends StrataError {
  readonly code = 'QUEUE_GROUP_NOT_EMPTY';
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

/**
 * The server's memory budget (memoryBudgetBytes) has no room for what a new connection or stream
 * must reserve: the request was refused before anything was done. Retriable: room comes back as
 * other streams end or read.
 */
export class MemoryBudgetExhaustedError extends StrataError {
  readonly code = 'MEMORY_BUDGET_EXHAUSTED';
  readonly retriable = true;
}

/** The client's address has as many connections open as the server allows one address (maxConnectionsPerAddress). */
export class TooManyConnectionsError extends StrataError {
  readonly code = 'TOO_MANY_CONNECTIONS';
  readonly retriable = true;
}

/** The client's address has as many calls open as the server allows one address (maxStreamsPerAddress). */
export class TooManyStreamsError extends StrataError {
  readonly code = 'TOO_MANY_STREAMS';
  readonly retriable = true;
}

// h-retain (issue 16, retention per use and overflow)

/**
 * A produce would take a partition's unconsumed records or bytes past the topic's
 * max.unconsumed.records / max.unconsumed.bytes under overflow=reject (RabbitMQ's reject-publish):
 * refused whole, nothing written. Retriable: room comes back as groups consume.
 */
export class PartitionOverflowError extends StrataError {
  readonly code = 'PARTITION_OVERFLOW';
  readonly retriable = true;
}

// --- h-dedupe (issue 16): duplicate detection by message id ---

/**
 * A record's `strata-message-id` header on a topic with `dedupe.window.ms` set is not a valid id:
 * empty, longer than MAX_MESSAGE_ID_BYTES, not UTF-8, or given twice in one record. Nothing of the
 * request was appended.
 */
export class InvalidMessageIdError extends StrataError {
  readonly code = 'INVALID_MESSAGE_ID';
  readonly retriable = false;
}

/**
 * No credentials where the server requires them, or credentials it cannot verify (an unknown token, a
 * JWT with a bad signature, issuer, audience or expiry, a token over plaintext from another host).
 * Says nothing about what the call would have reached.
 */
export class AuthenticationFailedError extends StrataError {
  readonly code = 'AUTHENTICATION_FAILED';
  readonly retriable = false;
}

/**
 * The authenticated principal may not do this. Given for a topic (or group) that does not exist as for
 * one that does, when the principal may not describe it, so a refusal never tells what exists.
 */
export class PermissionDeniedError extends StrataError {
  readonly code = 'PERMISSION_DENIED';
  readonly retriable = false;
}

// h-schema (issue 19, the schema registry): each carries the Confluent error code its REST answer uses.

/** No such subject (or only soft-deleted versions of it, where those are not asked for). Confluent 40401. */
export class SubjectNotFoundError extends StrataError {
  readonly code = 'SUBJECT_NOT_FOUND';
  readonly retriable = false;
}

/** The subject has no such version. Confluent 40402. */
export class SchemaVersionNotFoundError extends StrataError {
  readonly code = 'SCHEMA_VERSION_NOT_FOUND';
  readonly retriable = false;
}

/** No schema with that id, or the schema asked for is not registered under the subject. Confluent 40403. */
export class SchemaNotFoundError extends StrataError {
  readonly code = 'SCHEMA_NOT_FOUND';
  readonly retriable = false;
}

/** The schema breaks the subject's compatibility level against the versions it is checked with. Confluent 409. */
export class IncompatibleSchemaError extends StrataError {
  readonly code = 'INCOMPATIBLE_SCHEMA';
  readonly retriable = false;
  constructor(message: string, readonly incompatibilities: readonly string[] = []) {
    super(message);
  }
}

/** The schema does not parse for its type, a reference is missing, or it is too large. Confluent 42201. */
export class InvalidSchemaError extends StrataError {
  readonly code = 'INVALID_SCHEMA';
  readonly retriable = false;
}

/** A version that is not a positive integer or `latest`. Confluent 42202. */
export class InvalidSchemaVersionError extends StrataError {
  readonly code = 'INVALID_SCHEMA_VERSION';
  readonly retriable = false;
}

/** A soft delete of a version or subject that is soft-deleted already (Confluent 40406 / 40404): use permanent. */
export class SchemaAlreadySoftDeletedError extends StrataError {
  readonly code = 'SCHEMA_ALREADY_SOFT_DELETED';
  readonly retriable = false;
}

/** A hard delete of a version or subject that was not soft-deleted first (Confluent 40405 / 40407). */
export class SchemaNotSoftDeletedError extends StrataError {
  readonly code = 'SCHEMA_NOT_SOFT_DELETED';
  readonly retriable = false;
}

/** The registry holds as many subjects, or the subject as many versions, as it may (limits.ts). */
export class SchemaLimitReachedError extends StrataError {
  readonly code = 'SCHEMA_LIMIT_REACHED';
  readonly retriable = false;
}

/** A version is still referenced by another schema, so it may not be deleted. Confluent 42206. */
export class SchemaReferencedError extends StrataError {
  readonly code = 'SCHEMA_REFERENCED';
  readonly retriable = false;
}

// h-serde (issue 19, client serializers): raised by the client's serializers and deserializers
// (src/client/schema-serializer.ts, schema-deserializer.ts), never sent by a server. Each names the
// record it failed on; none is retriable: the same bytes or value fail the same way again.

/** Where a serializer or deserializer failed: the consumer side knows partition and offset too. */
export interface SerdeRecordLocation {
  topic?: string;
  partition?: number;
  offset?: number;
  isKey?: boolean;
  schemaId?: number;
}

/** A value the producer's serializer could not encode: it does not fit the schema, or the schema is not usable for it. */
export class RecordSerializationError extends StrataError {
  readonly code = 'RECORD_SERIALIZATION_FAILED';
  readonly retriable = false;
  constructor(message: string, readonly location: SerdeRecordLocation = {}, options?: StrataErrorOptions) {
    super(message, options);
  }
}

/** A consumed key or value without Confluent's framing (magic byte 0 and a 4-byte schema id) where a deserializer expected it. */
export class MissingSchemaFramingError extends StrataError {
  readonly code = 'MISSING_SCHEMA_FRAMING';
  readonly retriable = false;
  constructor(message: string, readonly location: SerdeRecordLocation = {}, options?: StrataErrorOptions) {
    super(message, options);
  }
}

/** A consumed record names a schema id the registry does not have (never registered, or hard-deleted). */
export class UnknownSchemaIdError extends StrataError {
  readonly code = 'UNKNOWN_SCHEMA_ID';
  readonly retriable = false;
  constructor(message: string, readonly location: SerdeRecordLocation = {}, options?: StrataErrorOptions) {
    super(message, options);
  }
}

/** A consumed payload that does not decode with the schema its framing names (or with the reader schema). */
export class RecordDeserializationError extends StrataError {
  readonly code = 'RECORD_DESERIALIZATION_FAILED';
  readonly retriable = false;
  constructor(message: string, readonly location: SerdeRecordLocation = {}, options?: StrataErrorOptions) {
    super(message, options);
  }
}

// --- quotas (issue 18): per-principal counts (src/quotas/principal-quotas.ts) ---

/**
 * A principal is at one of its count quotas (max_groups, max_connections, max_streams): the call is
 * refused and changes nothing. Not retriable as is: it succeeds once the principal releases something
 * (leaves a group, closes a stream) or an operator raises the quota.
 */
export class QuotaExceededError extends StrataError {
  readonly code = 'QUOTA_EXCEEDED';
  readonly retriable = false;
}

// --- h-validate (issue 19): per-topic schema validation on the produce path ---

/**
 * A produced record fails its topic's `schema.validation`: its value (or key) lacks the Confluent
 * framing, names a schema id the registry does not know or that is not registered under the topic's
 * subject, or (validation `full`) does not decode with that schema. The message names the record's
 * index in the request (across its batches, from 0) and why. Nothing of the request was appended.
 */
export class RecordValidationFailedError extends StrataError {
  readonly code = 'RECORD_VALIDATION_FAILED';
  readonly retriable = false;
  /** The failed record's index in the request, read from the message (`record N of the request: ...`); NaN if it does not say. */
  readonly recordIndex: number;
  constructor(message: string, options?: StrataErrorOptions) {
    super(message, options);
    const index = /^record (\d+) of the request/.exec(message)?.[1];
    this.recordIndex = index === undefined ? Number.NaN : Number(index);
  }
}
