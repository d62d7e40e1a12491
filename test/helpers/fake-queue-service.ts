import * as grpc from '@grpc/grpc-js';
import { encodeRecordBatch } from '../../src/format/record-batch-codec.js';
import type { QueueAnswer__Output } from '../../src/generated/strata/v1/QueueAnswer.js';
import type { QueueAnswerResult } from '../../src/generated/strata/v1/QueueAnswerResult.js';
import type { QueueJoin__Output } from '../../src/generated/strata/v1/QueueJoin.js';
import type { QueueSessionRequest__Output } from '../../src/generated/strata/v1/QueueSessionRequest.js';
import type { QueueSessionResponse } from '../../src/generated/strata/v1/QueueSessionResponse.js';
import { loadProtocol } from '../../src/protocol/protocol.js';
import { toFailure, toServiceError } from '../../src/server/status.js';
import { InvalidArgumentError, QueueRecordNotAcquiredError, type StrataError } from '../../src/core/errors.js';

type Call = grpc.ServerDuplexStream<QueueSessionRequest__Output, QueueSessionResponse>;

export interface FakeQueueServiceOptions {
  /** Records of topic 't' partition 0, values `v<offset>` (default 0; add more with append()). */
  records?: number;
  /** Records per stored batch (default 4): deliveries carry whole batches, of which only some offsets are the member's. */
  recordsPerBatch?: number;
  /** Refuses every join with this error (the stream ends with its status). */
  refuseJoin?: StrataError;
  /** Fails the answer of these offsets (with QUEUE_RECORD_NOT_ACQUIRED unless told). */
  failAnswer?: (answer: QueueAnswer__Output) => StrataError | undefined;
  /** Refuses every answer request whole, with one INVALID_ARGUMENT result (as a server does for too many answers). */
  refuseAnswerRequests?: boolean;
  /** Results of answer requests wait until release() (to test what waits for them). */
  holdResults?: boolean;
  /** Lock duration handed out (ms): deadlines are Date.now() + this. Default 30,000. */
  lockDurationMs?: number;
  /** A server that breaks the contract: delivers every record at once, whatever the in-flight limit, as fast as its stream takes them. */
  ignoreCredits?: boolean;
  /** Values of this many bytes (default: `v<offset>`). */
  valueBytes?: number;
}

export interface FakeSession {
  readonly call: Call;
  join: QueueJoin__Output | undefined;
  readonly memberId: string;
  /** Offsets this session holds (delivered, not answered). */
  readonly held: Set<number>;
  isEnded: boolean;
  /** Why the stream ended: 'client-end', 'cancelled', 'server-error'. */
  endedBy: string | undefined;
  /** The member half-closed: the stream ends once its answers are answered. */
  hasClientEnded: boolean;
  pendingResults: number;
  /** Its answers said `leaving`: it gets no more deliveries. */
  isLeaving: boolean;
  /** Deliveries made to it. */
  deliveredCount: number;
}

/**
 * An in-test QueueService over a real grpc-js server (the client's real stub, channel and codec):
 * one topic `t` with one partition, records stored as batches of `recordsPerBatch`. It follows the
 * contract of queue.proto in small: the first request is a join, deliveries go out while the member
 * holds fewer than its in-flight limit (one record per delivery, in its whole stored batch), each
 * answer frees its place and is answered in order in a QueueAnswerResults, and a session that ends
 * releases what it holds (to the front of the line). It records every request, for the tests to
 * look at.
 */
