import { AsyncLocalStorage } from 'node:async_hooks';
import { status as grpcStatus } from '@grpc/grpc-js';
import type { TimerHandle } from '../core/clock.js';
import { InvalidArgumentError } from '../core/errors.js';
import { MAX_QUEUE_REASON_BYTES } from '../core/limits.js';
import type { QueueJoined__Output } from '../generated/strata/v1/QueueJoined.js';
import type { QueueServiceClient } from '../generated/strata/v1/QueueService.js';
import type { ClientChannel } from './client-channel.js';
import { StreamEndedError, type StrataClientError } from './client-error.js';
import { NonRetriableError } from './non-retriable-error.js';
import type { QueueMessage } from './queue-message.js';
import { fromProtoConfig, resolveQueueOptions, type QueueGroupConfigValues, type QueueOptions, type ResolvedQueueOptions } from './queue-options.js';
import { QueueSession, type QueueSessionHost } from './queue-session.js';

/** Where a queue member writes warnings (a pino logger fits); default: process.emitWarning. */
export interface QueueLogger {
  warn(fields: object, message: string): void;
}

export interface ProcessOptions {
  /** Handlers running at once. Default 1; more than the in-flight limit never run (the server hands out no more). */
  concurrency?: number;
  /** Stops taking messages; process() resolves once the running handlers are done and answered. */
  signal?: AbortSignal;
}

export interface QueueConsumerOptions extends QueueOptions {
  /** Where warnings go (a lost session, an answer that failed in process()). */
  logger?: QueueLogger;
  /**
   * Rate quota: a delivery said the principal is over its consumer_byte_rate; the server delivers
   * nothing more to this member for `throttleTimeMs` (nothing is lost: the records wait for it).
   */
  onThrottled?: (throttleTimeMs: number) => void;
}

export type QueueHandler = (message: QueueMessage) => Promise<void> | void;

const MAX_RECONNECT_BACKOFF_MS = 5_000;

/** One running handler of process(): its task, set once it started. */
interface HandlerSlot {
  task?: Promise<void>;
}
const defaultLogger: QueueLogger = { warn: (fields, message) => process.emitWarning(`${message} ${JSON.stringify(fields)}`, 'StrataQueueWarning') };

/**
 * A member of a queue group (client.queue()): an AsyncIterable of the records the server hands it,
 * over one QueueSession stream, with answers sent in batches (QueueAnswerBatcher), and process() for
 * a pool of concurrent handlers. The read-ahead holds at most the in-flight limit of messages: past it
 * the stream is not read (unless answers' results are awaited), so HTTP/2 flow control holds the server.
 *
 * The session opens on the first next() or process(). When the server becomes unavailable (a restart,
 * a lost connection) the member joins again after a backoff on the client's clock; the messages of the
 * old session are released by the server, so their answers fail with QUEUE_RECORD_NOT_ACQUIRED and
 * messages of it still in the read-ahead are dropped. Any other failure of the stream (a refused join,
 * undecodable data) ends the iteration with that error. close() sends the answers given so far,
 * waits for their results, ends the stream and resolves once the server ended it.
 *
 * One reader at a time: iterate it, or run process(), not both.
 */
export class QueueConsumer implements AsyncIterable<QueueMessage>, QueueSessionHost {
  private readonly options: ResolvedQueueOptions;
  private readonly stub: QueueServiceClient;
  private readonly logger: QueueLogger;
  private readonly onThrottledOption: ((throttleTimeMs: number) => void) | undefined;
  private session: QueueSession | undefined;
  private readonly readAhead: QueueMessage[] = [];
  private readonly takers: Array<{ resolve(message: QueueMessage | undefined): void; reject(error: Error): void }> = [];
  private failure: Error | undefined;
  private isStarted = false;
  private isClosing = false;
  private closing: Promise<void> | undefined;
  private reconnectAttempts = 0;
  private reconnectTimer: TimerHandle | undefined;
  /** process()'s running handlers; those that called close() are not waited for by it. */
  private readonly runningHandlers = new Set<HandlerSlot>();
  private readonly handlersInClose = new Set<HandlerSlot>();
  private readonly handlerScope = new AsyncLocalStorage<HandlerSlot>();
  private onHandlerInClose: (() => void) | undefined;
  private joined: QueueJoined__Output | undefined;

  constructor(
    private readonly client: ClientChannel,
    options: QueueConsumerOptions,
  ) {
    this.options = resolveQueueOptions(options);
    this.stub = client.stubs.queue;
    this.logger = options.logger ?? defaultLogger;
    this.onThrottledOption = options.onThrottled;
    if (this.options.signal?.aborted) void this.close();
    else this.options.signal?.addEventListener('abort', () => void this.close().catch(() => undefined), { once: true });
  }

  /** The server's id of this member in its current session (undefined before the first join is answered). */
  get memberId(): string | undefined {
    return this.joined?.memberId;
  }

