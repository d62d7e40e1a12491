import type * as grpc from '@grpc/grpc-js';
import type { Clock } from '../core/clock.js';
import type { QueueJoined__Output } from '../generated/strata/v1/QueueJoined.js';
import type { QueueServiceClient } from '../generated/strata/v1/QueueService.js';
import type { QueueSessionRequest } from '../generated/strata/v1/QueueSessionRequest.js';
import type { QueueSessionResponse__Output } from '../generated/strata/v1/QueueSessionResponse.js';
import { StrataClientError } from './client-error.js';
import { QueueAnswerBatcher, type AnswerStream } from './queue-answer-batcher.js';
import { messagesOf } from './queue-delivery.js';
import type { QueueMessage, QueueMessageSession } from './queue-message.js';
import { toProtoConfig, type ResolvedQueueOptions } from './queue-options.js';

/** What a session tells its consumer. */
export interface QueueSessionHost {
  onJoined(session: QueueSession, joined: QueueJoined__Output): void;
  onMessages(session: QueueSession, messages: QueueMessage[]): void;
  /** An answer was queued (a place freed): the host looks at its read-ahead again. */
  onAnswered(session: QueueSession): void;
  /** The stream ended: `error` undefined when the server ended it without an error status. */
  onEnded(session: QueueSession, error: StrataClientError | undefined): void;
  /** A delivery carried a throttle time (the principal is over its consumer_byte_rate). */
  onThrottled?(throttleTimeMs: number): void;
}

type SessionCall = grpc.ClientDuplexStream<QueueSessionRequest, QueueSessionResponse__Output>;

/**
 * One QueueSession stream: the join, the deliveries decoded into messages, the answers' results
 * handed to its batcher, and the end. Reading is paused by the host when its read-ahead is full (HTTP/2
 * flow control then holds the server), except while results are awaited: those come on the same
 * stream, and an answer's caller may be what the read-ahead waits for.
 */
export class QueueSession implements QueueMessageSession, AnswerStream {
  readonly batcher: QueueAnswerBatcher;
  memberId: string | undefined;
  private call: SessionCall | undefined;
  private isEnded = false;
  private isPaused = false;
  private endWaiters: Array<() => void> = [];

  constructor(
    private readonly stub: QueueServiceClient,
    private readonly options: ResolvedQueueOptions,
    clock: Clock,
    private readonly host: QueueSessionHost,
    /** Whether the member joined before (in an earlier session). */
    private readonly isRejoin = false,
  ) {
    // Half the in-flight limit (8 at least) goes out at once: the places those answers free are
    // refilled while the member works on the other half, instead of staying empty for the linger.
    this.batcher = new QueueAnswerBatcher(this, clock, options.answerLingerMs, options.maxAnswersPerRequest, Math.max(8, Math.ceil(options.inFlightLimit / 2)));
  }

  get hasEnded(): boolean {
    return this.isEnded;
  }

  open(): void {
    let call: SessionCall;
    try {
      call = this.stub.queueSession();
    } catch (error) {
      // grpc-js throws at once on a closed client.
      queueMicrotask(() => this.ended(StrataClientError.fromServiceError(error)));
      return;
    }
    this.call = call;
    call.on('data', (response: QueueSessionResponse__Output) => this.onResponse(response));
    call.on('error', (error: unknown) => this.ended(StrataClientError.fromServiceError(error)));
    call.on('end', () => this.ended(undefined));
    const { groupId, topics, inFlightLimit, config, clientId } = this.options;
    // A rejoin takes the group as it is: its configuration may have been altered since the first
    // join, and a join whose values differ from the group's is refused.
    call.write({ join: { groupId, topics, inFlightLimit, config: toProtoConfig(this.isRejoin ? {} : config), clientId } });
  }

  write(request: QueueSessionRequest): boolean {
    if (!this.call || this.isEnded) return true; // the batcher is failed on the end at once
    return this.call.write(request);
  }

  onDrain(callback: () => void): void {
    this.call?.once('drain', callback);
  }

  answered(): void {
    this.host.onAnswered(this);
  }

  /** Reads the stream only while `shouldRead`, or while results are awaited. */
  setReading(shouldRead: boolean): void {
    const call = this.call;
    if (!call || this.isEnded) return;
    const read = shouldRead || this.batcher.pendingCount > 0;
    if (read && this.isPaused) {
      this.isPaused = false;
      call.resume();
    } else if (!read && !this.isPaused) {
      this.isPaused = true;
      call.pause();
    }
  }

  /**
   * Sends what answers are queued, marked `leaving` (so the places they free bring no more
   * deliveries), and ends the stream at once (the server answers what it was sent, then releases
   * what this member still holds); waits for the results and the server's end of the stream, up to
   * `timeoutMs` on `clock`, then cancels it.
   */
  async close(clock: Clock, timeoutMs: number): Promise<void> {
    if (this.isEnded || !this.call) return;
    const call = this.call;
    const ended = new Promise<void>((resolve) => this.endWaiters.push(resolve));
    const timer = clock.setTimeout(() => call.cancel(), timeoutMs, { keepsProcessAlive: true });
    try {
      // Results come on the stream: read it whatever the read-ahead holds.
      this.isPaused = false;
      call.resume();
      this.batcher.leave('the queue member is closing');
      await Promise.race([this.batcher.untilSent(), ended]);
      if (!this.isEnded) call.end();
      await ended;
    } finally {
      timer.cancel();
    }
  }

  /** Ends the stream at once (a session given up: its records are released by the server). */
  cancel(): void {
    this.call?.cancel();
  }

  private onResponse(response: QueueSessionResponse__Output): void {
    if (this.isEnded) return;
    try {
      if (response.joined) {
        this.memberId = response.joined.memberId;
        this.host.onJoined(this, response.joined);
      } else if (response.delivery) {
        if (response.delivery.throttleTimeMs > 0) this.host.onThrottled?.(response.delivery.throttleTimeMs);
        this.host.onMessages(this, messagesOf(response.delivery, this));
      } else if (response.results) {
        this.batcher.onResults(response.results);
        this.host.onAnswered(this);
      }
    } catch (error) {
      // A delivery that does not decode: nothing of this session can be trusted, so it ends, with that error.
      this.ended(StrataClientError.fromServiceError(error));
      this.call?.cancel();
    }
  }

  private ended(error: StrataClientError | undefined): void {
    if (this.isEnded) return;
    this.isEnded = true;
    this.batcher.fail(error ? `the queue session ended (${error.code}: ${error.message})` : 'the queue session ended');
    for (const wake of this.endWaiters.splice(0)) wake();
    this.host.onEnded(this, error);
  }
}
