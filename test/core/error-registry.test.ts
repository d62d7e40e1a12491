import { describe, expect, it } from 'vitest';
import { ERROR_FROM_MESSAGE_BY_CODE, errorForCode } from '../../src/core/error-registry.js';
import * as errors from '../../src/core/errors.js';

type ErrorClass = new (...args: unknown[]) => errors.StrataError;

/** Every concrete StrataError class of core/errors.ts. */
function errorClasses(): ErrorClass[] {
  return (Object.values(errors) as unknown[]).filter((value): value is ErrorClass => typeof value === 'function' && value !== errors.StrataError && value.prototype instanceof errors.StrataError);
}

describe('the error registry', () => {
  it('has one entry per error class of core/errors.ts, making that class, and no other', () => {
    const classes = errorClasses();
    expect(classes.length).toBeGreaterThan(30);
    const codes = classes.map((errorClass) => new errorClass('placeholder', 0, 0, 0, 0, 0).code);
    expect(new Set(codes).size, 'two classes share a code').toBe(codes.length);
    expect([...ERROR_FROM_MESSAGE_BY_CODE.keys()].sort()).toEqual([...codes].sort());
    for (const [i, errorClass] of classes.entries()) {
      const made = errorForCode(codes[i]!, 'from the wire')!;
      expect(made, codes[i]).toBeInstanceOf(errorClass);
      expect(made.code).toBe(codes[i]);
      expect(made.message).toBe('from the wire');
      expect(made.name).toBe(errorClass.name);
      expect(made.stack).toMatch(new RegExp(`^${errorClass.name}: from the wire`));
    }
  });

  it('knows no code it has no class for: a newer server\'s code is left to the caller', () => {
    expect(errorForCode('SOMETHING_NEWER', 'x')).toBeUndefined();
  });

  it('carries what the client received: the status, call id, cause, and the retriable flag the server sent', () => {
    const cause = new Error('the grpc-js error');
    const error = errorForCode('SHUTTING_DOWN', 'stopping', { grpcStatus: 14, callId: 'call-1', cause, retriable: true })!;
    expect(error).toMatchObject({ code: 'SHUTTING_DOWN', retriable: true, grpcStatus: 14, callId: 'call-1', cause });
    // A server that says otherwise than this client's class is believed (it decides what it retries).
    expect(errorForCode('TOPIC_NOT_FOUND', "topic 't' does not exist", { retriable: true })!.retriable).toBe(true);
    // Raised in the server, an error has neither.
    const raised = new errors.ShuttingDownError('x');
    expect([raised.callId, raised.grpcStatus]).toEqual([undefined, undefined]);
    expect(Object.keys(raised)).not.toContain('callId');
    expect(Object.keys(raised)).not.toContain('grpcStatus');
  });

  it("gives back the fields a class's constructor wrote into its message", () => {
    const roundTrip = <E extends errors.StrataError>(raised: E): E => errorForCode(raised.code, raised.message) as E;
    expect(roundTrip(new errors.TopicNotFoundError('orders.v2'))).toMatchObject({ topic: 'orders.v2' });
    expect(roundTrip(new errors.TopicAlreadyExistsError('a-b_c'))).toMatchObject({ topic: 'a-b_c' });
    expect(roundTrip(new errors.PartitionNotFoundError('t', 7, 3))).toMatchObject({ topic: 't', partition: 7, partitionCount: 3 });
    expect(roundTrip(new errors.OffsetOutOfRangeError(-1, 5, 9))).toMatchObject({ requestedOffset: -1, logStartOffset: 5, logEndOffset: 9 });
    expect(roundTrip(new errors.BatchTooLargeError(2_000_000, 1_048_576))).toMatchObject({ sizeBytes: 2_000_000, maxBatchBytes: 1_048_576 });
    const middle = new errors.DataLossError('t', 2, 100, 140, '/data/t-2/00000000000000000000.log', 4096);
    expect(roundTrip(middle)).toMatchObject({ topic: 't', partition: 2, firstBadOffset: 100, nextValidOffset: 140, segmentPath: middle.segmentPath, position: 4096, reason: undefined });
    const header = new errors.DataLossError('t', 0, 7, 7, '/d/x.log', 61, 'base offset 3 (expected 7)');
    expect(roundTrip(header)).toMatchObject({ topic: 't', partition: 0, firstBadOffset: 7, nextValidOffset: 7, segmentPath: '/d/x.log', position: 61, reason: 'base offset 3 (expected 7)' });
  });

  it('keeps the class and the message of a message in another wording, with fields it cannot read as NaN or empty', () => {
    const error = errorForCode('OFFSET_OUT_OF_RANGE', 'offset beyond the end') as errors.OffsetOutOfRangeError;
    expect(error).toBeInstanceOf(errors.OffsetOutOfRangeError);
    expect(error.message).toBe('offset beyond the end');
    expect(error.requestedOffset).toBeNaN();
    const other = errorForCode('BATCH_TOO_LARGE', "a request's records are over 64 MiB") as errors.BatchTooLargeError;
    expect(other.message).toBe("a request's records are over 64 MiB");
    expect(other.sizeBytes).toBeNaN();
  });
});