  /** Messages received and not yet handed out (at most about the in-flight limit: see the class comment). */
  get bufferedCount(): number {
    return this.readAhead.length;
  }

  /** The group's configuration in force, as the last join was answered. */
  get groupConfig(): QueueGroupConfigValues | undefined {
    return fromProtoConfig(this.joined?.config);
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<QueueMessage> {
    const iterator: AsyncIterableIterator<QueueMessage> = {
      [Symbol.asyncIterator]: () => iterator,
      next: async () => {
        const message = await this.take();
        return message ? { value: message, done: false } : { value: undefined, done: true };
      },
      // `break` out of the loop: the member leaves (as close()).
      return: async () => {
        await this.close();
        return { value: undefined, done: true };
      },
    };
    return iterator;
  }

  /**
   * Runs `handler` on every message, `concurrency` at a time: acks it when the handler returns,
   * releases it with the error's text when it throws (the group's backoff applies), rejects it (to the
   * dead-letter topic) when it throws a NonRetriableError; a handler that answered itself is left as
   * it answered. Under at-most-once delivery nothing is answered (a record is done as it is handed
   * out) and a throw loses the record, with a warning. Resolves when the queue is closed or `signal`
   * aborts, after the running handlers finished and their answers' results came; rejects with the
   * stream's error if it fails for good.
   */
  async process(handler: QueueHandler, options: ProcessOptions = {}): Promise<void> {
    const concurrency = options.concurrency ?? 1;
    if (!Number.isSafeInteger(concurrency) || concurrency < 1) throw new InvalidArgumentError(`concurrency must be an integer >= 1, got ${concurrency}`);
    const running = new Set<Promise<void>>();
    try {
      for (;;) {
        while (running.size >= concurrency) await Promise.race(running);
        if (options.signal?.aborted) return;
        const message = await this.take(options.signal);
        if (!message) return;
        const slot: HandlerSlot = {};
        this.runningHandlers.add(slot);
        const task = this.handle(handler, message, slot).finally(() => {
          running.delete(task);
          this.runningHandlers.delete(slot);
          this.handlersInClose.delete(slot);
        });
        slot.task = task;
        running.add(task);
      }
    } finally {
      await Promise.all(running);
    }
  }

  /**
   * Leaves the group: no more messages are handed out (those received and not handed out are
   * released for other members at once); handlers running in process() finish and are answered;
   * every answer given is sent and its result awaited; then the stream ends and the server releases
   * what this member still holds (after the group's backoff). Idempotent. A handler may await it
   * too: it waits for the other handlers (the calling one's message, if it did not answer it before,
   * is left to the server's release).
   */
  close(): Promise<void> {
    const slot = this.handlerScope.getStore();
    if (slot && this.runningHandlers.has(slot)) {
      this.handlersInClose.add(slot);
      this.onHandlerInClose?.();
    }
    this.closing ??= this.closeNow();
    return this.closing;
  }

  /** Until every running handler finished, but those waiting in close() (waiting for them would never end). */
  private async untilHandlersDone(): Promise<void> {
    for (;;) {
      const others = [...this.runningHandlers].filter((slot) => !this.handlersInClose.has(slot)).map((slot) => slot.task);
      if (others.length === 0) return;
      await new Promise<void>((resolve) => {
        this.onHandlerInClose = resolve;
        void Promise.all(others).then(() => resolve());
      });
      this.onHandlerInClose = undefined;
    }
  }

  private async closeNow(): Promise<void> {
    this.isClosing = true;
    this.reconnectTimer?.cancel();
    this.reconnectTimer = undefined;
    for (const taker of this.takers.splice(0)) taker.resolve(undefined);
    await this.untilHandlersDone();
    // Messages received but never handed out go back at once, so other members take them without
    // the retry backoff a leave's release gets.
    for (const message of this.readAhead.splice(0)) releaseUnseen(message);
    const session = this.session;
    if (session && !session.hasEnded) await session.close(this.client.clock, this.options.closeTimeoutMs);
  }

  private async handle(handler: QueueHandler, message: QueueMessage, slot: HandlerSlot): Promise<void> {
    if (this.groupConfig?.delivery === 'at-most-once') return this.handleAtMostOnce(handler, message, slot);
    let answer: Promise<void>;
    try {
      await this.handlerScope.run(slot, () => handler(message));
      answer = message.isAnswered ? Promise.resolve() : message.ack();
    } catch (error) {
      if (message.isAnswered) answer = Promise.resolve();
      else if (error instanceof NonRetriableError) answer = message.reject(reasonOf(error));
      else answer = message.release({ reason: reasonOf(error) });
    }
    try {
      await answer;
    } catch (error) {
      // The record was not ours any more (its lock expired, the session ended): another member gets it.
      this.logger.warn({ topic: message.topic, partition: message.partition, offset: message.offset, error: (error as Error).message }, 'queue answer failed');
    }
  }

  /**
   * Under at-most-once a record is done as it is handed out: there is nothing to answer (the server
   * would refuse an ack, so sending one only cost a round trip and a warning per record), and a
   * throw cannot send it back or to the dead-letter topic: it is lost, and said so.
   */
  private async handleAtMostOnce(handler: QueueHandler, message: QueueMessage, slot: HandlerSlot): Promise<void> {
    try {
      await this.handlerScope.run(slot, () => handler(message));
    } catch (error) {
      this.logger.warn(
        { topic: message.topic, partition: message.partition, offset: message.offset, error: reasonOf(error) },
        'queue handler failed under at-most-once delivery: the record was acknowledged when it was handed out and is lost',
      );
    }
  }

  /** The next message; undefined once closed (or `signal` aborted); rejects with the stream's failure. */
  private take(signal?: AbortSignal): Promise<QueueMessage | undefined> {
    if (this.isClosing || signal?.aborted) return Promise.resolve(undefined);
    this.start();
    const message = this.readAhead.shift();
    if (message) {
      this.updateReading();
      return Promise.resolve(message);
    }
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const taker = {
        resolve: (m: QueueMessage | undefined) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(m);
        },
        reject,
      };
      const onAbort = () => {
        const index = this.takers.indexOf(taker);
        if (index >= 0) this.takers.splice(index, 1);
        resolve(undefined);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.takers.push(taker);
    });
  }

  private start(): void {
    if (this.isStarted) return;
    this.isStarted = true;
    this.openSession();
  }

  private openSession(): void {
    const session = new QueueSession(this.stub, this.options, this.client.clock, this, this.joined !== undefined);
    this.session = session;
    session.open();
  }

  private updateReading(): void {
    this.session?.setReading(this.readAhead.length < this.options.inFlightLimit);
  }

  /** @internal */
  onJoined(session: QueueSession, joined: QueueJoined__Output): void {
    if (session !== this.session) return;
    this.joined = joined;
    this.reconnectAttempts = 0;
  }

  /** @internal */
  onThrottled(throttleTimeMs: number): void {
    this.onThrottledOption?.(throttleTimeMs);
  }

  /** @internal */
  onMessages(session: QueueSession, messages: QueueMessage[]): void {
    if (session !== this.session) return;
    if (this.isClosing) {
      // Delivered while leaving: back at once, unless the stream is already ended (the server then releases them).
      for (const message of messages) releaseUnseen(message);
      return;
    }
    for (const message of messages) {
      const taker = this.takers.shift();
      if (taker) taker.resolve(message);
      else this.readAhead.push(message);
    }
    this.updateReading();
  }

  /** @internal */
  onAnswered(session: QueueSession): void {
    if (session === this.session) this.updateReading();
  }

  /** @internal */
  onEnded(session: QueueSession, error: StrataClientError | undefined): void {
    if (session !== this.session || this.isClosing) return;
    // The server released this session's records: those not handed out yet are not handed out.
    this.readAhead.length = 0;
    // UNAVAILABLE: a restart, a lost connection; other retriable statuses (too many streams for now) too.
    const isTransient = error === undefined || error.grpcStatus === grpcStatus.UNAVAILABLE || error.retriable;
    if (isTransient && this.reconnectAttempts < this.options.maxReconnectAttempts) {
      this.reconnectAttempts++;
      const backoffMs = Math.min(MAX_RECONNECT_BACKOFF_MS, 100 * 2 ** this.reconnectAttempts);
      this.logger.warn({ groupId: this.options.groupId, attempt: this.reconnectAttempts, backoffMs, error: error?.message ?? 'ended by the server' }, 'queue session lost: joining again');
      // A member waiting to rejoin is work in progress: its timer holds the process.
      this.reconnectTimer = this.client.clock.setTimeout(
        () => {
          this.reconnectTimer = undefined;
          if (!this.isClosing) this.openSession();
        },
        backoffMs,
        { keepsProcessAlive: true },
      );
      return;
    }
    this.failure = error ?? new StreamEndedError('the queue session ended (the server ended it) and joining again failed');
    for (const taker of this.takers.splice(0)) taker.reject(this.failure);
  }
}

/** A message this member will not hand out, back at once (1 ms: a 0 would mean the group's backoff). */
function releaseUnseen(message: QueueMessage): void {
  void message.release({ delayMs: 1, reason: 'not handed out before its member closed' }).catch(() => undefined);
}

/** A handler's error as the reason kept with its record: its message, cut to what the server keeps. */
export function reasonOf(error: unknown): string {
  const text = error instanceof Error ? error.message || error.name : String(error);
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= MAX_QUEUE_REASON_BYTES) return text;
  // Cut on a character boundary: a torn multi-byte character would not be valid UTF-8.
  let end = MAX_QUEUE_REASON_BYTES;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end).toString('utf8');
}
