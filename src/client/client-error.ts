import * as grpc from '@grpc/grpc-js';
import { StrataError } from '../core/errors.js';
import { CALL_ID_METADATA_KEY, ERROR_CODE_METADATA_KEY, ERROR_RETRIABLE_METADATA_KEY } from '../protocol/protocol.js';

/** gRPC statuses a client may retry unchanged when the server did not say otherwise. */
const RETRIABLE_STATUSES = new Set([grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED, grpc.status.RESOURCE_EXHAUSTED]);

/**
 * A failure reported by the server (or the transport): `code` is Strata's machine-readable reason
 * (TOPIC_NOT_FOUND, OFFSET_OUT_OF_RANGE, ...), `grpcStatus` the gRPC status code.
 */
export class StrataClientError extends StrataError {
  /** The id the server's log lines name the failed call by (its `strata-call-id` trailer), when it sent one. */
  readonly callId: string | undefined;

  constructor(
    readonly code: string,
    message: string,
    readonly grpcStatus: grpc.status,
    readonly retriable: boolean,
    options?: { cause?: unknown; callId?: string },
  ) {
    super(message, options);
    this.callId = options?.callId;
  }

  static fromServiceError(error: unknown): StrataClientError {
    if (error instanceof StrataClientError) return error;
    const serviceError = error as Partial<grpc.ServiceError>;
    const status = serviceError.code ?? grpc.status.UNKNOWN;
    const code = serviceError.metadata?.get(ERROR_CODE_METADATA_KEY)[0]?.toString() ?? grpc.status[status] ?? 'UNKNOWN';
    const retriableText = serviceError.metadata?.get(ERROR_RETRIABLE_METADATA_KEY)[0]?.toString();
    const retriable = retriableText !== undefined ? retriableText === 'true' : RETRIABLE_STATUSES.has(status);
    let details = serviceError.details ?? (error instanceof Error ? error.message : String(error));
    // The server writes "CODE: message"; the code has its own field.
    if (details.startsWith(`${code}: `)) details = details.slice(code.length + 2);
    const callId = serviceError.metadata?.get(CALL_ID_METADATA_KEY)[0]?.toString();
    return new StrataClientError(code, details, status, retriable, { cause: error, callId });
  }

  static fromFailure(failure: { code: string; message: string; retriable: boolean; grpcStatus: number }): StrataClientError {
    return new StrataClientError(failure.code, failure.message, failure.grpcStatus as grpc.status, failure.retriable);
  }
}

/**
 * The producer gave up on a server it could not connect to: every record that waited on the
 * connection fails with this, together. Nothing of it reached the server unless the message says
 * the record may have been written (it went out on a connection that broke before the answer).
 */
export class ServerUnreachableError extends StrataClientError {
  declare readonly code: 'SERVER_UNREACHABLE';

  constructor(
    readonly address: string,
    readonly unreachableForMs: number,
    lastError: string | undefined,
  ) {
    super('SERVER_UNREACHABLE', `cannot reach ${address}: no connection for ${unreachableForMs} ms${lastError ? ` (last error: ${lastError})` : ''}`, grpc.status.UNAVAILABLE, false);
  }
}

/** The cause grpc-js names in an UNAVAILABLE call's details ("connect ECONNREFUSED 127.0.0.1:1"), if any. */
export function connectionErrorOf(error: StrataClientError): string | undefined {
  if (error.grpcStatus !== grpc.status.UNAVAILABLE) return undefined;
  const match = /Last error: (?:Error: )?(.*?)(?:\. Resolution note:.*)?$/s.exec(error.message);
  return match?.[1]?.trim() || undefined;
}
