import {
  AuthenticationFailedError,
  PermissionDeniedError,
  SubjectNotFoundError,
  SchemaVersionNotFoundError,
  SchemaNotFoundError,
  IncompatibleSchemaError,
  InvalidSchemaError,
  InvalidSchemaVersionError,
  SchemaNotSoftDeletedError,
  SchemaAlreadySoftDeletedError,
  SchemaLimitReachedError,
  SchemaReferencedError,
  RecordValidationFailedError,
  RecordSerializationError,
  MissingSchemaFramingError,
  UnknownSchemaIdError,
  RecordDeserializationError,
  BatchTooLargeError,
  CorruptBatchError,
  DataDirLockedError,
  DataLossError,
  DuplicateSequenceError,
  FencedInstanceIdError,
  FencedMemberEpochError,
  GroupMaxSizeReachedError,
  GroupNotEmptyError,
  QueueRecordNotAcquiredError,
  QueueGroupNotFoundError,
  QueueGroupNotEmptyError,
  GroupNotFoundError,
  InternalTopicError,
  InvalidArgumentError,
  InvalidConfigError,
  InvalidMessageIdError,
  InvalidTopicNameError,
  LogClosedError,
  MemoryBudgetExhaustedError,
  OffsetOutOfRangeError,
  OutOfOrderSequenceError,
  PartitionLimitReachedError,
  PartitionNotFoundError,
  PartitionOverflowError,
  QuotaExceededError,
  PortInUseError,
  ProducerFencedError,
  ShuttingDownError,
  SlowReaderError,
  StorageFailedError,
  StrataError,
  type StrataErrorOptions,
  TooManyConnectionsError,
  TooManyOpenFilesError,
  TooManyPendingAppendsError,
  TooManyProducersError,
  TooManyRequestsError,
  TooManyStreamsError,
  TopicAlreadyExistsError,
  TopicNotFoundError,
  UnknownMemberIdError,
  UnknownProducerError,
  UnsupportedBatchTypeError,
  UnsupportedCompressionError,
} from './errors.js';

/** Makes the error of one code from the message a server sent with it. */
export type ErrorFromMessage = (message: string) => StrataError;

const number = (text: string | undefined): number => (text === undefined ? Number.NaN : Number(text));

/**
 * One entry per error class of errors.ts. A class whose constructor takes the failure's fields
 * (topic, offsets, ...) gets them back from the message its constructor wrote, which is the only
 * place the wire carries them; a message in another wording (another server version) leaves them ''
 * or NaN, and the error is still of its class, with the server's message.
 */
