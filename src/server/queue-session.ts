import type * as grpc from '@grpc/grpc-js';
import { InvalidArgumentError, ShuttingDownError, type StrataError } from '../core/errors.js';
import { MAX_QUEUE_ANSWERS_PER_REQUEST, MAX_QUEUE_REQUESTS_IN_PROGRESS_PER_STREAM, MAX_QUEUE_UNANSWERED_BYTES_PER_MEMBER, QUEUE_SESSION_BUFFER_MAX_BYTES, QUEUE_SESSION_BUFFER_RESERVED_BYTES, RESPONSE_COPIES } from '../core/limits.js';
import type { Logger } from '../core/logger.js';
import type { QueueAnswer__Output } from '../generated/strata/v1/QueueAnswer.js';
import type { QueueAnswerResult as QueueAnswerResultProto } from '../generated/strata/v1/QueueAnswerResult.js';
import type { QueueJoin__Output } from '../generated/strata/v1/QueueJoin.js';
import type { QueueRecordRef__Output } from '../generated/strata/v1/QueueRecordRef.js';
import type { QueueSessionRequest__Output } from '../generated/strata/v1/QueueSessionRequest.js';
import type { QueueSessionResponse } from '../generated/strata/v1/QueueSessionResponse.js';
import type { QueueAnswerResult, QueueCoordinatorApi, QueueDelivery, QueueRecordRef } from '../queues/queue-coordinator-api.js';
import type { MemoryBudget, MemoryShare } from './memory-budget.js';
import { limitReadAhead } from './produce-service.js';
import { answerFromProto, queueConfigFromProto, queueConfigToProto, refFromProto } from './queue-proto.js';
import { principalOf } from './auth/auth-gate.js';
import { assertDecoded } from './safe-deserialize.js';
import { toFailure, toServiceError } from './status.js';
import type { StreamRegistry } from './stream-registry.js';
import type { RateThrottle } from './rate-throttle.js';
import type { TimerHandle } from '../core/clock.js';

export type QueueSessionCall = grpc.ServerDuplexStream<QueueSessionRequest__Output, QueueSessionResponse>;

export interface QueueSessionDependencies {
  coordinator: QueueCoordinatorApi;
  streams: StreamRegistry;
  budget: MemoryBudget;
  logger: Logger;
  /** Rate quotas (consumer_byte_rate on deliveries); none: unlimited. */
  throttle?: RateThrottle | undefined;
}

/**
 * One member's QueueSession stream: the wire around the coordinator's member.
 *
 * - The first request must be `join`; anything else first, a second join, a message with no request
 *   in it or one that is not protobuf ends the stream with INVALID_ARGUMENT (the member, if it had
 *   joined, loses its records at once, as for a broken stream). A join the coordinator refuses ends
 *   the stream with that error. Other members never notice.
 * - Answers and lock extensions are handed to the coordinator and answered with QueueAnswerResults
 *   (one per answer, in order, `request_id` echoed) once their changes are durable. A bad answer
 *   (unknown type, impossible offset, a record the member does not hold, a bad delay) is a failure
 *   of that answer alone; a request of more than MAX_QUEUE_ANSWERS_PER_REQUEST answers is refused
 *   whole with a single INVALID_ARGUMENT result (echoing that many failures would cost more than the
 *   request). The stream goes on either way.
 * - Flow control, both ways. The coordinator is told this member takes no more deliveries (its
 *   records stay acquired; their locks run) while any of these holds, and told again when none does:
 *   the member holds MAX_QUEUE_UNANSWERED_BYTES_PER_MEMBER of delivered batches unanswered (what
 *   bounds a member whose client pauses its stream but keeps taking data in, see limits.ts); write()
 *   said the stream is full (until 'drain'); or what was written and not yet sent, a share of the
 *   server's memory budget (QUEUE_SESSION_BUFFER_*), did not fit its share (until all of it is sent:
 *   what bounds a peer that reads nothing, whose writes stop completing). A member that answers a record, successfully or
 *   not, no longer counts it; one that never answers records whose locks expired gets nothing more.
 *   At most MAX_QUEUE_REQUESTS_IN_PROGRESS_PER_STREAM requests are handled at once, and none is read
 *   while the stream's writes are blocked, so a member that sends without reading stops being read.
 * - The end: a member that half-closes gets its in-progress answers' results, then leaves (its records
 *   are released, durably) and the stream ends OK. A cancelled or broken stream is streamLost (the
 *   same release). At shutdown: no more requests are read, those in progress are answered, and the
 *   stream ends with UNAVAILABLE (SHUTTING_DOWN).
 * - Rate quota (consumer_byte_rate): each delivery's bytes are metered for the stream's principal
 *   (over all its streams); past the quota the delivery goes with its `throttle_time_ms` and the
 *   member is told not ready for that long (its records stay its own; their locks run), so the next
 *   delivery waits.
 */
