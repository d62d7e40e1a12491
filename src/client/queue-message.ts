import { status as grpcStatus } from '@grpc/grpc-js';
import { InvalidArgumentError } from '../core/errors.js';
import { MAX_QUEUE_DELAY_MS } from '../core/limits.js';
import type { RecordHeader } from '../format/record.js';
import type { QueueAnswerType } from '../generated/strata/v1/QueueAnswerType.js';
import { errorOfCode } from './client-error.js';
import type { QueueAnswerBatcher } from './queue-answer-batcher.js';

export interface ReleaseOptions {
  /** Available again after this long (0..a day); default: the group's backoff for its delivery count. */
  delayMs?: number;
  /** The error text kept with the record (a dead letter carries the last one). */
  reason?: string;
}

/** What a message needs of its session: the batcher of the session it came from, and the count of held records. */
export interface QueueMessageSession {
  readonly batcher: QueueAnswerBatcher;
  /** The message was answered (its place counts no more against the in-flight limit). */
  answered(): void;
}

/**
 * A record a queue group handed to this member, under a lock until `lockDeadlineMs` (the server's
 * clock). Answer it once: ack() (done), release() (try again later) or reject() (to the dead-letter
 * topic); each returns a promise settled by the server's result for it (answers are sent in batches).
 * A second answer, or an answer after the session it came from ended, fails at once with
 * QueueRecordNotAcquiredError (the server released the session's records when it ended).
 */
export class QueueMessage {
  private answer: Promise<void> | undefined;
  private extension: Promise<number> | undefined;

  constructor(
    readonly topic: string,
    readonly partition: number,
    readonly offset: number,
    readonly timestampMs: number,
    readonly key: Buffer | null,
    readonly value: Buffer | null,
    readonly headers: RecordHeader[],
    /** 1 on the first delivery. */
    readonly deliveryCount: number,
    /** When the lock ends (ms since the epoch, the server's clock): answer or extend before it. */
    public lockDeadlineMs: number,
    private readonly session: QueueMessageSession,
  ) {}

  /** Whether ack, release or reject was called. */
  get isAnswered(): boolean {
    return this.answer !== undefined;
  }

  /** Done: the record is never delivered again. */
  ack(): Promise<void> {
    return this.send('QUEUE_ANSWER_TYPE_ACK', 0, '');
  }

  /** Try again: available to any member after `delayMs`, else after the group's backoff. */
  release(options: ReleaseOptions = {}): Promise<void> {
    const delayMs = options.delayMs ?? 0;
    if (!Number.isSafeInteger(delayMs) || delayMs < 0 || delayMs > MAX_QUEUE_DELAY_MS) {
      return Promise.reject(new InvalidArgumentError(`delayMs must be an integer in [0, ${MAX_QUEUE_DELAY_MS}], got ${delayMs}`));
    }
    return this.send('QUEUE_ANSWER_TYPE_RELEASE', delayMs, options.reason ?? '');
  }

  /** Will never work: straight to the dead-letter topic, with `reason`. */
  reject(reason = ''): Promise<void> {
    return this.send('QUEUE_ANSWER_TYPE_REJECT', 0, reason);
  }

  /**
   * Moves the lock's deadline to now + `lockMs` (default: the group's lock duration) on the server's
   * clock; resolves with the new deadline (also in `lockDeadlineMs`). One extension at a time: a call
   * while one is on its way waits for it.
   */
  extendLock(lockMs = 0): Promise<number> {
    if (!Number.isSafeInteger(lockMs) || lockMs < 0 || lockMs > MAX_QUEUE_DELAY_MS) {
      return Promise.reject(new InvalidArgumentError(`lockMs must be an integer in [0, ${MAX_QUEUE_DELAY_MS}], got ${lockMs}`));
    }
    const previous = this.extension ?? Promise.resolve(0);
    const extension = previous
      .catch(() => 0)
      .then(async () => {
        if (this.answer) throw notAcquired(this, 'it was already answered');
        const result = await this.session.batcher.extend({ topic: this.topic, partition: this.partition, offset: this.offset }, lockMs);
        this.lockDeadlineMs = result.lockDeadlineMs;
        return result.lockDeadlineMs;
      });
    this.extension = extension;
    void extension.finally(() => {
      if (this.extension === extension) this.extension = undefined;
    }).catch(() => undefined);
    return extension;
  }

  private send(type: QueueAnswerType, delayMs: number, reason: string): Promise<void> {
    if (this.answer) return Promise.reject(notAcquired(this, 'it was already answered by this member'));
    this.answer = this.session.batcher.answer({ topic: this.topic, partition: this.partition, offset: this.offset, type, delayMs, reason }).then(() => undefined);
    this.session.answered();
    return this.answer;
  }
}

function notAcquired(message: QueueMessage, why: string) {
  return errorOfCode('QUEUE_RECORD_NOT_ACQUIRED', `${message.topic}/${message.partition}@${message.offset}: ${why}`, grpcStatus.FAILED_PRECONDITION, false);
}
