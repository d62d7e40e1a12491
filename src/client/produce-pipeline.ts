import type { Buffer } from 'node:buffer';
import type * as grpc from '@grpc/grpc-js';
import { assert } from '../core/assert.js';
import { setRepeating, type Clock, type TimerHandle } from '../core/clock.js';
import type { RecordBatchBuilder } from '../format/record-batch-builder.js';
import type { AckLevel } from '../generated/strata/v1/AckLevel.js';
import type { ProduceRequest } from '../generated/strata/v1/ProduceRequest.js';
import type { ProduceResponse__Output } from '../generated/strata/v1/ProduceResponse.js';
import type { ProduceServiceClient } from '../generated/strata/v1/ProduceService.js';
import { MAX_BATCHES_PER_PRODUCE_REQUEST } from '../core/limits.js';
import { copyError, RequestTimeoutError, StreamEndedError, StrataClientError } from './client-error.js';
import { BatchesProduceRequest, recycleProduceFrame } from './produce-request-frames.js';
import { mayBeWritten, NO_SEQUENCE, ProducePartition, type NewGeneration, type PartitionHost, type SealedBatch } from './produce-partition.js';
import type { RecordMetadata } from './record-sink.js';
import type { BatchSinks } from './send-sinks.js';

export type { RecordMetadata, RecordSink } from './record-sink.js';
export type { GenerationReason, GenerationRequest, NewGeneration, ProducerGeneration, RecoveryReason, SealedBatch } from './produce-partition.js';
export { localGenerations } from './produce-partition.js';

const isSameGeneration = (a: SealedBatch, b: SealedBatch): boolean => a.producerId === b.producerId && a.epoch === b.epoch;

export interface PipelineOptions {
  /**
   * Gives a partition its generation (producer id and epoch) for its first batch, and a new one
   * whenever its sequence starts over (see NewGeneration). localGenerations() makes them up.
   */
  newGeneration: NewGeneration;
  ackLevel: AckLevel;
  /** Produce requests of one partition in flight at once. */
  maxInFlightPerPartition: number;
  /** A request carries queued, never-sent batches of one partition up to this many bytes (at least one batch). */
  maxRequestBytes: number;
  retryBackoffMs: number;
  maxRetryBackoffMs: number;
  /** A request unanswered this long makes the pipeline replace its stream (as if it broke). */
  requestTimeoutMs: number;
  /** The clock of request timeouts, backoffs and delivery deadlines. */
  clock: Clock;
  /** Called with the bytes of every batch that leaves the pipeline (acknowledged or failed). */
  onSettled: (sizeBytes: number, encoded: Buffer) => void;
  /**
   * The server is given up on (ConnectionDeadline): then no batch is sealed, and a failure that a
   * retry could get past fails for good with this error instead.
   */
  givenUpError?: () => StrataClientError | undefined;
  /** Every failure of the stream (for the connection error a give-up names). */
  onStreamFailure?: (error: StrataClientError) => void;
  /** A request of the topic refused as BATCH_TOO_LARGE (its max.message.bytes may have been lowered since the producer learned it). */
  onBatchTooLarge?: (topic: string) => void;
  /**
   * A batch was refused with PRODUCER_FENCED: a newer instance of the producer took over (the server
   * never fences the producer's own epochs). Called after the batch failed.
   */
  onProducerFenced?: (error: StrataClientError) => void;
  /** An answer said the principal is over a rate quota: the stream sends nothing more for `throttleTimeMs`. */
  onThrottled?: (throttleTimeMs: number) => void;
}

