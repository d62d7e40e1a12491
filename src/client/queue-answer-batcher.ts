import { status as grpcStatus } from '@grpc/grpc-js';
import type { Clock, TimerHandle } from '../core/clock.js';
import type { QueueAnswer } from '../generated/strata/v1/QueueAnswer.js';
import type { QueueAnswerResult__Output } from '../generated/strata/v1/QueueAnswerResult.js';
import type { QueueAnswerResults__Output } from '../generated/strata/v1/QueueAnswerResults.js';
import type { QueueSessionRequest } from '../generated/strata/v1/QueueSessionRequest.js';
import { errorOfCode, StrataClientError } from './client-error.js';
import { OutcomeUnknownError } from './transport-errors.js';

/** Where the batcher writes: a session stream (write() false: wait for onDrain before writing more). */
export interface AnswerStream {
  write(request: QueueSessionRequest): boolean;
  onDrain(callback: () => void): void;
}

interface RecordRef {
  topic: string;
  partition: number;
  offset: number;
}

interface Waiter {
  ref: RecordRef;
  resolve(result: QueueAnswerResult__Output): void;
  reject(error: Error): void;
}

interface QueuedAnswer extends Waiter {
  answer: QueueAnswer;
}

/**
 * A queue session's answers and lock extensions, sent in batches: what is asked within `lingerMs`
 * (on the client's clock) shares one request, and once `flushAtCount` (at most `maxPerRequest`) wait
 * they go out at once: the server hands a member no more than its in-flight limit, so answers held
 * back for the linger would leave its places empty (the session passes half the limit). Each answer
 * gets its own promise, settled by its entry in the QueueAnswerResults of its request (matched by the
 * request id, then by position, as the server sends them in order): resolved on success, rejected with
 * the failure's registry class (QueueRecordNotAcquiredError, InvalidArgumentError, ...).
 *
 * Bounded: a member answers only records it holds, each once (QueueMessage keeps that), and extends a
 * lock once at a time, so what waits here is at most twice its in-flight limit. When the stream's
 * write() says false, nothing more is written until it drains (answers wait here meanwhile).
 *
 * Ends with its session: fail() rejects what was never sent with QUEUE_RECORD_NOT_ACQUIRED (the server
 * released those records when the stream broke), and what was sent but not answered with
 * OUTCOME_UNKNOWN (the server may have applied it before the break).
 */
export class QueueAnswerBatcher {
  private queuedAnswers: QueuedAnswer[] = [];
  /** Lock extensions by lock duration (0: the group's), one request per duration. */
  private queuedExtends = new Map<number, Waiter[]>();
  private queuedExtendCount = 0;
  private readonly sent = new Map<number, Waiter[]>();
  private nextRequestId = 1;
  private timer: TimerHandle | undefined;
  private isWaitingForDrain = false;
  private failure: ((wasSent: boolean) => Error) | undefined;
  private idleWaiters: Array<() => void> = [];
  private sentWaiters: Array<() => void> = [];
  /** Set once the member is leaving: why new answers are refused. */
  private refusal: string | undefined;
  private isLeaving = false;

  constructor(
    private readonly stream: AnswerStream,
    private readonly clock: Clock,
    private readonly lingerMs: number,
    private readonly maxPerRequest: number,
    private readonly flushAtCount = maxPerRequest,
  ) {}

  /** Requests sent and not yet answered, and answers or extensions not yet sent. */
  get pendingCount(): number {
    let count = this.queuedAnswers.length + this.queuedExtendCount;
    for (const waiters of this.sent.values()) count += waiters.length;
    return count;
  }

  /** Whether a result is awaited from the server (the session must keep reading its stream). */
  get isAwaitingResults(): boolean {
    return this.sent.size > 0;
  }

  answer(answer: QueueAnswer): Promise<QueueAnswerResult__Output> {
    return new Promise((resolve, reject) => {
      const ref = { topic: answer.topic!, partition: answer.partition!, offset: answer.offset as number };
      if (this.failure) return reject(this.failure(false));
      if (this.refusal) return reject(refused(this.refusal));
      this.queuedAnswers.push({ answer, ref, resolve, reject });
      this.scheduleFlush();
    });
  }

  /** Resolves with the record's new lock deadline (ms since the epoch, the server's clock). */
  extend(ref: RecordRef, lockMs: number): Promise<QueueAnswerResult__Output> {
    return new Promise((resolve, reject) => {
      if (this.failure) return reject(this.failure(false));
      if (this.refusal) return reject(refused(this.refusal));
      let waiters = this.queuedExtends.get(lockMs);
      if (!waiters) this.queuedExtends.set(lockMs, (waiters = []));
      waiters.push({ ref, resolve, reject });
      this.queuedExtendCount++;
      this.scheduleFlush();
    });
  }

  private scheduleFlush(): void {
    if (this.queuedAnswers.length + this.queuedExtendCount >= Math.min(this.flushAtCount, this.maxPerRequest)) return this.flush();
    if (this.timer || this.isWaitingForDrain) return;
    // Owed work: an answer the caller awaits keeps the process alive until it is sent.
    this.timer = this.clock.setTimeout(() => this.flush(), this.lingerMs, { keepsProcessAlive: true });
  }

