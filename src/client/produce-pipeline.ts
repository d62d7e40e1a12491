import { Buffer } from 'node:buffer';
import * as grpc from '@grpc/grpc-js';
import type { RecordBatchBuilder } from '../format/record-batch-builder.js';
import { restampProducerState } from '../format/record-batch-codec.js';
import type { AckLevel } from '../generated/strata/v1/AckLevel.js';
import type { ProduceRequest } from '../generated/strata/v1/ProduceRequest.js';
import type { ProduceResponse__Output } from '../generated/strata/v1/ProduceResponse.js';
import type { ProduceServiceClient } from '../generated/strata/v1/ProduceService.js';
import { MAX_BATCHES_PER_PRODUCE_REQUEST } from '../core/limits.js';
import { assert } from '../core/assert.js';
import { StrataClientError } from './client-error.js';
import { BatchesProduceRequest, recycleProduceFrame } from './produce-request-frames.js';
import type { BatchSinks } from './send-sinks.js';
import type { Generation } from './producer-identity.js';

const isSameGeneration = (a: SealedBatch, b: SealedBatch): boolean => a.producerId === b.producerId && a.epoch === b.epoch;

/** The largest base or last sequence a batch can carry (int32). */
const MAX_SEQUENCE = 0x7fff_ffff;

import type { RecordMetadata } from './record-sink.js';

export type { RecordMetadata, RecordSink } from './record-sink.js';

/**
 * A sealed batch: encoded once, then only its bytes are kept (not the records); resent unchanged, or
 * restamped in place (producer epoch, base sequence, CRC) when its partition's sequence is renumbered.
 */
export interface SealedBatch {
  topic: string;
  partition: number;
  recordCount: number;
  /** Who waits for each record. */
  sinks: BatchSinks;
  sizeBytes: number;
  sequence: number;
  /** The producer id and epoch its bytes carry: a generation of the partition's sequence. */
  producerId: number;
  epoch: number;
  /** Its place among the partition's batches (seal order): retries go back in this order. */
  order: number;
  encoded: Buffer;
  deadlineMs: number;
  /** Times sent; a batch sent before (a retry) always travels alone, so the server can recognise it. */
  attempts: number;
  /** Its last attempt died with the stream, unanswered: it may be in the log. */
  isOutcomeUnknown: boolean;
}

interface PartitionPipeline {
  topic: string;
  partition: number;
  /** The producer id of this partition's batches: the producer's, until its epochs run out here. */
  producerId: number;
  epoch: number;
  nextSequence: number;
  queue: SealedBatch[];
  inFlight: Set<SealedBatch>;
  requestsInFlight: number;
  retry: SealedBatch[];
  isRecovering: boolean;
  needsRenumber: boolean;
  /**
   * A batch whose outcome was unknown was rejected (its delivery time ran out): batches after it may
   * be in the log too, so those whose outcome is unknown must not be renumbered and written again.
   */
  hasUnresolvedSequence: boolean;
  /**
   * A batch was refused for good (or timed out) while the server still knows this producer: the
   * partition renumbers, and its batches that went unanswered (maybe in the log) must not be resent
   * under the new numbers. (After UNKNOWN_PRODUCER the server has forgotten the producer: resending
   * under new numbers is then the only way on, at the risk of a second copy.)
   */
  isRenumberAfterRefusal: boolean;
  failures: number;
  /** Batches sealed so far (the next batch's `order`). */
  sealedCount: number;
}

/** Where the pipeline's producer ids and epochs come from: the server (ProducerIdentity). */
export interface GenerationSource {
  /** The producer's newest generation; known before the first batch is sealed. */
  readonly current: Generation | undefined;
  /** Set once the producer is fenced: nothing more is sealed. */
  readonly fenced: StrataClientError | undefined;
  /** The generation a partition whose batches of `stale` must start over from sequence 0 moves to. */
  next(stale: Generation): Promise<Generation>;
  /** A batch of the newest generation was refused with PRODUCER_FENCED. */
  noteFenced(error: StrataClientError): void;
}

