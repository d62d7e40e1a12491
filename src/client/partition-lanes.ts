import { DEFAULT_FETCH_MAX_BYTES, FAIR_SLICE_RECORDS } from '../core/limits.js';
import type { SubscribeResponse__Output } from '../generated/strata/v1/SubscribeResponse.js';
import { batchesOf, type ConsumedRecord } from './consumed-record.js';

/**
 * The read-ahead holds this many responses of the subscription's maxBytes (and the one read last)...
 * Fairness needs a response of each busy partition in hand, but what is held costs: a response held
 * over two young-generation collections is promoted with its buffer, which only a full collection
 * frees (a replay of 8 partitions read through in-memory responses took 40 % more CPU a record with
 * 4 held than with none; 2 were within the noise once grpc-js's own buffer of 16 responses is there).
 */
export const READ_AHEAD_RESPONSES = 2;
/** ...or this many bytes of responses, whichever is more (small responses: enough of them to hold every busy partition's next one). */
export const MIN_READ_AHEAD_BYTES = 1024 * 1024;

/** The bytes of responses the read-ahead fills up to (it may pass it by the one response it reads last). */
export function readAheadBytesFor(maxBytes: number | undefined): number {
  return Math.max(MIN_READ_AHEAD_BYTES, READ_AHEAD_RESPONSES * (maxBytes || DEFAULT_FETCH_MAX_BYTES));
}

/** One partition's responses waiting to be handed out, and the one being decoded. */
interface Lane {
  readonly partition: number;
  /** Read, not yet started, in offset order. */
  readonly waiting: SubscribeResponse__Output[];
  /** The batches of the response being handed out (undefined: none started). */
  batches: Iterator<ConsumedRecord[]> | undefined;
  /** Its size, released when its last batch was decoded. */
  decodingBytes: number;
  /** The decoded batch being handed out, from `index`. */
  records: ConsumedRecord[];
  index: number;
  isInRing: boolean;
}

const NO_RECORDS: ConsumedRecord[] = [];

/**
 * The bounded read-ahead of one Subscribe stream (of several partitions) and the order its records
 * are handed out in. `fill` reads responses while the responses held total less than `readAheadBytes`
 * (so at most that plus the one read last), each into its partition's lane; the loop takes records
 * round robin across the lanes that hold some, FAIR_SLICE_RECORDS of one lane per turn (takeSlice),
 * or for consumeBatches one response per turn (takeResponse; a reader uses one or the other). So a
 * partition with a backlog gets a turn like any other instead of its responses being handed out
 * whole, one after another, while the other partitions' responses wait behind them, and a
 * partition's records still go out in offset order.
 *
 * Cost: this works per slice and per batch, never per record: a slice is a range of a decoded batch
 * (`sliceRecords[sliceStart, sliceEnd)`) that the reader hands out from its own tight loop. While one
 * lane alone holds records, a slice is the rest of its batch (there is nobody to be fair to; a lane
 * that joins gets its turn at the next slice).
 *
 * A response is decoded a batch at a time when its turn comes (not when it is read): the read-ahead
 * holds responses as they came, and at most one decoded batch per lane. When the read-ahead is full,
 * `fill` stops reading the stream: grpc-js then stops reading its HTTP/2 stream and flow control
 * stops the server, so a slow loop slows the server as before.
 *
 * Decoding failures (DATA_LOSS) stick: every later take throws the same error. The stream's own end
 * or failure comes after the records read before it (`isEnded`, `failure`). One reader and one
 * filler; the reader's calls are synchronous but for waitForRecords.
 */
export class PartitionLanes {
  /** Where the loop's next slice comes from: `sliceRecords[sliceStart, sliceEnd)`. */
  sliceRecords: ConsumedRecord[] = NO_RECORDS;
  sliceStart = 0;
  sliceEnd = 0;
  /** The stream ended (a failure, a cancel, the end): nothing more will be read. */
  isEnded = false;
  /** Why the stream ended, if it failed: the loop is told once the records before it are handed out. */
  failure: unknown;

