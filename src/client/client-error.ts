import * as grpc from '@grpc/grpc-js';
import { errorForCode } from '../core/error-registry.js';
import { StrataError } from '../core/errors.js';
import { CALL_ID_METADATA_KEY, ERROR_CODE_METADATA_KEY, ERROR_RETRIABLE_METADATA_KEY } from '../protocol/protocol.js';

/** gRPC statuses a client may retry unchanged when the server did not say otherwise. */
const RETRIABLE_STATUSES = new Set([grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED, grpc.status.RESOURCE_EXHAUSTED]);

/**
 * What every failure of a call is, as the client reports it: a StrataError with `code` (Strata's
 * machine-readable reason: TOPIC_NOT_FOUND, OFFSET_OUT_OF_RANGE, ...), `retriable`, `grpcStatus` (the
 * call's gRPC status) and `callId` (the server's name for the call in its log lines, when it sent one).
 *
 * A code the server sends is made into its own class of core/errors.ts (TopicNotFoundError, ...:
 * one registry, core/error-registry.ts); a failure the server never sends (the server unreachable, a
 * stream that ended, a request timeout, an outcome unknown) into a class of transport-errors.ts. This
 * class itself is made only for the rest: a code this client has no class for (a newer server's) and
 * a status from gRPC itself, without a Strata code (code = the status's name: DEADLINE_EXCEEDED,
 * UNAVAILABLE, CANCELLED, ...).
 *
 * `error instanceof StrataClientError` is true for all of them (any StrataError that came with a
 * gRPC status), as it was when this was the only class: code written against it keeps working.
 */
export class StrataClientError extends StrataError {
  declare readonly grpcStatus: grpc.status;

  constructor(
    readonly code: string,
    message: string,
    grpcStatus: grpc.status,
    readonly retriable: boolean,
    options?: { cause?: unknown; callId?: string },
  ) {
    super(message, { ...options, grpcStatus });
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    // Subclasses keep ordinary instanceof; this class stands for every error a call failed with.
    if (this !== StrataClientError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return value instanceof StrataError && typeof value.grpcStatus === 'number';
  }

  /** A failed call's error (a grpc-js ServiceError) as its Strata class. */
  static fromServiceError(error: unknown): StrataClientError {
    if (error instanceof StrataClientError) return error;
    // Already a Strata error of the client's own making (not from a call): its class and code stand;
    // reading it as a ServiceError would take its code for a gRPC status.
    if (error instanceof StrataError) return error as StrataClientError;
    const serviceError = error as Partial<grpc.ServiceError>;
    const status = serviceError.code ?? grpc.status.UNKNOWN;
    const strataCode = serviceError.metadata?.get(ERROR_CODE_METADATA_KEY)[0]?.toString();
    const code = strataCode ?? grpc.status[status] ?? 'UNKNOWN';
    const retriableText = serviceError.metadata?.get(ERROR_RETRIABLE_METADATA_KEY)[0]?.toString();
    const retriable = retriableText !== undefined ? retriableText === 'true' : RETRIABLE_STATUSES.has(status);
    let details = serviceError.details ?? (error instanceof Error ? error.message : String(error));
    // The server writes "CODE: message"; the code has its own field.
    if (details.startsWith(`${code}: `)) details = details.slice(code.length + 2);
    const callId = serviceError.metadata?.get(CALL_ID_METADATA_KEY)[0]?.toString();
    return received(code, details, status, retriable, { cause: error, callId }, strataCode !== undefined);
  }

  /** A failure inside a stream that goes on (a Failure message) as its Strata class. */
  static fromFailure(failure: { code: string; message: string; retriable: boolean; grpcStatus: number }): StrataClientError {
    return received(failure.code, failure.message, failure.grpcStatus as grpc.status, failure.retriable, {}, true);
  }
}

/** The error of a Strata code, as the server would send it (for failures the client finds in what it received). */
export function errorOfCode(code: string, message: string, grpcStatus: grpc.status, retriable: boolean, options: { cause?: unknown } = {}): StrataClientError {
  return received(code, message, grpcStatus, retriable, options, true);
}

/** The registry's class for a Strata code; the base class for an unknown code or a gRPC status. */
function received(code: string, message: string, grpcStatus: grpc.status, retriable: boolean, options: { cause?: unknown; callId?: string }, isStrataCode: boolean): StrataClientError {
  const known = isStrataCode ? errorForCode(code, message, { ...options, grpcStatus, retriable }) : undefined;
  return (known as StrataClientError | undefined) ?? new StrataClientError(code, message, grpcStatus, retriable, options);
}

/**
 * The same failure with another message or retriable flag, of the same class (the producer marks a
 * refusal of a whole request retriable for each of its batches, and an error after an unanswered
 * request as one whose batch may have been written).
 */
export function copyError<E extends StrataError>(error: E, changes: { message?: string; retriable?: boolean }): E {
  const copy = Object.create(Object.getPrototypeOf(error) as object, Object.getOwnPropertyDescriptors(error)) as E;
  if (changes.message !== undefined) {
    Object.defineProperty(copy, 'message', { value: changes.message, writable: true, configurable: true, enumerable: false });
    const frames = error.stack?.split('\n').slice(1).join('\n');
    Object.defineProperty(copy, 'stack', { value: `${copy.name}: ${changes.message}${frames ? `\n${frames}` : ''}`, writable: true, configurable: true, enumerable: false });
  }
  if (changes.retriable !== undefined) Object.defineProperty(copy, 'retriable', { value: changes.retriable, writable: false, configurable: true, enumerable: true });
  return copy;
}

/** The cause grpc-js names in an UNAVAILABLE call's details ("connect ECONNREFUSED 127.0.0.1:1"), if any. */
export function connectionErrorOf(error: StrataClientError): string | undefined {
  if (error.grpcStatus !== grpc.status.UNAVAILABLE) return undefined;
  const match = /Last error: (?:Error: )?(.*?)(?:\. Resolution note:.*)?$/s.exec(error.message);
  return match?.[1]?.trim() || undefined;
}

export { OutcomeUnknownError, ProducerClosedError, RequestTimeoutError, ServerUnreachableError, StreamEndedError } from './transport-errors.js';