export interface PipelineOptions {
  identity: GenerationSource;
  ackLevel: AckLevel;
  /** Produce requests of one partition in flight at once. */
  maxInFlightPerPartition: number;
  /** A request carries queued, never-sent batches of one partition up to this many bytes (at least one batch). */
  maxRequestBytes: number;
  retryBackoffMs: number;
  maxRetryBackoffMs: number;
  /** A request unanswered this long makes the pipeline replace its stream (as if it broke). */
  requestTimeoutMs: number;
  /** Called with the bytes of every batch that leaves the pipeline (acknowledged or failed). */
  onSettled: (sizeBytes: number, encoded: Buffer) => void;
  /**
   * The server is given up on (ConnectionDeadline): then no batch is sealed, and a failure that a
   * retry could get past fails for good with this error instead.
   */
  givenUpError?: () => StrataClientError | undefined;
  /** Every failure of the stream (for the connection error a give-up names). */
  onStreamFailure?: (error: StrataClientError) => void;
}

/**
 * Sends sealed batches over one Produce stream, keeping per-partition order through failures with
 * the server's producer sequence check (see broker/producer-sequences.ts):
 * - up to maxInFlightPerPartition batches of a partition are in flight at once;
 * - a retriable failure (or a broken stream) stops the partition until all its in-flight batches
 *   have answered, then resends the failed ones in sequence order, unchanged, after a backoff: the
 *   server either appends them in order or recognises one it already has;
 * - a batch that fails for good (or runs out of delivery time) is rejected, and the partition's
 *   remaining batches are renumbered from 0 under a new producer epoch, so they do not wait forever
 *   for the sequence number that will never come; UNKNOWN_PRODUCER (the server forgot the producer,
 *   e.g. in a restart) renumbers them the same way, without rejecting any;
 * - batches whose request ever went unanswered (they may be in the log) are never renumbered: when
 *   the partition's sequence starts over they fail, saying they may be written;
 * - DUPLICATE_SEQUENCE (a retry older than the producer state the server rebuilt after a restart)
 *   means the batch is in the log at an unknown offset: it succeeds with offset -1, as in Kafka.
 */
export class ProducePipeline {
  private readonly partitions = new Map<string, PartitionPipeline>();
  /** The batches each request in flight carries, in sequence order. */
  private readonly byRequestId = new Map<number, SealedBatch[]>();
  /** When each request in flight was written (in request id order, so the oldest comes first). */
  private readonly sentAtMs = new Map<number, number>();
  /** The request object written for each unanswered request: its serialized buffer is reused once answered. */
  private readonly requests = new Map<number, ProduceRequest>();
  private requestTimer: ReturnType<typeof setInterval> | undefined;
  private stream: grpc.ClientDuplexStream<ProduceRequest, ProduceResponse__Output> | undefined;
  private isStreamBlocked = false;
  private nextRequestId = 1;
  private idleWaiters: Array<() => void> = [];
  private pendingCount = 0;

  constructor(
    private readonly stub: ProduceServiceClient,
    private readonly options: PipelineOptions,
  ) {}

  /** Assigns the next sequence of the partition and encodes the batch. */
  seal(topic: string, partition: number, builder: RecordBatchBuilder, sinks: BatchSinks, sizeBytes: number, deadlineMs: number): void {
    // Thrown before a sequence is taken: the caller fails the batch's records, and nothing was sent.
    const givenUp = this.options.givenUpError?.() ?? this.options.identity.fenced;
    if (givenUp) throw givenUp;
    const state = this.partitionState(topic, partition);
    const recordCount = builder.recordCount;
    if (state.nextSequence + recordCount - 1 > MAX_SEQUENCE) {
      // Sequences are int32 in the batch format: past 2^31 - 1 records of one partition, the producer
      // goes on under its next epoch from 0 (the server takes a newer epoch from sequence 0). The
      // batch waits, numbered from 0 for now, until the renumbering stamps it.
      state.needsRenumber = true;
      state.nextSequence = 0;
    }
    // A renumbering is due (a sequence that ran out, or one whose new epoch could not be had): it
    // runs once the partition's batches in flight have answered.
    if (state.needsRenumber && !state.isRecovering) {
      state.isRecovering = true;
      if (state.inFlight.size === 0) this.scheduleResume(state);
    }
    const encoded = builder.build({
      producerId: state.producerId,
      producerEpoch: state.epoch,
      baseSequence: state.nextSequence,
    });
    const batch: SealedBatch = { topic, partition, recordCount, sinks, sizeBytes, sequence: state.nextSequence, producerId: state.producerId, epoch: state.epoch, order: state.sealedCount++, encoded, deadlineMs, attempts: 0, isOutcomeUnknown: false };
    state.nextSequence += recordCount;
    state.queue.push(batch);
    this.pendingCount++;
    this.pump(state);
  }

