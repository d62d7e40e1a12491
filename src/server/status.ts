import * as grpc from '@grpc/grpc-js';
import { asStorageError, StrataError } from '../core/errors.js';
import type { Failure } from '../generated/strata/v1/Failure.js';
import { ERROR_CODE_METADATA_KEY, ERROR_RETRIABLE_METADATA_KEY } from '../protocol/protocol.js';

/** The one table from Strata error codes to gRPC status codes. */
export const STATUS_BY_ERROR_CODE: Readonly<Record<string, grpc.status>> = Object.freeze({
  INVALID_ARGUMENT: grpc.status.INVALID_ARGUMENT,
  INVALID_TOPIC_NAME: grpc.status.INVALID_ARGUMENT,
  INTERNAL_TOPIC: grpc.status.INVALID_ARGUMENT,
  INVALID_CONFIG: grpc.status.INVALID_ARGUMENT,
  CORRUPT_BATCH: grpc.status.INVALID_ARGUMENT,
  UNSUPPORTED_COMPRESSION: grpc.status.INVALID_ARGUMENT,
  UNSUPPORTED_BATCH_TYPE: grpc.status.INVALID_ARGUMENT,
  BATCH_TOO_LARGE: grpc.status.RESOURCE_EXHAUSTED,
  TOO_MANY_PENDING_APPENDS: grpc.status.RESOURCE_EXHAUSTED,
  TOPIC_NOT_FOUND: grpc.status.NOT_FOUND,
  PARTITION_NOT_FOUND: grpc.status.NOT_FOUND,
  TOPIC_ALREADY_EXISTS: grpc.status.ALREADY_EXISTS,
  OFFSET_OUT_OF_RANGE: grpc.status.OUT_OF_RANGE,
  OUT_OF_ORDER_SEQUENCE: grpc.status.FAILED_PRECONDITION,
  UNKNOWN_PRODUCER: grpc.status.FAILED_PRECONDITION,
  DUPLICATE_SEQUENCE: grpc.status.FAILED_PRECONDITION,
  PRODUCER_FENCED: grpc.status.FAILED_PRECONDITION,
  TOO_MANY_PRODUCERS: grpc.status.RESOURCE_EXHAUSTED,
  STORAGE_FAILED: grpc.status.UNAVAILABLE,
  // The server's descriptor limit: the same request succeeds on a server with room (ulimit -n).
  TOO_MANY_OPEN_FILES: grpc.status.RESOURCE_EXHAUSTED,
  SHUTTING_DOWN: grpc.status.UNAVAILABLE,
  LOG_CLOSED: grpc.status.UNAVAILABLE,
  DATA_LOSS: grpc.status.DATA_LOSS,
  SLOW_READER: grpc.status.RESOURCE_EXHAUSTED,
  TOO_MANY_REQUESTS: grpc.status.RESOURCE_EXHAUSTED,
  FENCED_MEMBER_EPOCH: grpc.status.FAILED_PRECONDITION,
  FENCED_INSTANCE_ID: grpc.status.FAILED_PRECONDITION,
  UNKNOWN_MEMBER_ID: grpc.status.NOT_FOUND,
  GROUP_NOT_FOUND: grpc.status.NOT_FOUND,
  GROUP_NOT_EMPTY: grpc.status.FAILED_PRECONDITION,
  QUEUE_RECORD_NOT_ACQUIRED: grpc.status.FAILED_PRECONDITION,
  QUEUE_GROUP_NOT_FOUND: grpc.status.NOT_FOUND,
  QUEUE_GROUP_NOT_EMPTY: grpc.status.FAILED_PRECONDITION,
  GROUP_MAX_SIZE_REACHED: grpc.status.RESOURCE_EXHAUSTED,
  // A server resource, not a bad argument: the same request succeeds on a server with room.
  PARTITION_LIMIT_REACHED: grpc.status.RESOURCE_EXHAUSTED,
  MEMORY_BUDGET_EXHAUSTED: grpc.status.RESOURCE_EXHAUSTED,
  TOO_MANY_CONNECTIONS: grpc.status.RESOURCE_EXHAUSTED,
  TOO_MANY_STREAMS: grpc.status.RESOURCE_EXHAUSTED,
  PARTITION_OVERFLOW: grpc.status.RESOURCE_EXHAUSTED,
  QUOTA_EXCEEDED: grpc.status.RESOURCE_EXHAUSTED,
  INVALID_MESSAGE_ID: grpc.status.INVALID_ARGUMENT,
  AUTHENTICATION_FAILED: grpc.status.UNAUTHENTICATED,
  PERMISSION_DENIED: grpc.status.PERMISSION_DENIED,
  SUBJECT_NOT_FOUND: grpc.status.NOT_FOUND,
  SCHEMA_VERSION_NOT_FOUND: grpc.status.NOT_FOUND,
  SCHEMA_NOT_FOUND: grpc.status.NOT_FOUND,
  INCOMPATIBLE_SCHEMA: grpc.status.FAILED_PRECONDITION,
  INVALID_SCHEMA: grpc.status.INVALID_ARGUMENT,
  INVALID_SCHEMA_VERSION: grpc.status.INVALID_ARGUMENT,
  SCHEMA_NOT_SOFT_DELETED: grpc.status.FAILED_PRECONDITION,
  SCHEMA_ALREADY_SOFT_DELETED: grpc.status.FAILED_PRECONDITION,
  SCHEMA_LIMIT_REACHED: grpc.status.RESOURCE_EXHAUSTED,
  SCHEMA_REFERENCED: grpc.status.FAILED_PRECONDITION,
  RECORD_VALIDATION_FAILED: grpc.status.INVALID_ARGUMENT,
});