export async function startFakeQueueService(options: FakeQueueServiceOptions = {}) {
  const recordsPerBatch = options.recordsPerBatch ?? 4;
  const batches: Buffer[] = [];
  let logEndOffset = 0;
  const available: number[] = [];
  const sessions: FakeSession[] = [];
  const requests: QueueSessionRequest__Output[] = [];
  const answers: QueueAnswer__Output[] = [];
  const heldResults: Array<() => void> = [];
  let nextMemberId = 1;

  let deliveredCount = 0;
  let isWriteBlocked = false;
  const defaultValue = (offset: number) => (options.valueBytes ? `v${offset}`.padEnd(options.valueBytes, '.') : `v${offset}`);
  const append = (count: number, valueOf: (offset: number) => string = defaultValue) => {
    for (let i = 0; i < count; i += recordsPerBatch) {
      const n = Math.min(recordsPerBatch, count - i);
      const baseOffset = logEndOffset;
      batches.push(encodeRecordBatch(Array.from({ length: n }, (_, j) => ({ key: `k${baseOffset + j}`, value: valueOf(baseOffset + j), headers: { h: 'x' } })), { baseOffset }));
      for (let j = 0; j < n; j++) available.push(baseOffset + j);
      logEndOffset += n;
    }
    for (const session of sessions) deliver(session);
  };
  const batchOf = (offset: number) => batches[Math.floor(offset / recordsPerBatch)]!;

  const deliver = (session: FakeSession) => {
    if (session.isEnded || !session.join || session.isLeaving) return;
    const limit = options.ignoreCredits ? Number.POSITIVE_INFINITY : session.join.inFlightLimit || 100;
    while (session.held.size < limit && available.length > 0 && !isWriteBlocked) {
      const offset = available.shift()!;
      session.held.add(offset);
      session.deliveredCount++;
      deliveredCount++;
      const lockDeadlineMs = Date.now() + (options.lockDurationMs ?? 30_000);
      const isWritable = session.call.write({ delivery: { topic: 't', partition: 0, batches: batchOf(offset), records: [{ offset, deliveryCount: 1, lockDeadlineMs }] } });
      if (!isWritable && options.ignoreCredits) {
        // Flow control is the one thing such a server still respects.
        isWriteBlocked = true;
        session.call.once('drain', () => {
          isWriteBlocked = false;
          deliver(session);
        });
      }
    }
  };

  const onRequest = (session: FakeSession, request: QueueSessionRequest__Output) => {
    requests.push(request);
    if (request.join) {
      if (options.refuseJoin) {
        session.call.emit('error', toServiceError(options.refuseJoin));
        return;
      }
      session.join = request.join;
      session.call.write({ joined: { memberId: session.memberId, config: { lockDurationMs: options.lockDurationMs ?? 30_000, maxDeliveryAttempts: 5, ordering: 'QUEUE_ORDERING_NONE' } } });
      deliver(session);
      return;
    }
    if (request.answers && options.refuseAnswerRequests) {
      const failure = toFailure(new InvalidArgumentError('too many answers in one request: none was applied'));
      session.call.write({ results: { requestId: request.answers.requestId, results: [{ topic: '', partition: 0, offset: 0, failure }] } });
      return;
    }
    if (request.answers) {
      if (request.answers.leaving) session.isLeaving = true;
      const results: QueueAnswerResult[] = request.answers.answers.map((answer) => {
        answers.push(answer);
        const failure = options.failAnswer?.(answer) ?? (session.held.has(answer.offset) ? undefined : new QueueRecordNotAcquiredError(`${answer.offset} is not held by ${session.memberId}`));
        if (!failure) {
          session.held.delete(answer.offset);
          if (answer.type === 'QUEUE_ANSWER_TYPE_RELEASE') available.push(answer.offset);
        }
        return { topic: answer.topic, partition: answer.partition, offset: answer.offset, failure: failure ? toFailure(failure) : null };
      });
      session.pendingResults++;
      const send = () => {
        session.pendingResults--;
        if (session.isEnded) return;
        session.call.write({ results: { requestId: request.answers!.requestId, results } });
        if (session.hasClientEnded) finishEnded(session);
        else deliver(session);
      };
      if (options.holdResults) heldResults.push(send);
      else send();
      return;
    }
    if (request.extend) {
      const { requestId, lockMs, records } = request.extend;
      const results = records.map((r) => ({
        topic: r.topic,
        partition: r.partition,
        offset: r.offset,
        failure: session.held.has(r.offset) ? null : toFailure(new QueueRecordNotAcquiredError(`${r.offset} is not held`)),
        lockDeadlineMs: Date.now() + (lockMs || (options.lockDurationMs ?? 30_000)),
      }));
      session.call.write({ results: { requestId, results } });
    }
  };

  const endSession = (session: FakeSession, by: string) => {
    if (session.isEnded) return;
    session.isEnded = true;
    session.endedBy = by;
    available.unshift(...[...session.held].sort((a, b) => a - b));
    session.held.clear();
    for (const other of sessions) deliver(other);
  };

  /** The member ended its side: once its answers are answered, release what it holds and end ours. */
  const finishEnded = (session: FakeSession) => {
    if (session.pendingResults > 0 || session.isEnded) return;
    endSession(session, 'client-end');
    session.call.end();
  };

  const server = new grpc.Server();
  server.addService(loadProtocol().protocol.strata.v1.QueueService.service, {
    QueueSession: (call: Call) => {
      const session: FakeSession = { call, join: undefined, memberId: `m${nextMemberId++}`, held: new Set(), isEnded: false, endedBy: undefined, hasClientEnded: false, pendingResults: 0, isLeaving: false, deliveredCount: 0 };
      sessions.push(session);
      call.on('data', (request: QueueSessionRequest__Output) => onRequest(session, request));
      call.on('end', () => {
        session.hasClientEnded = true;
        finishEnded(session);
      });
      call.on('cancelled', () => endSession(session, 'cancelled'));
      call.on('error', () => endSession(session, 'cancelled'));
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, p) => (error ? reject(error) : resolve(p))),
  );
  if (options.records) append(options.records);

  return {
    address: `127.0.0.1:${port}`,
    sessions,
    requests,
    answers,
    append,
    /** Sends the results held back by holdResults. */
    releaseResults: () => heldResults.splice(0).forEach((send) => send()),
    heldResultCount: () => heldResults.length,
    /** Ends a session with a status (UNAVAILABLE: as a server going away). */
    breakSession(session: FakeSession, error: Partial<grpc.StatusObject>) {
      endSession(session, 'server-error');
      session.call.emit('error', error);
    },
    availableCount: () => available.length,
    deliveredCount: () => deliveredCount,
    isWriteBlocked: () => isWriteBlocked,
    close: () => server.forceShutdown(),
  };
}

export type FakeQueueService = Awaited<ReturnType<typeof startFakeQueueService>>;
