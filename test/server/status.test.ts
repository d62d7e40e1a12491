import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import * as errors from '../../src/core/errors.js';
import { STATUS_BY_ERROR_CODE, toFailure } from '../../src/server/status.js';

/** Every concrete StrataError class the core exports, made with placeholder arguments. */
function everyStrataError(): errors.StrataError[] {
  const made: errors.StrataError[] = [];
  for (const value of Object.values(errors)) {
    if (typeof value !== 'function' || value === errors.StrataError || !(value.prototype instanceof errors.StrataError)) continue;
    const Class = value as unknown as new (...args: unknown[]) => errors.StrataError;
    made.push(new Class('placeholder', 0, 0, 0, 0, 0));
  }
  return made;
}

describe('the status table', () => {
  it('maps every error code the server can raise to a gRPC status (an unmapped one would reach clients as INTERNAL)', () => {
    // DATA_DIR_LOCKED and PORT_IN_USE stop `strata serve` before it listens: no client ever sees them.
    // The schema serializers' codes are raised by the client itself, on records, never by the server.
    const neverSent = new Set(['DATA_DIR_LOCKED', 'PORT_IN_USE', 'RECORD_SERIALIZATION_FAILED', 'MISSING_SCHEMA_FRAMING', 'UNKNOWN_SCHEMA_ID', 'RECORD_DESERIALIZATION_FAILED']);
    const made = everyStrataError().filter((error) => !neverSent.has(error.code));
    expect(made.length).toBeGreaterThan(20);
    expect(made.filter((error) => STATUS_BY_ERROR_CODE[error.code] === undefined).map((error) => error.code)).toEqual([]);
  });

  it('answers a server out of partitions with RESOURCE_EXHAUSTED, not retriable (nothing frees partitions by itself)', () => {
    const failure = toFailure(new errors.PartitionLimitReachedError('adding 5 partitions would pass the limit'));
    expect(failure).toMatchObject({ code: 'PARTITION_LIMIT_REACHED', retriable: false, grpcStatus: grpc.status.RESOURCE_EXHAUSTED });
  });

  it('tells a client that DUPLICATE_SEQUENCE is final and may be in the log', () => {
    const failure = toFailure(new errors.DuplicateSequenceError('producer 1 sent sequence 0, older than what this partition kept: the batch may already be in the log'));
    expect(failure).toMatchObject({ code: 'DUPLICATE_SEQUENCE', retriable: false });
  });
});
