import { delay, type Clock, type TimerHandle } from '../core/clock.js';
import type { DeadLetterCause } from '../core/dead-letter-headers.js';
import type { ConsumedRecord } from './consumed-record.js';
import type { ClientChannel } from './client-channel.js';
import { DeadLetterPublisher, errorText, type DeadLetterWriter } from './dead-letter-publisher.js';
import type { GroupConsumerLogger, TopicPartition } from './group-consumer-options.js';
import { deadLetterRetryDelayMs, isDeadLetterRetriable, isNonRetriable, retryDelayMs, type GroupFailurePolicy, type HandlerContext, type RecordHandler } from './group-failure-policy.js';
import { partitionKey, type MemberPartitions } from './member-partitions.js';
import type { RecordBuffer } from './record-buffer.js';
import { MAX_MS_BETWEEN_YIELDS, yieldToEventLoop } from './yield-to-event-loop.js';

/** What process() needs of its group member. */
export interface GroupProcessorHost {
  readonly client: ClientChannel;
  readonly clock: Clock;
  readonly groupId: string;
  readonly logger: GroupConsumerLogger;
  readonly buffer: RecordBuffer<ConsumedRecord>;
  readonly partitions: MemberPartitions;
  /** Whether a record of partition `k` may be worked on: owned, not being revoked, the member not closing. */
  isHandable(k: string): boolean;
  /** Work on a record starts at `nowMs` (the processing timeout counts from here); checks the session. */
  noteAsked(nowMs: number): void;
  /** Commits what is processed now (after a dead letter); a failure is reported, not thrown. */
  commitProcessed(): Promise<void>;
  /** Stops the member for good with `error` (process() rejects with it). */
  fail(error: Error): void;
  /** Why the member stopped, if it failed. */
  failure(): Error | undefined;
  close(): Promise<void>;
}

/** A record being worked on, with what its partition was when it was taken. */
interface InHand {
  record: ConsumedRecord;
  k: string;
  /** The partition's entry in `owned` when taken: one lost and given back is a new object, and this record is not ours any more. */
  owner: TopicPartition;
  /** Handler calls made. */
  attempts: number;
  lastError: unknown;
  /** Set once it is to be dead-lettered: its next turn appends it (again, after a failed append). */
  deadLetterCause?: DeadLetterCause;
  /** Appends that failed. */
  deadLetterFailures: number;
}

/**
 * The turn under way (a handler call or a dead-letter append): its partition, the handler's abort
 * signal and a way to wait for its end. The AbortController and the wait's promise are made only
 * when asked for: one AbortSignal per record costs more than the rest of a record's turn (an
 * AbortSignal is a heavy object for the collector).
 */
class Turn {
  private controller: AbortController | undefined;
  private isAborted = false;
  private isOver = false;
  private waiters: Array<() => void> | undefined;

  constructor(readonly k: string) {}

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.isAborted) this.controller.abort();
    }
    return this.controller.signal;
  }

  abort(): void {
    this.isAborted = true;
    this.controller?.abort();
  }

  untilOver(): Promise<void> {
    if (this.isOver) return Promise.resolve();
    return new Promise((resolve) => (this.waiters ??= []).push(resolve));
  }

  end(): void {
    this.isOver = true;
    for (const wake of this.waiters ?? []) wake();
  }
}

/**
 * A group member's process() loop: it runs the handler on one record at a time, each partition's
 * records in offset order, and applies the failure policy (Spring Kafka's DefaultErrorHandler and
 * DeadLetterPublishingRecoverer). A throw retries the record in place after its backoff: its
 * partition's lane of the buffer is paused (its fetcher fills its share and waits) and a timer on
 * the client clock brings the record back, while records of other partitions go on. After
 * `maxAttempts` calls, or at once for a NonRetriableError, the record is appended to the dead-letter
 * topic (durably) and only then counted processed, so the next commit (made at once) moves past it.
 * Without a policy, a throw stops the member with that error, as a throw from the for-await loop does.
 *
 * A record counts as processed only while it is still ours: its partition owned under the same
 * assignment and its position not reset. A partition revoked during a retry stops retrying at once
 * (settle(): the timer is cancelled, the running handler's signal aborted and waited for, so what it
 * finished is in the revocation's commit); a partition lost (session expired) or whose offsets were
 * reset is let go without waiting (forget()). Nothing is committed for a record let go: the
 * partition's next reader gets it again, from its first attempt.
 *
 * Concurrency: one handler call (or dead-letter append) at a time; settle(), forget() and stop() may
 * be called at any time from the member's other paths (rebalances, session checks, close()).
 */