/**
 * Sends sealed batches over one Produce stream, keeping per-partition order through failures with
 * the server's producer sequence check (see broker/producer-sequences.ts):
 * - up to maxInFlightPerPartition batches of a partition are in flight at once;
 * - a retriable failure (or a broken stream) stops the partition until all its in-flight batches
 *   have answered, then resends the failed ones in sequence order, unchanged, after a backoff: the
 *   server either appends them in order or recognises one it already has;
 * - a batch that fails for good (or runs out of delivery time) is rejected, and the partition's
 *   remaining batches are renumbered from 0 under a new generation, so they do not wait forever
 *   for the sequence number that will never come; UNKNOWN_PRODUCER (the server forgot the producer,
 *   e.g. in a restart) renumbers them the same way, without rejecting any;
 * - batches whose request ever went unanswered (they may be in the log) are never renumbered: when
 *   the partition's sequence starts over they fail, saying they may be written;
 * - DUPLICATE_SEQUENCE (a retry older than the producer state the server rebuilt after a restart)
 *   means the batch is in the log at an unknown offset: it succeeds with offset -1, as in Kafka.
 * Each partition's recovery is a ProducePartition (its phases and their reasons); this class sends.
 *
 * A quota: an answer with `throttle_time_ms` (the principal is over its producer_byte_rate) stops the
 * stream sending until that long after the request was sent (KIP-219's client side: the client waits
 * rather than fill a stream the server no longer reads; Strata's server holds the answer for the
 * throttle time, so the wait is what remains of it, nothing when the server held it whole). Requests
 * already in flight wait behind the held answer on the server, so their request timeouts start over.
 */
export class ProducePipeline {
  private readonly partitions = new Map<string, ProducePartition>();
  /** The batches each request in flight carries, in sequence order. */
  private readonly byRequestId = new Map<number, SealedBatch[]>();
  /** When each request in flight was written, on the monotonic clock (in request id order, so the oldest comes first). */
  private readonly sentAtMs = new Map<number, number>();
  /** The request object written for each unanswered request: its serialized buffer is reused once answered. */
  private readonly requests = new Map<number, ProduceRequest>();
  private requestTimer: TimerHandle | undefined;
  private stream: grpc.ClientDuplexStream<ProduceRequest, ProduceResponse__Output> | undefined;
  private isStreamBlocked = false;
  /** Set while the stream waits out a throttle time from the server. */
  private throttleTimer: TimerHandle | undefined;
  private nextRequestId = 1;
  private idleWaiters: Array<() => void> = [];
  private pendingCount = 0;
  private readonly host: PartitionHost;

  constructor(
    private readonly stub: ProduceServiceClient,
    private readonly options: PipelineOptions,
  ) {
    this.host = {
      clock: options.clock,
      retryBackoffMs: options.retryBackoffMs,
      maxRetryBackoffMs: options.maxRetryBackoffMs,
      newGeneration: options.newGeneration,
      givenUpError: () => this.options.givenUpError?.(),
      reject: (batch, error) => this.reject(batch, error),
      pump: (partition) => this.pump(partition),
    };
  }

  /** Assigns the next sequence of the partition (or none, until its next generation) and encodes the batch. */
  seal(topic: string, partition: number, builder: RecordBatchBuilder, sinks: BatchSinks, sizeBytes: number, deadlineMs: number): void {
    // Thrown before a sequence is taken: the caller fails the batch's records, and nothing was sent.
    const givenUp = this.options.givenUpError?.();
    if (givenUp) throw givenUp;
    const state = this.partitionState(topic, partition);
    const recordCount = builder.recordCount;
    const sequence = state.takeSequence(recordCount);
    // An unnumbered batch carries no producer state until its generation restamps it.
    const generation = sequence === NO_SEQUENCE ? { producerId: -1, epoch: -1 } : state.generation!;
    let encoded: Buffer;
    try {
      encoded = builder.build({ producerId: generation.producerId, producerEpoch: generation.epoch, baseSequence: sequence });
    } catch (error) {
      // Refused by the format (too large once compressed): its sequence is given back.
      if (sequence !== NO_SEQUENCE) state.nextSequence = sequence;
      throw error;
    }
    const batch: SealedBatch = { topic, partition, recordCount, sinks, sizeBytes, sequence, producerId: generation.producerId, epoch: generation.epoch, order: state.sealedCount++, encoded, deadlineMs, attempts: 0, isOutcomeUnknown: false };
    state.queue.push(batch);
    this.pendingCount++;
    this.pump(state);
  }