export class QueueSession {
  private phase: 'new' | 'joining' | 'joined' | 'ended' = 'new';
  private memberId: string | undefined;
  private readonly share: MemoryShare | undefined;
  private readonly unregister: () => void;
  private inProgressCount = 0;
  private isWriteBlocked = false;
  /** The share had no room for something written: no deliveries until everything written is sent. */
  private isOverBudget = false;
  private unflushedBytes = 0;
  /** Per record delivered and not answered yet ("topic/partition/offset"): its share of its delivery's bytes. */
  private readonly unanswered = new Map<string, number>();
  private unansweredBytes = 0;
  /** What the coordinator was last told (deliver's result or setDeliveryReady). */
  private isToldReady = true;
  private hasClientEnded = false;
  /** The member is leaving (see leaving()). */
  private isLeaving = false;
  private isShuttingDown = false;
  private onEnded: (() => void) | undefined;
  /** Deliveries made before the joined answer was written (the coordinator may deliver before join resolves). */
  private early: Array<{ delivery: QueueDelivery; bytes: number; throttleTimeMs: number }> = [];
  /** Set while deliveries wait out a consumer_byte_rate throttle time. */
  private throttleTimer: TimerHandle | undefined;

  constructor(
    private readonly call: QueueSessionCall,
    private readonly deps: QueueSessionDependencies,
  ) {
    limitReadAhead(call);
    this.unregister = deps.streams.register(() => this.shutDown());
    try {
      this.share = deps.budget.openShare({ reservedBytes: QUEUE_SESSION_BUFFER_RESERVED_BYTES, maxBytes: QUEUE_SESSION_BUFFER_MAX_BYTES, what: 'a queue session' });
    } catch (error) {
      this.end({ error });
      return;
    }
    call.on('data', (request: QueueSessionRequest__Output) => this.onRequest(request));
    call.on('end', () => {
      this.hasClientEnded = true;
      this.leaving();
      this.finishIfIdle();
    });
    // The client went away (cancelled, connection lost), or this side emitted its error status.
    call.on('cancelled', () => this.end({ isLost: true }));
    call.on('error', () => this.end({ isLost: true }));
  }

  private onRequest(request: QueueSessionRequest__Output): void {
    if (this.phase === 'ended') return;
    if (this.isShuttingDown) {
      // Read before the pause took: refused, never dropped unanswered.
      this.refuseAtShutdown(request);
      return;
    }
    try {
      assertDecoded(request);
      if (this.phase === 'new') {
        if (request.request !== 'join' || !request.join) throw new InvalidArgumentError('the first message of a queue session must be join');
        this.join(request.join);
      } else if (this.phase === 'joining') {
        // Not read while joining (the stream is paused): a message buffered before the pause took.
        throw new InvalidArgumentError('wait for the joined answer before sending answers or extensions');
      } else if (request.request === 'join') {
        throw new InvalidArgumentError('a queue session joins once: this stream already carries a member (open another stream for another member)');
      } else if (request.request === 'answers' && request.answers) {
        if (request.answers.leaving) this.leaving();
        this.track(this.answers(request.answers.requestId, request.answers.answers));
      } else if (request.request === 'extend' && request.extend) {
        this.track(this.extend(request.extend.requestId, request.extend.records, request.extend.lockMs));
      } else {
        throw new InvalidArgumentError('a queue session request must carry join, answers or extend');
      }
    } catch (error) {
      this.deps.logger.debug({ err: error, memberId: this.memberId }, 'queue session refused');
      this.end({ error, isLost: true });
    }
  }

