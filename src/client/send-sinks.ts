import type { RecordMetadata, RecordSink } from './produce-pipeline.js';

/** send()'s sink: one record, one promise. */
export class SingleSend implements RecordSink {
  constructor(
    private readonly resolve: (metadata: RecordMetadata) => void,
    private readonly reject: (error: Error) => void,
  ) {}

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