  /** Resolves when every sealed batch has been acknowledged or failed. */
  whenIdle(): Promise<void> {
    if (this.pendingCount === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Ends the stream (after whenIdle, nothing is in flight) and every partition's pending backoff. */
  close(): void {
    this.stream?.end();
    this.stream = undefined;
    this.requestTimer?.cancel();
    this.requestTimer = undefined;
    this.throttleTimer?.cancel();
    this.throttleTimer = undefined;
    for (const state of this.partitions.values()) state.close();
  }

  private partitionState(topic: string, partition: number): ProducePartition {
    const key = `${partition}\u0000${topic}`;
    let state = this.partitions.get(key);
    if (!state) {
      state = new ProducePartition(topic, partition, this.host);
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
        : new StreamEndedError();
      this.options.onStreamFailure?.(failure);
      this.replaceStream(stream, failure);
    };
    stream.on('error', onBroken);
    stream.on('end', () => onBroken());
    this.requestTimer ??= setRepeating(this.options.clock, () => this.checkRequestTimeouts(), Math.max(10, Math.min(1_000, this.options.requestTimeoutMs / 4)));
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
    const retriable = failure.retriable ? failure : copyError(failure, { retriable: true });
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
      state.stop(waiting.some((b) => b.isOutcomeUnknown) ? 'outcome-unknown' : 'batch-refused', error);
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

  /** A request unanswered for requestTimeoutMs: the stream is given up (its late answers are ignored). */
  private checkRequestTimeouts(): void {
    const stream = this.stream;
    if (!stream || this.sentAtMs.size === 0) return;
    const oldestSentAtMs = this.sentAtMs.values().next().value as number;
    if (this.options.clock.monotonicMs() - oldestSentAtMs < this.options.requestTimeoutMs) return;
    this.replaceStream(stream, new RequestTimeoutError(this.options.requestTimeoutMs));
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
  private pump(state: ProducePartition): void {
    while (state.isSending && !this.isStreamBlocked && this.throttleTimer === undefined && state.queue.length > 0 && state.requestsInFlight < this.options.maxInFlightPerPartition) {
      const head = state.queue[0]!;
      // A new generation (epoch or producer id, from sequence 0) is asked for once the last one's
      // batches are answered: the server refuses an older epoch once it saw a newer one, and a new
      // producer id would be written before them.
      if (head.sequence === NO_SEQUENCE) {
        state.needGeneration();
        return;
      }
      assert(state.inFlight.size === 0 || isSameGeneration(head, state.inFlight.values().next().value!), 'batches in flight at once share one generation');
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
      this.sentAtMs.set(requestId, this.options.clock.monotonicMs());
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
    const sentAtMs = this.sentAtMs.get(response.requestId);
    this.sentAtMs.delete(response.requestId);
    if (response.throttleTimeMs > 0) this.throttle(response.throttleTimeMs, sentAtMs);
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
      const failure = StrataClientError.fromFailure(response.failure);
      this.onRequestFailure(group, failure);
      if (failure.code === 'PRODUCER_FENCED') this.options.onProducerFenced?.(failure);
      return;
    }
    const durability = response.durability === 'ACK_LEVEL_DURABLE' ? 'durable' : response.durability === 'ACK_LEVEL_WRITTEN' ? 'written' : 'none';
    // Absent, not empty, from a hand-made answer (test fakes); decoded from the wire it is always a list.
    const duplicates = response.duplicateRecords?.length ? new Map(response.duplicateRecords.map((d) => [d.index, d.originalOffset])) : undefined;
    this.acknowledge(group, response.baseOffset, durability, duplicates);
  }

  /**
   * Sends nothing until `throttleTimeMs` after the request was sent. Strata's server already held the
   * answer that long (its hold is the throttle), so this waits only for what the hold did not cover:
   * waiting the whole time again after the held answer would pause the stream twice as long as the
   * quota asks and keep the principal under it (Kafka's clients likewise do not wait again for brokers
   * that delay their answers). A later throttle time replaces a running one: it is the server's latest word.
   */
  private throttle(throttleTimeMs: number, sentAtMs: number | undefined): void {
    this.options.onThrottled?.(throttleTimeMs);
    const nowMs = this.options.clock.monotonicMs();
    // The requests still in flight waited behind this answer on the server: their timeouts start over.
    for (const requestId of this.sentAtMs.keys()) this.sentAtMs.set(requestId, nowMs);
    const remainingMs = throttleTimeMs - (sentAtMs === undefined ? 0 : nowMs - sentAtMs);
    if (remainingMs <= 0) return;
    this.throttleTimer?.cancel();
    this.throttleTimer = this.options.clock.setTimeout(
      () => {
        this.throttleTimer = undefined;
        for (const state of this.partitions.values()) this.pump(state);
      },
      remainingMs,
      { keepsProcessAlive: true },
    );
  }

  /**
   * The batches of one request were appended together (from `baseOffset`, or -1 when unknown),
   * except the records `duplicates` names (by position in the request: duplicates by message id).
   */
  private acknowledge(group: SealedBatch[], firstOffset: number, durability: RecordMetadata['durability'], duplicates?: ReadonlyMap<number, number>): void {
    const state = this.partitionState(group[0]!.topic, group[0]!.partition);
    state.requestsInFlight--;
    state.acknowledged();
    let baseOffset = firstOffset;
    let firstIndexInRequest = 0;
    for (const batch of group) {
      state.inFlight.delete(batch);
      const nextOffset = batch.sinks.acknowledge(batch.topic, batch.partition, baseOffset, durability, duplicates, firstIndexInRequest);
      if (baseOffset >= 0) baseOffset = nextOffset;
      firstIndexInRequest += batch.recordCount;
      this.settle(batch);
    }
    state.afterAnswer();
  }

  /**
   * `isOutcomeUnknown`: the stream broke before the answer (the request may have been appended);
   * otherwise the server refused the request, and nothing of it was written.
   */
  private onRequestFailure(group: SealedBatch[], error: StrataClientError, isOutcomeUnknown = false): void {
    this.partitionState(group[0]!.topic, group[0]!.partition).requestsInFlight--;
    if (error.code === 'BATCH_TOO_LARGE') this.options.onBatchTooLarge?.(group[0]!.topic);
    // A refusal covers the whole request; which batch caused it is unknown. Nothing was written, so
    // each batch is sent again alone and only the one at fault fails.
    const batchError = !isOutcomeUnknown && group.length > 1 && !error.retriable ? copyError(error, { retriable: true }) : error;
    for (const batch of group) this.onFailure(batch, batchError, isOutcomeUnknown);
  }

  private onFailure(batch: SealedBatch, error: StrataClientError, isOutcomeUnknown: boolean): void {
    const state = this.partitionState(batch.topic, batch.partition);
    state.inFlight.delete(batch);
    // Sticky: an attempt that went unanswered may be in the log whatever a later attempt hears (a
    // retry that arrives while the first append is still being written is refused as out of order).
    batch.isOutcomeUnknown ||= isOutcomeUnknown;
    const givenUp = error.retriable ? this.options.givenUpError?.() : undefined;
    if (!error.retriable || givenUp || this.options.clock.monotonicMs() >= batch.deadlineMs) {
      const finalError = givenUp ?? error;
      this.reject(batch, batch.isOutcomeUnknown ? mayBeWritten(finalError) : finalError);
      state.stop(batch.isOutcomeUnknown ? 'outcome-unknown' : 'batch-refused', finalError);
    } else {
      state.retry.push(batch);
      state.stop(error.code === 'UNKNOWN_PRODUCER' ? 'unknown-producer' : 'retriable-failure', error);
    }
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