  private join(join: QueueJoin__Output): void {
    this.phase = 'joining';
    this.updateReading();
    this.deps.coordinator
      .join({
        groupId: join.groupId,
        topics: join.topics,
        inFlightLimit: join.inFlightLimit,
        config: queueConfigFromProto(join.config),
        clientId: join.clientId,
        deliver: (delivery) => this.deliver(delivery),
        principal: principalOf(this.call),
      })
      .then(
        (member) => {
          this.memberId = member.memberId;
          if (this.phase === 'ended') {
            // The stream went away while the join was being made durable: the member goes at once.
            void this.forget(member.memberId, 'lost');
            return;
          }
          this.phase = 'joined';
          this.write({ joined: { memberId: member.memberId, config: queueConfigToProto(member.config) } }, 128);
          for (const { delivery, bytes, throttleTimeMs } of this.early.splice(0)) this.writeDelivery(delivery, bytes, throttleTimeMs);
          this.updateReady();
          this.updateReading();
          this.finishIfIdle();
        },
        (error: unknown) => {
          this.deps.logger.debug({ err: error, groupId: join.groupId }, 'queue join refused');
          this.end({ error });
        },
      );
  }

  /** The coordinator's `deliver`: returns whether this member takes more now. */
  private deliver(delivery: QueueDelivery): boolean {
    if (this.phase === 'ended' || !this.share) return false;
    const bytes = deliveryBytes(delivery);
    if (!this.share.tryAcquire(bytes)) {
      // Already read and acquired: it is sent anyway, and counted, but nothing more comes until it is.
      this.share.add(bytes);
      this.isOverBudget = true;
    }
    this.unflushedBytes += bytes;
    const bytesPerRecord = Math.ceil(delivery.batches.length / Math.max(1, delivery.records.length));
    for (const record of delivery.records) {
      // At-most-once records (no lock) are done as they are sent: nothing to answer, nothing held.
      if (record.lockDeadlineMs === 0) continue;
      const key = recordKey(delivery.topic, delivery.partition, record.offset);
      this.unansweredBytes += bytesPerRecord - (this.unanswered.get(key) ?? 0);
      this.unanswered.set(key, bytesPerRecord);
    }
    const throttleTimeMs = this.throttleDelivery(delivery.batches.length);
    if (this.phase === 'joining') this.early.push({ delivery, bytes, throttleTimeMs });
    else this.writeDelivery(delivery, bytes, throttleTimeMs);
    this.isToldReady = this.isReady();
    return this.isToldReady;
  }

  private writeDelivery(delivery: QueueDelivery, bytes: number, throttleTimeMs: number): void {
    const records = delivery.records.map((r) => ({ offset: r.offset, deliveryCount: r.deliveryCount, lockDeadlineMs: r.lockDeadlineMs }));
    this.writeCounted({ delivery: { topic: delivery.topic, partition: delivery.partition, batches: delivery.batches, records, throttleTimeMs } }, bytes);
  }

  /** Meters a delivery's bytes; past the quota, no more deliveries until the throttle time is over. */
  private throttleDelivery(batchBytes: number): number {
    const throttle = this.deps.throttle;
    if (!throttle) return 0;
    const throttleTimeMs = throttle.rates.consumed(principalOf(this.call), batchBytes);
    if (throttleTimeMs > 0 && this.throttleTimer === undefined) {
      this.throttleTimer = throttle.clock.setTimeout(() => {
        this.throttleTimer = undefined;
        this.updateReady();
      }, throttleTimeMs);
    }
    return throttleTimeMs;
  }

  private async answers(requestId: number, answers: QueueAnswer__Output[]): Promise<void> {
    if (answers.length > MAX_QUEUE_ANSWERS_PER_REQUEST) {
      const error = new InvalidArgumentError(`${answers.length} answers in one request, more than ${MAX_QUEUE_ANSWERS_PER_REQUEST}: none was applied; send them in smaller requests`);
      this.writeResults(requestId, [{ topic: '', partition: 0, offset: 0, failure: toFailure(error) }]);
      return;
    }
    const parsed = answers.map((answer) => parse(answer, () => answerFromProto(answer)));
    const results = await this.apply(parsed, (valid) => this.deps.coordinator.answer(this.memberId!, valid));
    // Answered, well or not (a failure means it was no longer this member's): no longer held by it.
    for (const p of parsed) {
      const key = recordKey(p.ref.topic, p.ref.partition, p.ref.offset);
      this.unansweredBytes -= this.unanswered.get(key) ?? 0;
      this.unanswered.delete(key);
    }
    this.writeResults(requestId, results);
  }