export class GroupRecordProcessor {
  /** Partitions whose record waits for its next attempt (their lanes paused), with its timer. */
  private readonly waiting = new Map<string, { inHand: InHand; timer: TimerHandle }>();
  /** Records whose next attempt is due, in the order their timers fired. */
  private due: InHand[] = [];
  private running: Turn | undefined;
  /**
   * A take() from the buffer that the loop stopped waiting for (a retry fell due): its record is the
   * next one. It is out of the buffer, so a revocation's drop() does not reach it: settle() and
   * forget() let it go (`isDropped`) when its partition goes, or it would be handled after the
   * partition came back and was read again from its commit: twice.
   */
  private pendingTake: { promise: Promise<void>; isSettled: boolean; isDropped: boolean; record: ConsumedRecord | undefined } | undefined;
  private wakeUp: (() => void) | undefined;
  private isStopped = false;
  /** Resolved once stop() no longer waits for the running turn: a revocation waiting for it stops too. */
  private readonly gaveUpWaiting: Promise<void>;
  private giveUpWaiting: () => void = () => undefined;
  private isWaitingForWork = false;
  private yieldedAtMs: number;
  /** Where dead letters go: made with the policy (its producer at the first letter), closed by stop(). */
  private readonly deadLetters: DeadLetterWriter | undefined;

  constructor(
    private readonly host: GroupProcessorHost,
    private readonly handler: RecordHandler,
    private readonly policy: GroupFailurePolicy | undefined,
  ) {
    this.yieldedAtMs = host.clock.nowMs();
    this.gaveUpWaiting = new Promise((resolve) => (this.giveUpWaiting = resolve));
    if (policy) this.deadLetters = new DeadLetterPublisher(host.client, { groupId: host.groupId, deadLetterTopic: policy.deadLetterTopic });
  }

  /**
   * process(): runs until the member closes (close(), or `signal` aborted), then resolves once it is
   * closed; rejects with what stopped the member otherwise.
   */
  async runUntilClosed(signal: AbortSignal | undefined): Promise<void> {
    const onAbort = () => void this.host.close();
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted) onAbort();
    try {
      await this.run();
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
    await this.host.close();
    const failure = this.host.failure();
    if (failure) throw failure;
  }

  /** Waiting for a record or for a retry's time (not in a handler): the member is not stuck. */
  get isIdle(): boolean {
    return this.isWaitingForWork;
  }

  /** Runs until stop() or the buffer closes (the member closed or failed). */
  private async run(): Promise<void> {
    while (!this.isStopped) {
      if (this.host.clock.nowMs() - this.yieldedAtMs >= MAX_MS_BETWEEN_YIELDS) {
        // As the iterator: timers and I/O (heartbeats) get a turn under a handler that never waits.
        await yieldToEventLoop();
        this.yieldedAtMs = this.host.clock.nowMs();
      }
      const retry = this.due.shift();
      if (retry) {
        await this.attempt(retry);
        continue;
      }
      // A buffered record without a promise: the common case, per record.
      const record = (this.pendingTake ? undefined : this.host.buffer.tryTake()) ?? (await this.nextRecord());
      if (record === null) return;
      if (record === undefined) continue;
      const k = partitionKey(record.topic, record.partition);
      // Revoked while it waited in the buffer: another member's now.
      if (!this.host.isHandable(k)) continue;
      this.host.partitions.handedNext.set(k, record.offset + 1);
      await this.attempt({ record, k, owner: this.host.partitions.owned.get(k)!, attempts: 0, lastError: undefined, deadLetterFailures: 0 });
    }
  }

  /**
   * Partitions of `keys` are being revoked: their retries stop, and a handler or append under way
   * for one of them is told (its signal) and waited for, so the revocation's commit counts it; once
   * stop() gave up on it (close()), no longer.
   */
  async settle(keys: ReadonlySet<string>): Promise<void> {
    this.forgetWaiting((k) => keys.has(k));
    this.dropPendingTake((k) => keys.has(k));
    const running = this.running;
    if (running && keys.has(running.k)) {
      running.abort();
      // Bounded by close(): a handler deaf to its signal would hold the reconciliation, and close()
      // after it, for ever. Its record is not counted processed, so the commit stays below it.
      await Promise.race([running.untilOver(), this.gaveUpWaiting]);
    }
  }

