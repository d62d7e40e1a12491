import type * as grpc from '@grpc/grpc-js';
import { status as grpcStatus } from '@grpc/grpc-js';
import { delay } from '../core/clock.js';
import type { SubscribeRequest } from '../generated/strata/v1/SubscribeRequest.js';
import type { SubscribeResponse__Output } from '../generated/strata/v1/SubscribeResponse.js';
import { startPositionToProto, type OffsetSpec } from './admin.js';
import { StrataClientError } from './client-error.js';
import { batchesOf, type ConsumedRecord } from './consumed-record.js';
import { InTurn } from './in-turn.js';
import { FAIR_SLICE_RECORDS } from '../core/limits.js';
import { PartitionLanes, readAheadBytesFor } from './partition-lanes.js';
import { CONSUME_MS_BETWEEN_READS, CONSUME_MS_BETWEEN_YIELDS, yieldToEventLoop } from './yield-to-event-loop.js';
import type { ClientChannel } from './client-channel.js';

export type { ConsumedRecord } from './consumed-record.js';

export interface ConsumeOptions {
  /** Where to start on each partition: 'earliest' replays from the log start. Default 'latest'. */
  from?: OffsetSpec | number | Date;
  /** Default: every partition of the topic. */
  partitions?: number[];
  /** Per-partition start offsets; they win over `from`. */
  startOffsets?: Record<number, number>;
  /** Ends the iteration (without an error) and cancels the stream. */
  signal?: AbortSignal;
  /**
   * Most bytes per server response, which holds one partition's records (at least one batch).
   * Default 1 MiB. The client reads ahead up to 2 responses of this size (at least 1 MiB), and the one read last.
   */
  maxBytes?: number;
  minBytes?: number;
  maxWaitMs?: number;
  /** Resubscribe from the last position after the connection drops. Default true. */
  shouldReconnect?: boolean;
  /** Told where a partition starts when `from` ('latest' or a time) was resolved to an offset. */
  onStartResolved?: (partition: number, offset: number) => void;
  /**
   * Rate quota: a response said the principal is over its consumer_byte_rate; the server holds the
   * subscription's next response back for `throttleTimeMs` (nothing is skipped).
   */
  onThrottled?: (throttleTimeMs: number, partition: number) => void;
}

const MAX_RECONNECT_ATTEMPTS = 10;
const MAX_RECONNECT_BACKOFF_MS = 5_000;

/**
 * Records of one topic as an AsyncIterable, pushed by one Subscribe stream for all its partitions
 * and handed out round robin across partitions, 64 records of one at a time (PartitionLanes), so a
 * partition with a backlog never holds back the others. Per partition, records come in offset order.
 * Backpressure is end to end: the read-ahead is bounded, and once it is full the stream is read only
 * as fast as the loop body runs, so a slow consumer lets HTTP/2 flow control stop the server.
 */
export function consume(client: ClientChannel, topic: string, options: ConsumeOptions): AsyncIterableIterator<ConsumedRecord> {
  return new RecordIterator(client, topic, options);
}

const DONE: IteratorResult<ConsumedRecord> = Object.freeze({ value: undefined, done: true });
const NO_RECORDS: ConsumedRecord[] = [];
/** A slice lasts about this long at most at the loop's pace (see RecordIterator.takeSlice). */
const MAX_SLICE_MS = 1;

/**
 * consume()'s iterator, written by hand rather than as an async generator: `for await` over a
 * generator costs ~290 ns a record in generator resumption alone, over this ~115 ns (measured with
 * 3M records), and a replay hands out a million records a second. So the path of a record is what it
 * was before round robin: a record of the slice in hand goes out with one resolved promise, and
 * nothing else happens per record. Everything else happens once per slice (at most
 * FAIR_SLICE_RECORDS, or a decoded batch): taking the next slice from the lanes, and reading the
 * clock to give the event loop a turn now and then (isTurnDue: so timers fire, and while the lanes
 * wait for the stream, a partition that ran out gets its next response). Waiting, yielding and
 * ending take turns in call order.
 */
class RecordIterator implements AsyncIterableIterator<ConsumedRecord> {
  private records: ConsumedRecord[] = NO_RECORDS;
  private index = 0;
  private end = 0;
  private isDone = false;
  /** Read on the client's monotonic clock, as sliceTakenAtMs: both only ever measure durations. */
  private yieldedAtMs: number;
  /** When the slice in hand was taken, its size, and the most records the next one may have (see takeSlice). */
  private sliceTakenAtMs: number;
  private sliceRecordCount = 0;
  private maxSliceRecords = FAIR_SLICE_RECORDS;
  private readonly lanes: PartitionLanes;
  private readonly signal: AbortSignal | undefined;
  /** Slow steps (waiting for records, yielding, returning) run one after another, in call order. */
  private readonly turns = new InTurn();