  private async extend(requestId: number, records: QueueRecordRef__Output[], lockMs: number): Promise<void> {
    if (records.length > MAX_QUEUE_ANSWERS_PER_REQUEST) {
      const error = new InvalidArgumentError(`${records.length} lock extensions in one request, more than ${MAX_QUEUE_ANSWERS_PER_REQUEST}: none was applied`);
      this.writeResults(requestId, [{ topic: '', partition: 0, offset: 0, failure: toFailure(error) }]);
      return;
    }
    const parsed = records.map((record) => parse(record, () => refFromProto(record)));
    const results = await this.apply(parsed, (valid) => this.deps.coordinator.extendLocks(this.memberId!, valid, lockMs));
    this.writeResults(requestId, results);
  }

  /**
   * Hands the well-formed entries to the coordinator in one call and merges its results with the
   * malformed entries' failures, in the order sent. A rejection of the whole call (the member is gone,
   * the journal failed) fails every entry with that error: nothing was applied.
   */
  private async apply<T extends QueueRecordRef>(parsed: Array<Parsed<T>>, call: (valid: T[]) => Promise<QueueAnswerResult[]>): Promise<QueueAnswerResultProto[]> {
    const valid = parsed.flatMap((p) => (p.value === undefined ? [] : [p.value]));
    let results: QueueAnswerResult[] | undefined;
    let failure: unknown;
    try {
      results = valid.length > 0 ? await call(valid) : [];
    } catch (error) {
      failure = error;
    }
    let next = 0;
    return parsed.map((p) => {
      if (p.value === undefined) return { ...p.ref, failure: toFailure(p.error) };
      if (results === undefined) return { ...p.ref, failure: toFailure(failure) };
      const result = results[next++]!;
      return { topic: result.topic, partition: result.partition, offset: result.offset, lockDeadlineMs: result.lockDeadlineMs ?? 0, ...(result.error ? { failure: toFailure(result.error) } : {}) };
    });
  }

  private refuseAtShutdown(request: QueueSessionRequest__Output): void {
    const entries = request.answers?.answers ?? request.extend?.records;
    const requestId = request.answers?.requestId ?? request.extend?.requestId;
    if (entries === undefined || requestId === undefined) return;
    const failure = toFailure(new ShuttingDownError('the server is shutting down: nothing was applied'));
    this.writeResults(requestId, entries.slice(0, MAX_QUEUE_ANSWERS_PER_REQUEST).map((e) => ({ topic: e.topic, partition: e.partition, offset: Number.isSafeInteger(e.offset) ? e.offset : -1, failure })));
  }

  private track(work: Promise<void>): void {
    this.inProgressCount++;
    this.updateReading();
    work
      .catch((error: unknown) => this.deps.logger.warn({ err: error, memberId: this.memberId }, 'queue session request failed unexpectedly'))
      .finally(() => {
        this.inProgressCount--;
        this.updateReading();
        this.finishIfIdle();
      });
  }

  private writeResults(requestId: number, results: QueueAnswerResultProto[]): void {
    let bytes = 32;
    for (const r of results) bytes += 48 + (r.topic?.length ?? 0) + (r.failure?.message?.length ?? 0);
    if (this.phase !== 'joined') return;
    if (!this.share!.tryAcquire(bytes)) {
      this.share!.add(bytes);
      this.isOverBudget = true;
    }
    this.unflushedBytes += bytes;
    this.writeCounted({ results: { requestId, results } }, bytes);
    this.updateReady();
  }

  /** Writes a message whose bytes are already held in the share; they are released once it is sent. */
  private writeCounted(response: QueueSessionResponse, bytes: number): void {
    const isWritable = this.call.write(response, () => this.flushed(bytes));
    if (!isWritable && !this.isWriteBlocked) {
      this.isWriteBlocked = true;
      this.call.once('drain', () => {
        this.isWriteBlocked = false;
        this.updateReady();
        this.updateReading();
      });
      this.updateReading();
    }
  }

  /** A small message not worth counting (the joined answer). */
  private write(response: QueueSessionResponse, bytes: number): void {
    this.share!.add(bytes);
    this.unflushedBytes += bytes;
    this.writeCounted(response, bytes);
  }

  private flushed(bytes: number): void {
    this.share?.release(bytes);
    this.unflushedBytes -= bytes;
    if (this.isOverBudget && this.unflushedBytes <= 0) {
      this.isOverBudget = false;
      this.updateReady();
    }
  }

  private isReady(): boolean {
    return !this.isWriteBlocked && !this.isOverBudget && this.throttleTimer === undefined && this.unansweredBytes < MAX_QUEUE_UNANSWERED_BYTES_PER_MEMBER && this.phase !== 'ended' && !this.isLeaving;
  }