  /** Sends everything queued now (close() calls it), as far as the stream takes it. */
  flush(): void {
    this.timer?.cancel();
    this.timer = undefined;
    if (this.failure || this.isWaitingForDrain) return;
    while (this.queuedAnswers.length > 0 || this.queuedExtendCount > 0) {
      let request: QueueSessionRequest;
      let waiters: Waiter[];
      const requestId = this.nextRequestId++;
      if (this.queuedAnswers.length > 0) {
        const taken = this.queuedAnswers.splice(0, this.maxPerRequest);
        waiters = taken;
        request = { answers: { requestId, answers: taken.map((t) => t.answer), leaving: this.isLeaving } };
      } else {
        const [lockMs, all] = this.queuedExtends.entries().next().value as [number, Waiter[]];
        waiters = all.splice(0, this.maxPerRequest);
        if (all.length === 0) this.queuedExtends.delete(lockMs);
        this.queuedExtendCount -= waiters.length;
        request = { extend: { requestId, lockMs, records: waiters.map((w) => w.ref) } };
      }
      this.sent.set(requestId, waiters);
      const isWritable = this.stream.write(request);
      if (this.queuedAnswers.length + this.queuedExtendCount === 0) for (const wake of this.sentWaiters.splice(0)) wake();
      if (!isWritable) {
        this.isWaitingForDrain = true;
        this.stream.onDrain(() => {
          this.isWaitingForDrain = false;
          this.flush();
        });
        return;
      }
    }
  }

  /** A QueueAnswerResults from the server: settles its request's answers, one result each, in order. */
  onResults(response: QueueAnswerResults__Output): void {
    const waiters = this.sent.get(response.requestId);
    if (!waiters) return; // a request of an earlier session, or one already failed
    this.sent.delete(response.requestId);
    // A request refused whole (too many entries: nothing applied) has one failure for all of them.
    const whole = response.results.length === 1 && waiters.length > 1 ? response.results[0]!.failure : null;
    if (whole) {
      for (const waiter of waiters) waiter.reject(StrataClientError.fromFailure(whole));
      this.notifyIfIdle();
      return;
    }
    waiters.forEach((waiter, index) => {
      const result = response.results[index];
      if (!result || result.topic !== waiter.ref.topic || result.partition !== waiter.ref.partition || result.offset !== waiter.ref.offset) {
        const got = result ? `${result.topic}/${result.partition}@${result.offset}` : 'nothing';
        waiter.reject(errorOfCode('INTERNAL', `the server answered request ${response.requestId}'s entry ${index} (${refText(waiter.ref)}) with ${got}`, grpcStatus.INTERNAL, false));
      } else if (result.failure) {
        waiter.reject(StrataClientError.fromFailure(result.failure));
      } else {
        waiter.resolve(result);
      }
    });
    this.notifyIfIdle();
  }

  /** Resolves once everything queued was written to the stream (or the session ended). */
  untilSent(): Promise<void> {
    if (this.queuedAnswers.length + this.queuedExtendCount === 0 || this.failure) return Promise.resolve();
    return new Promise((resolve) => this.sentWaiters.push(resolve));
  }

  /**
   * The member is leaving: what is queued goes out now, marked `leaving` (the server delivers nothing
   * more from it on), and what is asked from now on fails at once (the stream is about to end); the
   * results of what was sent are still awaited.
   */
  leave(reason: string): void {
    this.refusal = reason;
    this.isLeaving = true;
    this.flush();
  }

  /** Resolves once nothing is queued or awaited (close() waits for its answers' results this way). */
  untilIdle(): Promise<void> {
    if (this.pendingCount === 0 || this.failure) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** The session ended: everything pending fails, and so does anything asked from now on. */
  fail(reason: string): void {
    if (this.failure) return;
    this.timer?.cancel();
    this.timer = undefined;
    this.failure = (wasSent) =>
      wasSent
        ? new OutcomeUnknownError(`${reason} before the server confirmed this answer: it may have been applied`)
        : errorOfCode('QUEUE_RECORD_NOT_ACQUIRED', `${reason}: the answer was not sent, and the server released the session's records`, grpcStatus.FAILED_PRECONDITION, false);
    const unsent = [...this.queuedAnswers, ...[...this.queuedExtends.values()].flat()];
    this.queuedAnswers = [];
    this.queuedExtends.clear();
    this.queuedExtendCount = 0;
    for (const waiter of unsent) waiter.reject(this.failure(false));
    for (const waiters of this.sent.values()) for (const waiter of waiters) waiter.reject(this.failure(true));
    this.sent.clear();
    this.notifyIfIdle();
  }

  private notifyIfIdle(): void {
    if (this.failure) for (const wake of this.sentWaiters.splice(0)) wake();
    if (this.pendingCount > 0 && !this.failure) return;
    for (const wake of this.idleWaiters.splice(0)) wake();
  }
}

function refused(reason: string) {
  return errorOfCode('QUEUE_RECORD_NOT_ACQUIRED', `${reason}: the answer was not sent, and the server releases the member's records`, grpcStatus.FAILED_PRECONDITION, false);
}

function refText(ref: RecordRef): string {
  return `${ref.topic}/${ref.partition}@${ref.offset}`;
}
