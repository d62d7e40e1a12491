import * as grpc from '@grpc/grpc-js';
import { decodeRecordBatch, type DecodedRecord, iterateBatches } from '../../src/format/index.js';
import type { QueueAnswer } from '../../src/generated/strata/v1/QueueAnswer.js';
import type { QueueAnswerResults__Output } from '../../src/generated/strata/v1/QueueAnswerResults.js';
import type { QueueDelivery__Output } from '../../src/generated/strata/v1/QueueDelivery.js';
import type { QueueJoin } from '../../src/generated/strata/v1/QueueJoin.js';
import type { QueueJoined__Output } from '../../src/generated/strata/v1/QueueJoined.js';
import type { QueueRecordRef } from '../../src/generated/strata/v1/QueueRecordRef.js';
import type { QueueServiceClient } from '../../src/generated/strata/v1/QueueService.js';
import type { QueueSessionRequest } from '../../src/generated/strata/v1/QueueSessionRequest.js';
import type { QueueSessionResponse__Output } from '../../src/generated/strata/v1/QueueSessionResponse.js';
import { ERROR_CODE_METADATA_KEY, loadProtocol } from '../../src/protocol/protocol.js';
import { eventually } from './eventually.js';

/** A record handed to a raw member, decoded from the delivery's batches. */
export interface RawDelivered {
  topic: string;
  partition: number;
  offset: number;
  deliveryCount: number;
  lockDeadlineMs: number;
  record: DecodedRecord;
}

/** How a session ended: the gRPC status and the Strata code of its trailers. */
export interface RawSessionEnd {
  status: grpc.status;
  code: string | undefined;
  details: string;
}

/** A raw gRPC client of the QueueService, from the proto alone (not the TypeScript client). */
export function rawQueueClient(address: string, options: grpc.ChannelOptions = {}): QueueServiceClient {
  const { protocol } = loadProtocol();
  return new protocol.strata.v1.QueueService(address, grpc.credentials.createInsecure(), options);
}

/**
 * One QueueSession stream driven by hand, as a member in any language would: every response is
 * collected (deliveries decoded into records, results by request id), and the stream's end kept, so
 * a test can send any sequence, well-formed or not, and look at what came back.
 */
export class RawQueueSession {
  readonly call: grpc.ClientDuplexStream<QueueSessionRequest, QueueSessionResponse__Output>;
  readonly responses: QueueSessionResponse__Output[] = [];
  readonly delivered: RawDelivered[] = [];
  joined: QueueJoined__Output | undefined;
  end: RawSessionEnd | undefined;
  private readonly results = new Map<number, QueueAnswerResults__Output>();
  private nextRequestId = 1;

  constructor(readonly client: QueueServiceClient, options: { paused?: boolean } = {}) {
    this.call = client.queueSession();
    if (options.paused) this.call.pause();
    this.call.on('data', (response: QueueSessionResponse__Output) => {
      this.responses.push(response);
      if (response.joined) this.joined = response.joined;
      if (response.delivery) this.delivered.push(...decodeDelivery(response.delivery));
      if (response.results) this.results.set(Number(response.results.requestId), response.results);
    });
    this.call.on('error', (error: grpc.ServiceError) => {
      this.end ??= { status: error.code, code: error.metadata?.get(ERROR_CODE_METADATA_KEY)[0]?.toString(), details: error.details };
    });
    this.call.on('status', (status: grpc.StatusObject) => {
      this.end ??= { status: status.code, code: status.metadata?.get(ERROR_CODE_METADATA_KEY)[0]?.toString(), details: status.details };
    });
  }

  get memberId(): string {
    return this.joined!.memberId;
  }

  send(request: QueueSessionRequest): void {
    this.call.write(request);
  }

  async join(join: QueueJoin): Promise<QueueJoined__Output> {
    this.send({ join });
    return this.until(() => this.joined, 'the joined answer');
  }

  /** Sends answers and waits for their results. */
  async answer(answers: QueueAnswer[]): Promise<QueueAnswerResults__Output> {
    const requestId = this.nextRequestId++;
    this.send({ answers: { requestId, answers } });
    return this.resultsOf(requestId);
  }

  async extend(records: QueueRecordRef[], lockMs = 0): Promise<QueueAnswerResults__Output> {
    const requestId = this.nextRequestId++;
    this.send({ extend: { requestId, records, lockMs } });
    return this.resultsOf(requestId);
  }