  /** Partitions `isForgotten` picks were lost or reset: their retries stop, a running handler is told; nothing waits. */
  forget(isForgotten: (k: string) => boolean): void {
    this.forgetWaiting(isForgotten);
    this.dropPendingTake(isForgotten);
    if (this.running && isForgotten(this.running.k)) this.running.abort();
  }

  /**
   * Stops the loop (close()): retries are dropped, the running handler is told (its signal) and
   * waited for, at most `maxWaitMs` (as Spring's shutdownTimeout: a hung handler cannot hold close()
   * for ever, and a handler that awaits close() itself would wait on its own end), then the
   * dead-letter producer is closed (it finishes an append under way).
   */
  async stop(maxWaitMs: number): Promise<void> {
    this.isStopped = true;
    this.forgetWaiting(() => true);
    this.wakeUp?.();
    const running = this.running;
    if (running) {
      running.abort();
      const timeout = new AbortController();
      await Promise.race([running.untilOver(), delay(this.host.clock, maxWaitMs, { signal: timeout.signal })]);
      timeout.abort();
    }
    this.giveUpWaiting();
    await this.deadLetters?.close();
  }

  /** The next record of the buffer; undefined: woken without one (a retry is due, or stopped); null: the buffer closed. */
  private async nextRecord(): Promise<ConsumedRecord | null | undefined> {
    if (!this.pendingTake) {
      // Only when no take() is waiting: that one was registered first and gets the partition's next record.
      const record = this.host.buffer.tryTake();
      if (record !== undefined) return record;
      const pending: NonNullable<GroupRecordProcessor['pendingTake']> = { promise: Promise.resolve(), isSettled: false, isDropped: false, record: undefined };
      pending.promise = this.host.buffer.take().then((taken) => {
        pending.isSettled = true;
        pending.record = taken;
      });
      this.pendingTake = pending;
    }
    const pending = this.pendingTake;
    if (!pending.isSettled) {
      this.isWaitingForWork = true;
      await Promise.race([pending.promise, new Promise<void>((resolve) => (this.wakeUp = resolve))]);
      this.isWaitingForWork = false;
      this.wakeUp = undefined;
      if (!pending.isSettled) {
        // Woken by a retry's timer: the event loop just had a turn.
        this.yieldedAtMs = this.host.clock.nowMs();
        return undefined;
      }
    }
    this.pendingTake = undefined;
    if (pending.isDropped) return undefined;
    return pending.record ?? null;
  }

  /** The record a pending take got, if its partition is let go (see pendingTake). */
  private dropPendingTake(isDropped: (k: string) => boolean): void {
    const pending = this.pendingTake;
    if (!pending?.isSettled || !pending.record) return;
    if (!isDropped(partitionKey(pending.record.topic, pending.record.partition))) return;
    pending.record = undefined;
    pending.isDropped = true;
  }

  /** One turn of `inHand`: a handler call, or its dead-letter append; one at a time, stop() and settle() wait for it. */
  private async attempt(inHand: InHand): Promise<void> {
    this.host.noteAsked(this.host.clock.nowMs());
    if (!this.isCurrent(inHand) || !this.host.isHandable(inHand.k)) {
      this.letGo(inHand);
      return;
    }
    const turn = new Turn(inHand.k);
    this.running = turn;
    try {
      if (inHand.deadLetterCause) await this.deadLetter(inHand, inHand.deadLetterCause);
      else await this.callHandler(inHand, turn);
    } finally {
      this.running = undefined;
      turn.end();
    }
  }

  private async callHandler(inHand: InHand, turn: Turn): Promise<void> {
    inHand.attempts++;
    try {
      const context: HandlerContext = {
        attempt: inHand.attempts,
        get signal() {
          return turn.signal;
        },
      };
      await this.handler(inHand.record, context);
    } catch (error) {
      inHand.lastError = error;
      // Revoked, lost or closing meanwhile (a handler that stopped on its signal): no retry, no dead
      // letter and no failure here; the partition's next reader starts the record again.
      if (!this.isCurrent(inHand) || !this.host.isHandable(inHand.k)) {
        this.letGo(inHand);
        return;
      }
      const policy = this.policy;
      if (!policy) {
        this.letGo(inHand);
        this.host.fail(error instanceof Error ? error : new Error(errorText(error)));
        return;
      }
      if (isNonRetriable(error)) {
        await this.deadLetter(inHand, 'rejected');
      } else if (inHand.attempts >= policy.maxAttempts) {
        await this.deadLetter(inHand, 'handler-failed');
      } else {
        this.retryLater(inHand, retryDelayMs(policy, inHand.attempts));
      }
      return;
    }
    this.processed(inHand);
  }