  private readonly lanes = new Map<number, Lane>();
  /** Lanes with records or responses waiting, in turn order; `cursor` is the lane whose turn it is. */
  private ring: Lane[] = [];
  private cursor = 0;
  private takenInTurn = 0;
  private heldBytes = 0;
  private decodeFailure: unknown;
  private isClosed = false;
  private wakeReader: (() => void) | undefined;
  private wakeFiller: (() => void) | undefined;
  private filling: Promise<void> | undefined;
  private isReadingStream = false;
  private readonly controller = new AbortController();

  constructor(
    private readonly topic: string,
    private readonly readAheadBytes: number,
  ) {}

  /** Aborted when the lanes close: the stream that fills them is cancelled. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get isFilling(): boolean {
    return this.filling !== undefined;
  }

  /**
   * The filler has room and waits for the stream's next response: it comes with a turn of the event
   * loop (I/O), not before. (With the read-ahead full, a turn would bring nothing in.)
   */
  get isWaitingForStream(): boolean {
    return this.isReadingStream;
  }

  /** Bytes of responses read and not yet decoded to their end (or taken whole). */
  get bytesHeld(): number {
    return this.heldBytes;
  }

  /**
   * Starts reading `responses` (a stream that ends when `signal` aborts) into the lanes, once; an
   * abort of `outerSignal` (the caller's) aborts it too.
   */
  fill(responses: AsyncGenerator<SubscribeResponse__Output>, outerSignal?: AbortSignal): void {
    if (this.filling) return;
    const onAbort = () => this.controller.abort();
    outerSignal?.addEventListener('abort', onAbort, { once: true });
    if (outerSignal?.aborted) onAbort();
    this.filling = this.read(responses).finally(() => outerSignal?.removeEventListener('abort', onAbort));
  }

  /**
   * The next slice of records in turn, of at most `maxRecords` (sets sliceRecords, sliceStart,
   * sliceEnd), or false if no lane holds records now. Throws DATA_LOSS for a response that does not decode.
   */
  takeSlice(maxRecords = Number.POSITIVE_INFINITY): boolean {
    if (this.decodeFailure !== undefined) throw this.decodeFailure;
    const ring = this.ring;
    while (ring.length > 0) {
      if (this.takenInTurn >= FAIR_SLICE_RECORDS && ring.length > 1) this.nextTurn();
      const lane = ring[this.cursor]!;
      if (lane.index >= lane.records.length && !this.decodeNextBatch(lane)) {
        this.leaveRing(lane);
        continue;
      }
      const available = lane.records.length - lane.index;
      const count = Math.min(maxRecords, ring.length === 1 ? available : Math.min(FAIR_SLICE_RECORDS - this.takenInTurn, available));
      this.sliceRecords = lane.records;
      this.sliceStart = lane.index;
      this.sliceEnd = lane.index + count;
      lane.index += count;
      this.takenInTurn += count;
      return true;
    }
    return false;
  }

  /** The records of the next response in turn (one partition's, in offset order), or undefined if none is held now. */
  takeResponse(): ConsumedRecord[] | undefined {
    if (this.decodeFailure !== undefined) throw this.decodeFailure;
    const ring = this.ring;
    while (ring.length > 0) {
      const lane = ring[this.cursor]!;
      const response = lane.waiting.shift();
      if (response === undefined) {
        this.leaveRing(lane);
        continue;
      }
      const records: ConsumedRecord[] = [];
      try {
        for (const batch of batchesOf(this.topic, response)) for (const record of batch) records.push(record);
      } catch (error) {
        this.decodeFailure = error;
        throw error;
      } finally {
        this.release(response.records.length);
      }
      if (lane.waiting.length === 0) this.leaveRing(lane);
      else this.nextTurn();
      if (records.length > 0) return records;
    }
    return undefined;
  }