  resultsOf(requestId: number): Promise<QueueAnswerResults__Output> {
    return this.until(() => this.results.get(requestId), `results of request ${requestId}`);
  }

  /** Waits for `check` to give a value; fails at once, saying how, if the session ends first. */
  private async until<T>(check: () => T | undefined, what: string): Promise<T> {
    await eventually(() => check() ?? this.end, { what });
    const value = check();
    if (value === undefined) throw new Error(`the session ended before ${what}: ${this.end?.details}`);
    return value;
  }

  /** Waits until at least `count` records were delivered to this member in all; returns them all. */
  async waitForDeliveries(count: number, timeoutMs = 10_000): Promise<RawDelivered[]> {
    await eventually(() => this.delivered.length >= count, { what: `${count} deliveries (have ${this.delivered.length})`, timeoutMs });
    return this.delivered;
  }

  waitForEnd(timeoutMs = 10_000): Promise<RawSessionEnd> {
    return eventually(() => this.end, { what: 'the end of the session', timeoutMs });
  }

  close(): void {
    if (this.end === undefined) this.call.cancel();
  }
}

export function ack(record: Pick<RawDelivered, 'topic' | 'partition' | 'offset'>): QueueAnswer {
  return { topic: record.topic, partition: record.partition, offset: record.offset, type: 'QUEUE_ANSWER_TYPE_ACK' };
}

export function release(record: Pick<RawDelivered, 'topic' | 'partition' | 'offset'>, delayMs = 0, reason = ''): QueueAnswer {
  return { topic: record.topic, partition: record.partition, offset: record.offset, type: 'QUEUE_ANSWER_TYPE_RELEASE', delayMs, reason };
}

export function reject(record: Pick<RawDelivered, 'topic' | 'partition' | 'offset'>, reason: string): QueueAnswer {
  return { topic: record.topic, partition: record.partition, offset: record.offset, type: 'QUEUE_ANSWER_TYPE_REJECT', reason };
}

/** The delivered records of one QueueDelivery: its batches decoded, only the offsets it names kept. */
export function decodeDelivery(delivery: QueueDelivery__Output): RawDelivered[] {
  const decoded = new Map<number, DecodedRecord>();
  for (const { position } of iterateBatches(delivery.batches)) {
    for (const record of decodeRecordBatch(delivery.batches, position).records) decoded.set(record.offset, record);
  }
  return delivery.records.map((r) => {
    const record = decoded.get(Number(r.offset));
    if (record === undefined) throw new Error(`delivery of ${delivery.topic}/${delivery.partition} names offset ${r.offset}, which its batches do not hold`);
    return { topic: delivery.topic, partition: delivery.partition, offset: Number(r.offset), deliveryCount: r.deliveryCount, lockDeadlineMs: Number(r.lockDeadlineMs), record };
  });
}

/** A failed unary call as the wire says it: gRPC status and Strata code. */
export class RawCallError extends Error {
  constructor(
    readonly status: grpc.status,
    readonly code: string | undefined,
    readonly details: string,
  ) {
    super(`${code ?? grpc.status[status]}: ${details}`);
  }
}

/** A unary call of the raw client; rejects with RawCallError. */
export function rawUnary<Req, Res>(method: (request: Req, callback: (error: grpc.ServiceError | null, response?: Res) => void) => unknown, request: Req): Promise<Res> {
  return new Promise((resolve, reject) =>
    method(request, (error, response) =>
      error ? reject(new RawCallError(error.code, error.metadata?.get(ERROR_CODE_METADATA_KEY)[0]?.toString(), error.details)) : resolve(response!),
    ),
  );
}

/** Opens a QueueSession whose messages are raw bytes (garbage a real client could send), for wire tests. */
export function rawBytesSession(client: grpc.Client): { call: grpc.ClientDuplexStream<Buffer, Buffer>; ended: Promise<RawSessionEnd> } {
  const call = client.makeBidiStreamRequest<Buffer, Buffer>('/strata.v1.QueueService/QueueSession', (b) => b, (b) => b);
  const ended = new Promise<RawSessionEnd>((resolve) => {
    call.on('data', () => undefined);
    call.on('error', (error: grpc.ServiceError) => resolve({ status: error.code, code: error.metadata?.get(ERROR_CODE_METADATA_KEY)[0]?.toString(), details: error.details }));
    call.on('status', (status: grpc.StatusObject) => resolve({ status: status.code, code: status.metadata?.get(ERROR_CODE_METADATA_KEY)[0]?.toString(), details: status.details }));
  });
  return { call, ended };
}