export interface DescribedError {
  code: string;
  message: string;
  retriable: boolean;
  grpcStatus: grpc.status;
}

/**
 * Told the code of every error mapped here (strata_errors_total). Process-wide, as these functions
 * are: a process that runs two servers (tests) counts each one's errors in both.
 */
const errorObservers = new Set<(code: string) => void>();

/** Calls `observer` with the code of every error the server maps to a status or failure; returns the unsubscribe function. */
export function observeErrors(observer: (code: string) => void): () => void {
  errorObservers.add(observer);
  return () => void errorObservers.delete(observer);
}

/** Any thrown value as a code, message and status; unknown errors are INTERNAL and never retriable. */
export function describeError(thrown: unknown): DescribedError {
  const described = describe(thrown);
  for (const observer of errorObservers) observer(described.code);
  return described;
}

function describe(thrown: unknown): DescribedError {
  // A file-system error that no layer below named (ENOSPC, EMFILE, ...) still gets its Strata code.
  const error = asStorageError(thrown, 'a file operation failed');
  if (error instanceof StrataError) {
    return { code: error.code, message: error.message, retriable: error.retriable, grpcStatus: STATUS_BY_ERROR_CODE[error.code] ?? grpc.status.INTERNAL };
  }
  return { code: 'INTERNAL', message: error instanceof Error ? error.message : String(error), retriable: false, grpcStatus: grpc.status.INTERNAL };
}

/** For a whole call: the status with the code and retriable flag in trailing metadata. */
export function toServiceError(error: unknown): Partial<grpc.StatusObject> {
  const described = describeError(error);
  const metadata = new grpc.Metadata();
  metadata.set(ERROR_CODE_METADATA_KEY, described.code);
  metadata.set(ERROR_RETRIABLE_METADATA_KEY, String(described.retriable));
  return { code: described.grpcStatus, details: `${described.code}: ${described.message}`, metadata };
}

/** For one request inside a stream that goes on. */
export function toFailure(error: unknown): Failure {
  const described = describeError(error);
  return { code: described.code, message: described.message, retriable: described.retriable, grpcStatus: described.grpcStatus };
}
