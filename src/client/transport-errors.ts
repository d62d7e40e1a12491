import * as grpc from '@grpc/grpc-js';
import { StrataError } from '../core/errors.js';

// Failures a server never sends: the client finds them itself, about its connection, its streams and
// its requests. Each carries the gRPC status the failed call would have had, so that, like the
// classes the server's codes become, `instanceof StrataClientError` holds for them.

/**
 * The producer gave up on a server it could not connect to: every record that waited on the
 * connection fails with this, together. Nothing of it reached the server unless the message says
 * the record may have been written (it went out on a connection that broke before the answer).
 */
export class ServerUnreachableError extends StrataError {
  readonly code = 'SERVER_UNREACHABLE';
  readonly retriable = false;
  declare readonly grpcStatus: grpc.status;

  constructor(
    readonly address: string,
    readonly unreachableForMs: number,
    lastError: string | undefined,
  ) {
    super(`cannot reach ${address}: no connection for ${unreachableForMs} ms${lastError ? ` (last error: ${lastError})` : ''}`, { grpcStatus: grpc.status.UNAVAILABLE });
  }
}

/** The produce stream ended without an error status (the server closed it): what was in flight is sent again on a new one. */
export class StreamEndedError extends StrataError {
  readonly code = 'STREAM_ENDED';
  readonly retriable = true;
  declare readonly grpcStatus: grpc.status;

  constructor(message = 'the produce stream ended') {
    super(message, { grpcStatus: grpc.status.UNAVAILABLE });
  }
}

/** A produce request went unanswered for the producer's requestTimeoutMs: its stream is given up and the request sent again. */
export class RequestTimeoutError extends StrataError {
  readonly code = 'REQUEST_TIMEOUT';
  readonly retriable = true;
  declare readonly grpcStatus: grpc.status;

  constructor(readonly requestTimeoutMs: number) {
    super(`a produce request went unanswered for ${requestTimeoutMs} ms`, { grpcStatus: grpc.status.DEADLINE_EXCEEDED });
  }
}

/**
 * A batch went out and was never answered, and sending it again could write it twice (its
 * partition's sequence started over): it fails instead, and it may be in the log.
 */
export class OutcomeUnknownError extends StrataError {
  readonly code = 'OUTCOME_UNKNOWN';
  readonly retriable = false;
  declare readonly grpcStatus: grpc.status;

  constructor(message: string) {
    super(message, { grpcStatus: grpc.status.DEADLINE_EXCEEDED });
  }
}

/** A record sent to, or still waiting in, a producer that was closed. */
export class ProducerClosedError extends StrataError {
  readonly code = 'PRODUCER_CLOSED';
  readonly retriable = false;
  declare readonly grpcStatus: grpc.status;

  constructor(message = 'the producer is closed') {
    super(message, { grpcStatus: grpc.status.FAILED_PRECONDITION });
  }
}