  /**
   * Appends the record to its dead-letter topic, then counts it processed and commits. An append that
   * fails retriably (isDeadLetterRetriable: the server unreachable past the producer's own retries too) is tried again after the
   * backoff, the partition still waiting: nothing is skipped that is not in the dead-letter topic. A
   * non-retriable failure (a bad dead-letter topic name, a record too large for it) stops the member.
   */
  private async deadLetter(inHand: InHand, cause: DeadLetterCause): Promise<void> {
    const { record } = inHand;
    inHand.deadLetterCause = cause;
    try {
      await this.deadLetters!.write({ record, attempts: inHand.attempts, cause, error: inHand.lastError });
    } catch (error) {
      inHand.deadLetterFailures++;
      const fields = { groupId: this.host.groupId, topic: record.topic, partition: record.partition, offset: record.offset, error: errorText(error) };
      if (!isDeadLetterRetriable(error)) {
        this.letGo(inHand);
        this.host.logger.warn(fields, 'group consumer: a record could not be appended to its dead-letter topic, and trying again would not help: stopped (the record is not committed)');
        this.host.fail(error instanceof Error ? error : new Error(errorText(error)));
        return;
      }
      this.host.logger.warn({ ...fields, failures: inHand.deadLetterFailures }, 'group consumer: appending a record to its dead-letter topic failed; its partition waits and it is tried again after the backoff');
      if (this.isCurrent(inHand) && this.host.isHandable(inHand.k)) this.retryLater(inHand, deadLetterRetryDelayMs(this.policy!, inHand.deadLetterFailures));
      else this.letGo(inHand);
      return;
    }
    this.host.logger.warn(
      { groupId: this.host.groupId, topic: record.topic, partition: record.partition, offset: record.offset, attempts: inHand.attempts, cause, error: errorText(inHand.lastError) },
      'group consumer: a record whose handler failed went to the dead-letter topic; its partition goes on after it',
    );
    if (!this.processed(inHand)) return;
    await this.host.commitProcessed();
  }

  /** The record is done (handled, or dead-lettered): the commit moves past it, if it is still ours. */
  private processed(inHand: InHand): boolean {
    this.host.buffer.resumeLane(inHand.k);
    if (!this.isCurrent(inHand)) return false;
    this.host.partitions.processed.set(inHand.k, inHand.record.offset + 1);
    return true;
  }

  private retryLater(inHand: InHand, delayMs: number): void {
    this.host.buffer.pauseLane(inHand.k);
    const timer = this.host.clock.setTimeout(
      () => {
        this.waiting.delete(inHand.k);
        this.due.push(inHand);
        this.wakeUp?.();
      },
      delayMs,
      { keepsProcessAlive: true },
    );
    this.waiting.set(inHand.k, { inHand, timer });
  }

  /** Not ours to finish any more (or stopped): no more attempts; its partition's lane is taken from again. */
  private letGo(inHand: InHand): void {
    this.host.buffer.resumeLane(inHand.k);
  }

  private forgetWaiting(isForgotten: (k: string) => boolean): void {
    for (const [k, { inHand, timer }] of [...this.waiting]) {
      if (!isForgotten(k)) continue;
      timer.cancel();
      this.waiting.delete(k);
      this.letGo(inHand);
    }
    const forgotten = this.due.filter((inHand) => isForgotten(inHand.k));
    this.due = this.due.filter((inHand) => !isForgotten(inHand.k));
    for (const inHand of forgotten) this.letGo(inHand);
  }

  /** Whether the partition is still owned under the assignment the record was taken in, at the record's position. */
  private isCurrent(inHand: InHand): boolean {
    const { partitions } = this.host;
    return partitions.owned.get(inHand.k) === inHand.owner && partitions.handedNext.get(inHand.k) === inHand.record.offset + 1;
  }
}