const FROM_MESSAGE: readonly ErrorFromMessage[] = [
  (m) => new InvalidArgumentError(m),
  (m) => new InvalidTopicNameError(m),
  (m) => new InvalidConfigError(m),
  (m) => new CorruptBatchError(m),
  (m) => new InternalTopicError(m),
  (m) => new UnsupportedCompressionError(m),
  (m) => new UnsupportedBatchTypeError(m),
  (m) => {
    const [, sizeBytes, maxBatchBytes] = /batch of (\d+) bytes exceeds the limit of (\d+) bytes/.exec(m) ?? [];
    return new BatchTooLargeError(number(sizeBytes), number(maxBatchBytes), m);
  },
  (m) => new TopicNotFoundError(/^topic '([^']*)' does not exist/.exec(m)?.[1] ?? ''),
  (m) => {
    const [, topic = '', partition, lastPartition] = /^topic '([^']*)' has no partition (\d+) \(partitions 0\.\.(-?\d+)\)/.exec(m) ?? [];
    return new PartitionNotFoundError(topic, number(partition), number(lastPartition) + 1);
  },
  (m) => new TopicAlreadyExistsError(/^topic '([^']*)' already exists/.exec(m)?.[1] ?? ''),
  (m) => {
    const [, requested, start, end] = /^offset (-?\d+) is outside the valid range \[(-?\d+), (-?\d+)\]/.exec(m) ?? [];
    return new OffsetOutOfRangeError(number(requested), number(start), number(end));
  },
  (m) => new TooManyOpenFilesError(m),
  (m) => new StorageFailedError(m),
  (m) => {
    const [, topic = '', partition] = /^partition ([^/\s]*)\/(\d+)/.exec(m) ?? [];
    const range = /offsets \[(\d+), (\d+)\)/.exec(m);
    const from = /offsets from (\d+) on/.exec(m);
    const firstBadOffset = number(range?.[1] ?? from?.[1]);
    const [, position, segmentPath = ''] = /at byte (\d+) of (.+?)(?:, and valid batches follow| \()/.exec(m) ?? [];
    const reason = /is damaged at byte \d+ of .+? \((.*)\): offsets /.exec(m)?.[1];
    return new DataLossError(topic, number(partition), firstBadOffset, range ? number(range[2]) : firstBadOffset, segmentPath, number(position), reason);
  },
  (m) => new ShuttingDownError(m),
  (m) => new LogClosedError(m),
  (m) => new DataDirLockedError(m),
  (m) => new PortInUseError(m),
  (m) => new TooManyPendingAppendsError(m),
  (m) => new OutOfOrderSequenceError(m),
  (m) => new UnknownProducerError(m),
  (m) => new DuplicateSequenceError(m),
  (m) => new ProducerFencedError(m),
  (m) => new TooManyProducersError(m),
  (m) => new FencedMemberEpochError(m),
  (m) => new FencedInstanceIdError(m),
  (m) => new UnknownMemberIdError(m),
  (m) => new GroupNotFoundError(m),
  (m) => new GroupNotEmptyError(m),
  (m) => new QueueRecordNotAcquiredError(m),
  (m) => new QueueGroupNotFoundError(m),
  (m) => new QueueGroupNotEmptyError(m),
  (m) => new GroupMaxSizeReachedError(m),
  (m) => new SlowReaderError(m),
  (m) => new TooManyRequestsError(m),
  (m) => new PartitionLimitReachedError(m),
  (m) => new MemoryBudgetExhaustedError(m),
  (m) => new TooManyConnectionsError(m),
  (m) => new TooManyStreamsError(m),
  (m) => new PartitionOverflowError(m),
  (m) => new QuotaExceededError(m),
  (m) => new InvalidMessageIdError(m),
  (m) => new AuthenticationFailedError(m),
  (m) => new PermissionDeniedError(m),
  (m) => new SubjectNotFoundError(m),
  (m) => new SchemaVersionNotFoundError(m),
  (m) => new SchemaNotFoundError(m),
  (m) => new IncompatibleSchemaError(m),
  (m) => new InvalidSchemaError(m),
  (m) => new InvalidSchemaVersionError(m),
  (m) => new SchemaNotSoftDeletedError(m),
  (m) => new SchemaAlreadySoftDeletedError(m),
  (m) => new SchemaLimitReachedError(m),
  (m) => new SchemaReferencedError(m),
  (m) => new RecordValidationFailedError(m),
  (m) => new RecordSerializationError(m),
  (m) => new MissingSchemaFramingError(m),
  (m) => new UnknownSchemaIdError(m),
  (m) => new RecordDeserializationError(m),
];

/**
 * The one registry of Strata's error codes: code -> how to make that code's StrataError subclass.
 * The server sends `code` (the `strata-error-code` trailer, or a Failure's `code`) and a client turns
 * it back into the same class here, so `instanceof TopicNotFoundError` works on both sides.
 * test/core/error-registry.test.ts keeps it equal to the classes of errors.ts.
 */
export const ERROR_FROM_MESSAGE_BY_CODE: ReadonlyMap<string, ErrorFromMessage> = new Map(FROM_MESSAGE.map((fromMessage) => [fromMessage('').code, fromMessage]));

/**
 * The error of `code` as a client received it, or undefined for a code this registry does not know
 * (a newer server's). It carries the server's message; `retriable` is what the server said, when it
 * said it (it is the class's own flag from any server of this version).
 */
export function errorForCode(code: string, message: string, received: StrataErrorOptions & { retriable?: boolean } = {}): StrataError | undefined {
  const fromMessage = ERROR_FROM_MESSAGE_BY_CODE.get(code);
  if (!fromMessage) return undefined;
  const error = fromMessage(message);
  // Constructors that take the failure's fields write their own message: the server's is kept.
  error.message = message;
  const fields: Record<string, unknown> = {};
  if (received.cause !== undefined) fields.cause = received.cause;
  if (received.callId !== undefined) fields.callId = received.callId;
  if (received.grpcStatus !== undefined) fields.grpcStatus = received.grpcStatus;
  if (received.retriable !== undefined && received.retriable !== error.retriable) fields.retriable = received.retriable;
  for (const [name, value] of Object.entries(fields)) Object.defineProperty(error, name, { value, enumerable: name !== 'cause', configurable: true, writable: false });
  return error;
}