  /** Resolves when every sealed batch has been acknowledged or failed. */
  whenIdle(): Promise<void> {
    if (this.pendingCount === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Ends the stream (after whenIdle, nothing is in flight). */
  close(): void {
    this.stream?.end();
    this.stream = undefined;
    clearInterval(this.requestTimer);
    this.requestTimer = undefined;
  }

  private partitionState(topic: string, partition: number): PartitionPipeline {
    const key = `${partition}\u0000${topic}`;
    let state = this.partitions.get(key);
    if (!state) {
      const generation = this.options.identity.current;
      assert(generation !== undefined, 'the producer id is known before a batch is sealed');
      state = { topic, partition, producerId: generation.producerId, epoch: generation.epoch, nextSequence: 0, queue: [], inFlight: new Set(), requestsInFlight: 0, retry: [], isRecovering: false, needsRenumber: false, hasUnresolvedSequence: false, isRenumberAfterRefusal: false, failures: 0, sealedCount: 0 };
      this.partitions.set(key, state);
    }
    return state;
  }

  private openStream(): grpc.ClientDuplexStream<ProduceRequest, ProduceResponse__Output> {
    if (this.stream) return this.stream;
    const stream = this.stub.produce() as grpc.ClientDuplexStream<ProduceRequest, ProduceResponse__Output>;
    this.stream = stream;
    this.isStreamBlocked = false;
    stream.on('data', (response: ProduceResponse__Output) => this.onResponse(response));
    stream.on('drain', () => {
      this.isStreamBlocked = false;
      for (const state of this.partitions.values()) this.pump(state);
    });
    const onBroken = (error?: unknown) => {
      const failure = error
        ? StrataClientError.fromServiceError(error)
        : new StrataClientError('STREAM_ENDED', 'the produce stream ended', grpc.status.UNAVAILABLE, true);
      this.options.onStreamFailure?.(failure);
      this.replaceStream(stream, failure);
    };
    stream.on('error', onBroken);
    stream.on('end', () => onBroken());
    this.requestTimer ??= setInterval(() => this.checkRequestTimeouts(), Math.max(10, Math.min(1_000, this.options.requestTimeoutMs / 4)));
    this.requestTimer.unref?.();
    return stream;
  }

  /** Drops a broken (or unanswering) stream: every request in flight on it is retried on a new one. */
  private replaceStream(stream: grpc.ClientDuplexStream<ProduceRequest, ProduceResponse__Output>, failure: StrataClientError, isOutcomeUnknown = true): void {
    if (this.stream !== stream) return;
    this.stream = undefined;
    // A dead stream never drains: the next stream starts unblocked.
    this.isStreamBlocked = false;
    const requests = [...this.byRequestId.values()];
    this.byRequestId.clear();
    this.sentAtMs.clear();
    // Unanswered on a dead stream: grpc-js may not have copied their bytes, so their buffers are not reused.
    this.requests.clear();
    const retriable = failure.retriable ? failure : new StrataClientError(failure.code, failure.message, failure.grpcStatus, true);
    for (const group of requests) this.onRequestFailure(group, retriable, isOutcomeUnknown);
    // Partitions with nothing in flight may have batches queued behind the blocked stream.
    for (const state of this.partitions.values()) this.pump(state);
  }

  /**
   * The server is given up on: every batch waiting fails now with `error`, together. Batches in
   * flight fail as on a broken stream (`mayBeWritten`: whether they could have reached a server;
   * false when the client never connected); queued ones and ones waiting to be retried fail as
   * refused, and their partitions' sequences start over (as after any batch that failed for good).
   */
  failWaiting(error: StrataClientError, options: { mayBeWritten: boolean }): void {
    // Waiting ones first: replacing the stream sends what is queued on a new one.
    for (const state of this.partitions.values()) {
      const waiting = [...state.retry, ...state.queue];
      if (waiting.length === 0) continue;
      state.retry = [];
      state.queue = [];
      for (const batch of waiting) this.reject(batch, batch.isOutcomeUnknown ? mayBeWritten(error) : error);
      state.needsRenumber = true;
      state.isRenumberAfterRefusal = true;
      if (waiting.some((b) => b.isOutcomeUnknown)) state.hasUnresolvedSequence = true;
      if (!state.isRecovering) {
        state.isRecovering = true;
        if (state.inFlight.size === 0) this.scheduleResume(state);
      }
    }
    const stream = this.stream;
    if (stream) {
      this.replaceStream(stream, error, options.mayBeWritten);
      try {
        stream.cancel();
      } catch {
        // Already gone.
      }
    }
  }

  /**
   * The producer is fenced: every batch waiting (queued or to be retried) fails now with `error`;
   * batches in flight fail as their answers come (PRODUCER_FENCED, unless the server appended them
   * before the newer instance took over).
   */
  failAll(error: StrataClientError): void {
    for (const state of this.partitions.values()) {
      const waiting = [...state.retry, ...state.queue];
      state.retry = [];
      state.queue = [];
      for (const batch of waiting) this.reject(batch, batch.isOutcomeUnknown ? mayBeWritten(error) : error);
    }
  }

  /** A request unanswered for requestTimeoutMs: the stream is given up (its late answers are ignored). */
  private checkRequestTimeouts(): void {
    const stream = this.stream;
    if (!stream || this.sentAtMs.size === 0) return;
    const oldestSentAtMs = this.sentAtMs.values().next().value as number;
    if (Date.now() - oldestSentAtMs < this.options.requestTimeoutMs) return;
    this.replaceStream(stream, new StrataClientError('REQUEST_TIMEOUT', `a produce request went unanswered for ${this.options.requestTimeoutMs} ms`, grpc.status.DEADLINE_EXCEEDED, true));
    try {
      stream.cancel();
    } catch {
      // Already gone: nothing to cancel (a throw from a timer would end the process).
    }
  }

  /**
   * Sends queued batches while the partition has room in flight. When batches queue up (the
   * partition is at its in-flight bound, or its stream is blocked), the never-sent ones at the head
   * of the queue travel together in one request: fewer, larger gRPC messages and appends, and more
   * bytes per fsync under flush=always.
   */
  private pump(state: PartitionPipeline): void {
    while (!state.isRecovering && !this.isStreamBlocked && state.queue.length > 0 && state.requestsInFlight < this.options.maxInFlightPerPartition) {
      const head = state.queue[0]!;
      // A new generation (epoch or producer id, from sequence 0) waits until the last one's batches
      // are answered: the server refuses an older epoch once it saw a newer one, and a new producer
      // id would be written before them.
      if (state.inFlight.size > 0 && !isSameGeneration(head, state.inFlight.values().next().value!)) break;
      const group = [state.queue.shift()!];
      let requestBytes = head.encoded.length;
      if (head.attempts === 0) {
        for (;;) {
          const next = state.queue[0];
          if (!next || next.attempts > 0 || !isSameGeneration(next, head) || group.length >= MAX_BATCHES_PER_PRODUCE_REQUEST || requestBytes + next.encoded.length > this.options.maxRequestBytes) break;
          group.push(state.queue.shift()!);
          requestBytes += next.encoded.length;
        }
      }
      const stream = this.openStream();
      const requestId = this.nextRequestId++;
      for (const batch of group) {
        batch.attempts++;
        state.inFlight.add(batch);
      }
      state.requestsInFlight++;
      this.byRequestId.set(requestId, group);
      this.sentAtMs.set(requestId, Date.now());
      const request: ProduceRequest =
        group.length === 1
          ? { requestId, topic: state.topic, partition: state.partition, records: group[0]!.encoded, ackLevel: this.options.ackLevel }
          : new BatchesProduceRequest(requestId, state.topic, state.partition, group.map((b) => b.encoded), requestBytes, this.options.ackLevel);
      this.requests.set(requestId, request);
      const isWritable = stream.write(request);
      if (!isWritable) this.isStreamBlocked = true;
    }
  }

  private onResponse(response: ProduceResponse__Output): void {
    const group = this.byRequestId.get(response.requestId);
    if (!group) return;
    this.byRequestId.delete(response.requestId);
    this.sentAtMs.delete(response.requestId);
    // Answered: the server has the bytes, so grpc-js copied them long ago.
    const request = this.requests.get(response.requestId);
    if (request) {
      this.requests.delete(response.requestId);
      recycleProduceFrame(request);
    }
    if (response.failure) {
      // A retried batch older than the producer state the server rebuilt after a restart: it is in
      // the log, at an offset nobody can tell any more. As Kafka's producer does, it succeeds with
      // offset -1. (Several batches refused together are resent alone, below, to tell them apart.)
      if (response.failure.code === 'DUPLICATE_SEQUENCE' && group.length === 1) return this.acknowledge(group, -1, 'durable');
      return this.onRequestFailure(group, StrataClientError.fromFailure(response.failure));
    }
    const durability = response.durability === 'ACK_LEVEL_DURABLE' ? 'durable' : response.durability === 'ACK_LEVEL_WRITTEN' ? 'written' : 'none';
    this.acknowledge(group, response.baseOffset, durability);
  }

  /** The batches of one request were appended together (from `baseOffset`, or -1 when unknown). */
  private acknowledge(group: SealedBatch[], firstOffset: number, durability: RecordMetadata['durability']): void {
    const state = this.partitionState(group[0]!.topic, group[0]!.partition);
    state.requestsInFlight--;
    state.failures = 0;
    let baseOffset = firstOffset;
    for (const batch of group) {
      state.inFlight.delete(batch);
      batch.sinks.acknowledge(batch.topic, batch.partition, baseOffset, durability);
      if (baseOffset >= 0) baseOffset += batch.recordCount;
      this.settle(batch);
    }
    if (state.isRecovering && state.inFlight.size === 0) this.scheduleResume(state);
    else this.pump(state);
  }

  /**
   * `isOutcomeUnknown`: the stream broke before the answer (the request may have been appended);
   * otherwise the server refused the request, and nothing of it was written.
   */
  private onRequestFailure(group: SealedBatch[], error: StrataClientError, isOutcomeUnknown = false): void {
    this.partitionState(group[0]!.topic, group[0]!.partition).requestsInFlight--;
    // A refusal covers the whole request; which batch caused it is unknown. Nothing was written, so
    // each batch is sent again alone and only the one at fault fails.
    const batchError = !isOutcomeUnknown && group.length > 1 && !error.retriable ? new StrataClientError(error.code, error.message, error.grpcStatus, true) : error;
    for (const batch of group) this.onFailure(batch, batchError, isOutcomeUnknown);
  }

  private onFailure(batch: SealedBatch, error: StrataClientError, isOutcomeUnknown: boolean): void {
    const state = this.partitionState(batch.topic, batch.partition);
    state.inFlight.delete(batch);
    // Sticky: an attempt that went unanswered may be in the log whatever a later attempt hears (a
    // retry that arrives while the first append is still being written is refused as out of order).
    batch.isOutcomeUnknown ||= isOutcomeUnknown;
    if (error.code === 'PRODUCER_FENCED') {
      const current = this.options.identity.current;
      if (current && (current.producerId !== batch.producerId || current.epoch !== batch.epoch)) {
        // Fenced at an older generation than the producer's newest (its old id was retired when its
        // epochs ran out): nothing was written, and the partition moves on to the newest generation.
        // Its batches that went unanswered may be in the log under the old one: they fail, saying so.
        error = new StrataClientError(error.code, error.message, error.grpcStatus, true);
        state.needsRenumber = true;
        state.isRenumberAfterRefusal = true;
      } else {
        this.options.identity.noteFenced(error);
      }
    }
    const givenUp = error.retriable ? this.options.givenUpError?.() : undefined;
    if (!error.retriable || givenUp || Date.now() >= batch.deadlineMs) {
      const finalError = givenUp ?? error;
      this.reject(batch, batch.isOutcomeUnknown ? mayBeWritten(finalError) : finalError);
      state.needsRenumber = true;
      state.isRenumberAfterRefusal = true;
      if (batch.isOutcomeUnknown) state.hasUnresolvedSequence = true;
    } else {
      state.retry.push(batch);
      if (error.code === 'UNKNOWN_PRODUCER') state.needsRenumber = true;
    }
    state.isRecovering = true;
    if (state.inFlight.size === 0) this.scheduleResume(state);
  }

  private scheduleResume(state: PartitionPipeline): void {
    state.failures++;
    const backoffMs = Math.min(this.options.maxRetryBackoffMs, this.options.retryBackoffMs * 2 ** (state.failures - 1));
    setTimeout(() => {
      // Seal order, not sequence: a new generation's batches start again from sequence 0.
      state.queue = [...state.retry.sort((a, b) => a.order - b.order), ...state.queue];
      state.retry = [];
      if (state.hasUnresolvedSequence || state.isRenumberAfterRefusal) {
        // Renumbered, these could be written twice: they fail instead, saying they may be in the log.
        for (const batch of state.queue.filter((b) => b.isOutcomeUnknown)) {
          const reason = state.hasUnresolvedSequence ? 'an earlier batch of this partition failed with its outcome unknown' : "this partition's sequence starts over after a failed batch";
          this.reject(batch, mayBeWritten(new StrataClientError('OUTCOME_UNKNOWN', `${reason}, and this batch went unanswered`, grpc.status.DEADLINE_EXCEEDED, false)));
        }
        state.queue = state.queue.filter((b) => !b.isOutcomeUnknown);
        state.hasUnresolvedSequence = false;
        state.isRenumberAfterRefusal = false;
      }
      if (state.needsRenumber) return this.renumber(state);
      state.isRecovering = false;
      this.pump(state);
    }, state.needsRenumber && state.retry.length === 0 ? 0 : backoffMs);
  }

  /**
   * The partition's sequence starts over from 0 under the producer's next generation, which the
   * server hands out (InitProducer: the next epoch; past epoch 32767 a fresh id, as Kafka's idempotent
   * producer gets a new id when its epochs run out): the server takes it as a producer starting at
   * sequence 0. Batches sealed while the server is asked wait in the queue and are stamped with the
   * rest. When no generation can be had (the server is given up on, or the producer is fenced), the
   * waiting batches fail with that error, and the next batch sealed asks again.
   */
  private renumber(state: PartitionPipeline): void {
    this.options.identity.next({ producerId: state.producerId, epoch: state.epoch }).then(
      (generation) => {
        state.producerId = generation.producerId;
        state.epoch = generation.epoch;
        state.nextSequence = 0;
        for (const batch of state.queue) {
          batch.sequence = state.nextSequence;
          batch.producerId = state.producerId;
          batch.epoch = state.epoch;
          state.nextSequence += batch.recordCount;
          // Not in flight (the partition waited for every answer), so patching in place is safe.
          restampProducerState(batch.encoded, state.producerId, state.epoch, batch.sequence);
        }
        state.needsRenumber = false;
        state.isRecovering = false;
        this.pump(state);
      },
      (error: unknown) => {
        const failure = StrataClientError.fromServiceError(error);
        const waiting = state.queue;
        state.queue = [];
        for (const batch of waiting) this.reject(batch, batch.isOutcomeUnknown ? mayBeWritten(failure) : failure);
        // The renumbering is still due: the next batch sealed asks again.
        state.isRecovering = false;
      },
    );
  }

  private reject(batch: SealedBatch, error: Error): void {
    batch.sinks.fail(error);
    this.settle(batch);
  }

  private settle(batch: SealedBatch): void {
    this.options.onSettled(batch.sizeBytes, batch.encoded);
    this.pendingCount--;
    if (this.pendingCount === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }
}

/** The error for a batch that failed after its request went unanswered: it may be in the log. */
function mayBeWritten(error: StrataClientError): StrataClientError {
  return new StrataClientError(error.code, `${error.message} (the batch was sent and not answered: it may have been written)`, error.grpcStatus, false);
}
