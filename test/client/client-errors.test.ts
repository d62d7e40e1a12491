import { readdirSync, readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { copyError, OutcomeUnknownError, ProducerClosedError, RequestTimeoutError, ServerUnreachableError, StreamEndedError, StrataClientError } from '../../src/client/client-error.js';
import { OffsetOutOfRangeError, StrataError, TopicNotFoundError, UnknownProducerError } from '../../src/core/errors.js';
import * as root from '../../src/index.js';

/** A ServiceError as grpc-js hands one to a callback, with the trailers a Strata server sets. */
function serviceError(status: grpc.status, details: string, trailers: Record<string, string> = {}): grpc.ServiceError {
  const metadata = new grpc.Metadata();
  for (const [name, value] of Object.entries(trailers)) metadata.set(name, value);
  return Object.assign(new Error(`${status} ${grpc.status[status]}: ${details}`), { code: status, details, metadata });
}

describe('client errors', () => {
  it("makes a server's code into its class, carrying code, retriable, grpcStatus and callId", () => {
    const error = StrataClientError.fromServiceError(
      serviceError(grpc.status.NOT_FOUND, "TOPIC_NOT_FOUND: topic 'orders' does not exist", { 'strata-error-code': 'TOPIC_NOT_FOUND', 'strata-retriable': 'false', 'strata-call-id': 'c-1' }),
    );
    expect(error).toBeInstanceOf(TopicNotFoundError);
    expect(error).toBeInstanceOf(StrataError);
    expect(error).toBeInstanceOf(StrataClientError);
    expect(error).toMatchObject({ code: 'TOPIC_NOT_FOUND', retriable: false, grpcStatus: grpc.status.NOT_FOUND, callId: 'c-1', message: "topic 'orders' does not exist", topic: 'orders' });
    expect(error.name).toBe('TopicNotFoundError');
  });

  it('makes a failure inside a stream into its class too', () => {
    const error = StrataClientError.fromFailure({ code: 'OFFSET_OUT_OF_RANGE', message: new OffsetOutOfRangeError(50, 0, 10).message, retriable: false, grpcStatus: grpc.status.OUT_OF_RANGE });
    expect(error).toBeInstanceOf(OffsetOutOfRangeError);
    expect(error).toMatchObject({ requestedOffset: 50, logStartOffset: 0, logEndOffset: 10, grpcStatus: grpc.status.OUT_OF_RANGE });
    const retriable = StrataClientError.fromFailure({ code: 'UNKNOWN_PRODUCER', message: 'x', retriable: true, grpcStatus: grpc.status.FAILED_PRECONDITION });
    expect(retriable).toBeInstanceOf(UnknownProducerError);
    expect(retriable.retriable).toBe(true);
  });

  it("keeps a newer server's unknown code as a base-class error with that code", () => {
    const error = StrataClientError.fromServiceError(serviceError(grpc.status.FAILED_PRECONDITION, 'PRODUCER_FENCED_V9: gone', { 'strata-error-code': 'PRODUCER_FENCED_V9', 'strata-retriable': 'false' }));
    expect(error.constructor).toBe(StrataClientError);
    expect(error).toMatchObject({ code: 'PRODUCER_FENCED_V9', retriable: false, grpcStatus: grpc.status.FAILED_PRECONDITION, message: 'gone' });
  });

  it("names a status from gRPC itself (no Strata code) by the status, as before", () => {
    const error = StrataClientError.fromServiceError(serviceError(grpc.status.DEADLINE_EXCEEDED, 'Deadline exceeded'));
    expect(error.constructor).toBe(StrataClientError);
    expect(error).toMatchObject({ code: 'DEADLINE_EXCEEDED', retriable: true, grpcStatus: grpc.status.DEADLINE_EXCEEDED });
    // A gRPC status name is not taken for a Strata code of the same name (INVALID_ARGUMENT).
    expect(StrataClientError.fromServiceError(serviceError(grpc.status.INVALID_ARGUMENT, 'bad'))).not.toBeInstanceOf(root.InvalidArgumentError);
  });

  it("keeps a Strata error the client raised itself as it is (its code is not taken for a gRPC status)", () => {
    const own = new TopicNotFoundError('orders');
    expect(StrataClientError.fromServiceError(own)).toBe(own);
    expect(StrataClientError.fromServiceError(own)).toMatchObject({ code: 'TOPIC_NOT_FOUND' });
  });

  it('has a class of its own for each failure the server never sends, all with a code, a flag and a status', () => {
    const transport = [
      [new ServerUnreachableError('h:1', 5_000, 'connect ECONNREFUSED'), 'SERVER_UNREACHABLE', false, grpc.status.UNAVAILABLE],
      [new StreamEndedError(), 'STREAM_ENDED', true, grpc.status.UNAVAILABLE],
      [new RequestTimeoutError(30_000), 'REQUEST_TIMEOUT', true, grpc.status.DEADLINE_EXCEEDED],
      [new OutcomeUnknownError('unanswered'), 'OUTCOME_UNKNOWN', false, grpc.status.DEADLINE_EXCEEDED],
      [new ProducerClosedError(), 'PRODUCER_CLOSED', false, grpc.status.FAILED_PRECONDITION],
    ] as const;
    for (const [error, code, retriable, status] of transport) {
      expect(error).toBeInstanceOf(StrataError);
      expect(error).toBeInstanceOf(StrataClientError);
      expect(error, code).toMatchObject({ code, retriable, grpcStatus: status });
    }
    // instanceof of a transport class is an ordinary one.
    expect(new StreamEndedError()).not.toBeInstanceOf(RequestTimeoutError);
    // A server-side error (no status: never went through a client) is not a client error.
    expect(new TopicNotFoundError('t')).not.toBeInstanceOf(StrataClientError);
  });

  it('copies an error with another message or flag, keeping its class and fields', () => {
    const original = new ServerUnreachableError('h:1', 5_000, undefined);
    const copy = copyError(original, { message: `${original.message} (it may have been written)`, retriable: true });
    expect(copy).toBeInstanceOf(ServerUnreachableError);
    expect(copy).toMatchObject({ code: 'SERVER_UNREACHABLE', address: 'h:1', unreachableForMs: 5_000, retriable: true, grpcStatus: grpc.status.UNAVAILABLE });
    expect(copy.stack).toMatch(/^ServerUnreachableError: cannot reach h:1: .* \(it may have been written\)\n/);
    expect(original.retriable).toBe(false);
    expect(original.message).not.toContain('written');
  });

  it('exports every error class from the root entry', () => {
    for (const name of ['StrataError', 'StrataClientError', 'TopicNotFoundError', 'OffsetOutOfRangeError', 'FencedInstanceIdError', 'ServerUnreachableError', 'StreamEndedError', 'RequestTimeoutError', 'OutcomeUnknownError', 'ProducerClosedError', 'DataLossError']) {
      expect(root, name).toHaveProperty(name);
    }
  });

  it('client code names gRPC statuses, never by number', () => {
    const dir = new URL('../../src/client/', import.meta.url);
    const offenders: string[] = [];
    for (const file of readdirSync(dir).filter((name) => name.endsWith('.ts'))) {
      readFileSync(new URL(file, dir), 'utf8')
        .split('\n')
        .forEach((line, i) => {
          if (/(grpcStatus|[sS]tatus|\.code)\s*(===|!==|==|!=|:)\s*\d/.test(line) || /[sS]tatus\s*\(\s*\d/.test(line)) offenders.push(`${file}:${i + 1}: ${line.trim()}`);
        });
    }
    expect(offenders).toEqual([]);
  });
});
