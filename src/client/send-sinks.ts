import type { RecordMetadata, RecordSink } from './record-sink.js';

/**
 * send()'s promise without a closure per call: a send waiting for its acknowledgement keeps its
 * promise, resolvers and sink alive, and with thousands un-awaited the collector's work is most of
 * the producer's (a closure capturing the send's arguments was another ~100 bytes per record). The
 * executor runs synchronously inside `new Promise`, so these hold the new promise's resolvers.
 */
let capturedResolve: ((metadata: RecordMetadata) => void) | undefined;
let capturedReject: ((error: Error) => void) | undefined;
function captureResolvers(resolve: (metadata: RecordMetadata) => void, reject: (error: Error) => void): void {
  capturedResolve = resolve;
  capturedReject = reject;
}

/** send()'s sink: one record, and the promise it settles. */
export class SingleSend implements RecordSink {
  readonly promise: Promise<RecordMetadata>;
  private readonly resolve: (metadata: RecordMetadata) => void;
  private readonly reject: (error: Error) => void;

  constructor() {
    this.promise = new Promise<RecordMetadata>(captureResolvers);
    this.resolve = capturedResolve!;
    this.reject = capturedReject!;
  }

  onAcknowledged(_index: number, metadata: RecordMetadata): void {
    this.resolve(metadata);
  }

  onFailed(error: Error): void {
    this.reject(error);
  }
}

/** sendBatch()'s sink: settles its one promise when the last record is acknowledged, or at the first failure. */
export class ManySend implements RecordSink {
  private readonly results: RecordMetadata[];
  private remaining: number;
  private isSettled = false;

  constructor(
    count: number,
    private readonly resolve: (metadata: RecordMetadata[]) => void,
    private readonly reject: (error: Error) => void,
  ) {
    this.results = new Array<RecordMetadata>(count);
    this.remaining = count;
  }

  onAcknowledged(index: number, metadata: RecordMetadata): void {
    this.results[index] = metadata;
    if (--this.remaining === 0 && !this.isSettled) {
      this.isSettled = true;
      this.resolve(this.results);
    }
  }

  onFailed(error: Error): void {
    if (this.isSettled) return;
    this.isSettled = true;
    this.reject(error);
  }
}

/**
 * Who waits for each record of one batch, kept as runs: consecutive records of one call with
 * consecutive indexes. A sendBatch() call's records in a batch are one run (two arrays of a sink and
 * an index per record were ~48 bytes of garbage per record); each send() is a run of one.
 */
export class BatchSinks {
  private readonly sinks: RecordSink[] = [];
  /** Per run: the index within its call of the run's first record, and how many records it has. */
  private readonly firstIndexes: number[] = [];
  private readonly counts: number[] = [];

  /** The batch's next record belongs to `sink`, as record number `index` of its call. */
  add(sink: RecordSink, index: number): void {
    const last = this.sinks.length - 1;
    if (last >= 0 && this.sinks[last] === sink && this.firstIndexes[last]! + this.counts[last]! === index) {
      this.counts[last]!++;
      return;
    }
    this.sinks.push(sink);
    this.firstIndexes.push(index);
    this.counts.push(1);
  }

  /**
   * Every record is in the log from `baseOffset` on, in order (-1: offsets unknown), except those
   * `duplicates` names (by position in the request, counted from `firstIndexInRequest` for this
   * batch's first record): they were not written, and the map gives their originals' offsets.
   * Returns the offset after this batch's written records.
   */
  acknowledge(topic: string, partition: number, baseOffset: number, durability: RecordMetadata['durability'], duplicates?: ReadonlyMap<number, number>, firstIndexInRequest = 0): number {
    let offset = baseOffset;
    let indexInRequest = firstIndexInRequest;
    for (let run = 0; run < this.sinks.length; run++) {
      const sink = this.sinks[run]!;
      const first = this.firstIndexes[run]!;
      const end = first + this.counts[run]!;
      for (let index = first; index < end; index++) {
        const originalOffset = duplicates?.get(indexInRequest++);
        if (originalOffset !== undefined) {
          sink.onAcknowledged(index, { topic, partition, offset: originalOffset, durability, duplicate: true });
          continue;
        }
        sink.onAcknowledged(index, { topic, partition, offset: baseOffset < 0 ? -1 : offset, durability });
        offset++;
      }
    }
    return offset;
  }

  /** Every call with a record in the batch fails (a call may hear it more than once, from several batches). */
  fail(error: Error): void {
    for (const sink of this.sinks) sink.onFailed(error);
  }
}