  constructor(
    private readonly client: ClientChannel,
    private readonly topic: string,
    private readonly options: ConsumeOptions,
  ) {
    this.lanes = new PartitionLanes(topic, readAheadBytesFor(options.maxBytes));
    this.signal = options.signal;
    this.yieldedAtMs = this.sliceTakenAtMs = client.clock.monotonicMs();
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<ConsumedRecord>> {
    if (this.index < this.end && this.turns.isIdle && !this.signal?.aborted) {
      return Promise.resolve({ value: this.records[this.index++]!, done: false });
    }
    return this.nextOfSlice();
  }

  /** Ends the iteration (a `break` out of the loop calls it): the Subscribe stream is cancelled. */
  return(): Promise<IteratorResult<ConsumedRecord>> {
    return this.turns.run(async () => {
      await this.close();
      return DONE;
    });
  }

  /** The slice in hand is used up: the next one at once if the lanes hold one and no turn of the event loop is due. */
  private nextOfSlice(): Promise<IteratorResult<ConsumedRecord>> {
    if (this.turns.isIdle && !this.isDone && !this.signal?.aborted && !this.isTurnDue() && this.takeSliceNow()) {
      return Promise.resolve({ value: this.records[this.index++]!, done: false });
    }
    return this.turns.run(() => this.nextSlowly());
  }

  private takeSliceNow(): boolean {
    try {
      return this.takeSlice();
    } catch {
      return false; // a decoding failure sticks: nextSlowly meets it again and ends the iteration
    }
  }

  private isTurnDue(): boolean {
    return isTurnDue(this.lanes, this.client.clock.monotonicMs() - this.yieldedAtMs);
  }

  /**
   * Takes the next slice, of at most as many records as the loop handed out in MAX_SLICE_MS at the
   * pace of the last slice, doubling while it keeps up, and without a bound (beyond the lanes') once
   * FAIR_SLICE_RECORDS went by in that time: the clock is read once per slice, so a loop that spends
   * milliseconds on a record must get short slices for its turns of the event loop to come on time.
   * The first slice, of unknown pace, is at most FAIR_SLICE_RECORDS.
   */
  private takeSlice(): boolean {
    const lanes = this.lanes;
    const tickMs = this.client.clock.monotonicMs();
    if (this.sliceRecordCount > 0) {
      const sliceMs = tickMs - this.sliceTakenAtMs;
      if (sliceMs > MAX_SLICE_MS) this.maxSliceRecords = Math.max(1, Math.floor((this.sliceRecordCount * MAX_SLICE_MS) / sliceMs));
      else if (this.maxSliceRecords < FAIR_SLICE_RECORDS) this.maxSliceRecords *= 2;
      else this.maxSliceRecords = Number.POSITIVE_INFINITY;
    }
    if (!lanes.takeSlice(this.maxSliceRecords)) return false;
    this.records = lanes.sliceRecords;
    this.index = lanes.sliceStart;
    this.end = lanes.sliceEnd;
    this.sliceRecordCount = this.end - this.index;
    this.sliceTakenAtMs = tickMs;
    return true;
  }

  private async nextSlowly(): Promise<IteratorResult<ConsumedRecord>> {
    for (;;) {
      if (this.isDone) return DONE;
      // Records already read when the signal fired are not handed out.
      if (this.signal?.aborted) {
        await this.close();
        return DONE;
      }
      if (this.index < this.end) return { value: this.records[this.index++]!, done: false };
      if (!this.lanes.isFilling) this.lanes.fill(subscribeResponses(this.client, this.topic, this.options, this.lanes.signal), this.signal);
      if (this.isTurnDue()) {
        await yieldToEventLoop();
        this.yieldedAtMs = this.client.clock.monotonicMs();
        continue;
      }
      let hasSlice: boolean;
      try {
        hasSlice = this.takeSlice();
      } catch (error) {
        // A batch that does not decode (CRC, framing, offsets) ends the iteration and its stream, as a
        // failed read does: the rest of that response is not skipped silently.
        await this.close();
        throw error;
      }
      if (hasSlice) continue;
      if (this.lanes.isEnded) {
        // The stream ended or failed after everything read before it was handed out.
        const { failure } = this.lanes;
        await this.close();
        if (failure !== undefined) throw failure;
        return DONE;
      }
      await this.lanes.waitForRecords();
    }
  }

  private async close(): Promise<void> {
    if (this.isDone) return;
    this.isDone = true;
    this.records = NO_RECORDS;
    this.index = this.end = 0;
    await this.lanes.close();
  }
}

/** Whether the event loop is due a turn: sooner while the lanes wait for the stream (see CONSUME_MS_BETWEEN_READS). */
function isTurnDue(lanes: PartitionLanes, sinceYieldMs: number): boolean {
  return sinceYieldMs >= (lanes.isWaitingForStream ? CONSUME_MS_BETWEEN_READS : CONSUME_MS_BETWEEN_YIELDS);
}

/**
 * The same records, an array per server response (up to `maxBytes` of one partition, in offset
 * order): one await per response instead of one per record, which is what a fast loop wants (like
 * kafkajs's eachBatch). Fair at the grain of a response: the arrays are taken round robin across the
 * partitions with a response in the read-ahead, so between two arrays of a partition that keeps
 * having data come at most one of each other partition's (lower maxBytes for a finer grain).
 */
export async function* consumeBatches(client: ClientChannel, topic: string, options: ConsumeOptions): AsyncGenerator<ConsumedRecord[]> {
  const lanes = new PartitionLanes(topic, readAheadBytesFor(options.maxBytes));
  lanes.fill(subscribeResponses(client, topic, options, lanes.signal), options.signal);
  let yieldedAtMs = client.clock.monotonicMs();
  try {
    for (;;) {
      // Responses already read when the signal fired are not handed out.
      if (options.signal?.aborted) return;
      if (isTurnDue(lanes, client.clock.monotonicMs() - yieldedAtMs)) {
        await yieldToEventLoop();
        yieldedAtMs = client.clock.monotonicMs();
      }
      const records = lanes.takeResponse();
      if (records) {
        yield records;
        continue;
      }
      if (lanes.isEnded) {
        if (lanes.failure !== undefined) throw lanes.failure;
        return;
      }
      await lanes.waitForRecords();
    }
  } finally {
    await lanes.close();
  }
}

/**
 * The records one decoded batch at a time, of a subscription to one partition (what a group
 * member's fetcher buffers): one await per batch instead of one per record. The next response is read
 * when the last batch was taken; with several partitions they would come in the order responses do.
 */
export async function* consumeRecordBatches(client: ClientChannel, topic: string, options: ConsumeOptions): AsyncGenerator<ConsumedRecord[]> {
  for await (const response of subscribeResponses(client, topic, options)) {
    for (const batch of batchesOf(topic, response)) {
      if (options.signal?.aborted) return;
      yield batch;
    }
  }
}

/**
 * The Subscribe responses, resubscribing after a dropped connection from the offset after the last
 * response the caller took (it asked for the next one): consume()'s read-ahead takes a response when
 * it holds it, and still hands it out after a reconnect, so each partition goes on from the record
 * after the last it will hand out. `signal` ends it (default: the options').
 */
async function* subscribeResponses(client: ClientChannel, topic: string, options: ConsumeOptions, signal = options.signal): AsyncGenerator<SubscribeResponse__Output> {
  const nextOffsets = new Map<number, number>(Object.entries(options.startOffsets ?? {}).map(([p, o]) => [Number(p), o]));
  const from = options.from instanceof Date ? { timestampMs: options.from.getTime() } : (options.from ?? 'latest');
  // 'latest' and a timestamp mean "as of now": resolved once, so that a resubscription after a
  // dropped connection starts every partition where this one did, not at a later 'latest'.
  let isStartResolved = from === 'earliest' || typeof from === 'number';
  let failures = 0;
  for (;;) {
    if (signal?.aborted) return;
    let call: grpc.ClientReadableStream<SubscribeResponse__Output> | undefined;
    const onAbort = () => call?.cancel();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      if (!isStartResolved) {
        for (const { partition, offset } of await client.admin.listOffsets(topic, from as OffsetSpec, options.partitions ?? [])) {
          if (nextOffsets.has(partition)) continue;
          nextOffsets.set(partition, offset);
          options.onStartResolved?.(partition, offset);
        }
        isStartResolved = true;
        if (signal?.aborted) return;
      }
      const request: SubscribeRequest = {
        topic,
        partitions: options.partitions ?? [],
        start: startPositionToProto(from),
        startOffsets: Object.fromEntries(nextOffsets),
        maxBytes: options.maxBytes ?? 0,
        minBytes: options.minBytes ?? 0,
        maxWaitMs: options.maxWaitMs ?? 0,
      };
      call = client.stubs.consume.subscribe(request) as grpc.ClientReadableStream<SubscribeResponse__Output>;
      for await (const response of call as AsyncIterable<SubscribeResponse__Output>) {
        // Responses already buffered when the signal fired are not handed out.
        if (signal?.aborted) return;
        failures = 0;
        if (response.throttleTimeMs > 0) options.onThrottled?.(response.throttleTimeMs, response.partition);
        yield response;
        nextOffsets.set(response.partition, response.nextOffset);
      }
      return;
    } catch (error) {
      if (signal?.aborted) return;
      const clientError = StrataClientError.fromServiceError(error);
      const isTransient = clientError.grpcStatus === grpcStatus.UNAVAILABLE; // connection lost or server restarting
      if (!isTransient || options.shouldReconnect === false || ++failures > MAX_RECONNECT_ATTEMPTS) throw clientError;
      await delay(client.clock, Math.min(MAX_RECONNECT_BACKOFF_MS, 100 * 2 ** failures), { signal, keepsProcessAlive: true });
    } finally {
      signal?.removeEventListener('abort', onAbort);
      call?.cancel();
    }
  }
}