  /**
   * The member said its answers are its last (QueueAnswers.leaving), or ended its side: it takes no
   * more deliveries. Told before those answers are applied, so the places they free are not filled
   * with records it would only leave unread (each a delivery attempt spent and a backoff to wait).
   */
  private leaving(): void {
    if (this.isLeaving) return;
    this.isLeaving = true;
    this.updateReady();
  }

  /** Tells the coordinator when this member's readiness changed from what it was last told. */
  private updateReady(): void {
    const isReady = this.isReady();
    if (this.memberId === undefined || this.phase !== 'joined' || isReady === this.isToldReady) return;
    this.isToldReady = isReady;
    this.deps.coordinator.setDeliveryReady(this.memberId, isReady);
  }

  private updateReading(): void {
    if (this.phase === 'ended') return;
    const shouldPause = this.phase === 'joining' || this.isShuttingDown || this.isWriteBlocked || this.inProgressCount >= MAX_QUEUE_REQUESTS_IN_PROGRESS_PER_STREAM;
    if (shouldPause && !this.call.isPaused()) this.call.pause();
    else if (!shouldPause && this.call.isPaused()) this.call.resume();
  }

  /** Ends the stream once nothing is in progress, if the member half-closed or the server is stopping. */
  private finishIfIdle(): void {
    if (this.phase === 'ended' || this.phase === 'joining' || this.inProgressCount > 0) return;
    if (this.isShuttingDown) this.end({ error: new ShuttingDownError('the server is shutting down'), isLost: true });
    else if (this.hasClientEnded) void this.leaveAndEnd();
  }

  /** A clean end: the member leaves (its records released, durably), then the stream ends OK. */
  private async leaveAndEnd(): Promise<void> {
    const memberId = this.memberId;
    this.phase = 'ended';
    if (memberId !== undefined) await this.forget(memberId, 'leave');
    this.release();
    if (!this.call.cancelled) this.call.end();
  }

  private end(how: { error?: unknown; isLost?: boolean }): void {
    if (this.phase === 'ended') return;
    this.phase = 'ended';
    this.early = [];
    if (this.memberId !== undefined && how.isLost) void this.forget(this.memberId, 'lost');
    this.release();
    if (how.error !== undefined && !this.call.cancelled) this.call.emit('error', toServiceError(how.error));
  }

  private release(): void {
    this.throttleTimer?.cancel();
    this.throttleTimer = undefined;
    this.unregister();
    this.share?.close();
    this.onEnded?.();
  }

  private async forget(memberId: string, how: 'leave' | 'lost'): Promise<void> {
    try {
      await (how === 'leave' ? this.deps.coordinator.leave(memberId) : this.deps.coordinator.streamLost(memberId));
    } catch (error) {
      // The member is gone anyway; its records come back when their locks expire.
      this.deps.logger.warn({ err: error, memberId }, 'releasing a queue member\'s records failed: they come back when their locks expire');
    }
  }

  /** At shutdown: read no more, answer what is in progress, then end with SHUTTING_DOWN. */
  private shutDown(): Promise<void> {
    if (this.phase === 'ended') return Promise.resolve();
    this.isShuttingDown = true;
    const ended = new Promise<void>((resolve) => (this.onEnded = resolve));
    this.updateReading();
    this.finishIfIdle();
    return ended;
  }
}

interface Parsed<T> {
  ref: { topic: string; partition: number; offset: number };
  value: T | undefined;
  error?: StrataError;
}

/** An entry as sent, and its domain form or why it has none (echoing only what is safe to echo). */
function parse<T>(entry: { topic: string; partition: number; offset: number }, toDomain: () => T): Parsed<T> {
  const ref = { topic: entry.topic, partition: entry.partition, offset: Number.isSafeInteger(entry.offset) ? entry.offset : -1 };
  try {
    return { ref, value: toDomain() };
  } catch (error) {
    return { ref, value: undefined, error: error as StrataError };
  }
}

function recordKey(topic: string, partition: number, offset: number): string {
  return `${topic}/${partition}/${offset}`;
}

/** A delivery's size as held until sent: its batches twice (grpc-js's framed copy and the garbage), plus the fields. */
function deliveryBytes(delivery: QueueDelivery): number {
  return RESPONSE_COPIES * delivery.batches.length + 64 + delivery.topic.length + 24 * delivery.records.length;
}
