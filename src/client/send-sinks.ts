import type { RecordMetadata, RecordSink } from './produce-pipeline.js';

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