  /** Resolves once a lane holds something, or the stream ended. */
  waitForRecords(): Promise<void> {
    if (this.ring.length > 0 || this.isEnded) return Promise.resolve();
    return new Promise((resolve) => (this.wakeReader = resolve));
  }

  /** Stops reading (the stream is cancelled) and drops what is held; resolves once the stream is closed. */
  async close(): Promise<void> {
    this.isClosed = true;
    this.controller.abort();
    this.ring = [];
    this.lanes.clear();
    this.sliceRecords = NO_RECORDS;
    this.sliceStart = this.sliceEnd = 0;
    this.wake();
    await this.filling;
  }

  private async read(responses: AsyncGenerator<SubscribeResponse__Output>): Promise<void> {
    try {
      while (!this.isClosed) {
        if (this.heldBytes >= this.readAheadBytes) {
          await new Promise<void>((resolve) => (this.wakeFiller = resolve));
          continue;
        }
        this.isReadingStream = true;
        const result = await responses.next();
        this.isReadingStream = false;
        if (result.done || this.isClosed) break;
        this.add(result.value);
      }
    } catch (error) {
      this.failure = error;
    } finally {
      this.isReadingStream = false;
      this.isEnded = true;
      this.wake();
      // Closed while waiting for room: the generator is suspended, and returning it cancels the call.
      await responses.return(undefined).catch(() => undefined);
    }
  }

  private add(response: SubscribeResponse__Output): void {
    let lane = this.lanes.get(response.partition);
    if (!lane) {
      lane = { partition: response.partition, waiting: [], batches: undefined, decodingBytes: 0, records: NO_RECORDS, index: 0, isInRing: false };
      this.lanes.set(response.partition, lane);
    }
    lane.waiting.push(response);
    this.heldBytes += response.records.length;
    if (!lane.isInRing) {
      // A lane joining takes its turn after the current one's: last in the round.
      lane.isInRing = true;
      if (this.ring.length === 0) this.ring.push(lane);
      else this.ring.splice(this.cursor++, 0, lane);
    }
    const wake = this.wakeReader;
    this.wakeReader = undefined;
    wake?.();
  }

  /** Decodes the lane's next batch into `records` (of the response being handed out, else of the next one); false when there is none. */
  private decodeNextBatch(lane: Lane): boolean {
    for (;;) {
      if (lane.batches === undefined) {
        const response = lane.waiting.shift();
        if (response === undefined) return false;
        lane.batches = batchesOf(this.topic, response);
        lane.decodingBytes = response.records.length;
      }
      let next: IteratorResult<ConsumedRecord[]>;
      try {
        next = lane.batches.next();
      } catch (error) {
        this.decodeFailure = error;
        throw error;
      }
      if (!next.done) {
        lane.records = next.value;
        lane.index = 0;
        return true;
      }
      lane.batches = undefined;
      this.release(lane.decodingBytes);
      lane.decodingBytes = 0;
    }
  }

  private nextTurn(): void {
    this.cursor = (this.cursor + 1) % this.ring.length;
    this.takenInTurn = 0;
  }

  /** The lane in turn has nothing left: out of the round until its partition's next response. */
  private leaveRing(lane: Lane): void {
    this.ring.splice(this.cursor, 1);
    lane.isInRing = false;
    lane.records = NO_RECORDS;
    lane.index = 0;
    // The lane after it moved into its place and starts a turn of its own.
    if (this.cursor >= this.ring.length) this.cursor = 0;
    this.takenInTurn = 0;
  }

  private release(bytes: number): void {
    this.heldBytes -= bytes;
    if (this.heldBytes < this.readAheadBytes) {
      const wake = this.wakeFiller;
      this.wakeFiller = undefined;
      wake?.();
    }
  }

  private wake(): void {
    const reader = this.wakeReader;
    const filler = this.wakeFiller;
    this.wakeReader = this.wakeFiller = undefined;
    reader?.();
    filler?.();
  }
}
