import { OffsetIndex } from './offset-index.js';
import { TimeIndex } from './time-index.js';

/**
 * Decides, batch by batch, when a segment's sparse indexes get an entry, and tracks the largest
 * timestamp. The same code runs on append and on a recovery scan, so a rebuilt index is identical to
 * the one appends would have built.
 */
export class SegmentIndexer {
  readonly offsetIndex: OffsetIndex;
  readonly timeIndex: TimeIndex;
  private bytesSinceLastIndexEntry = 0;
  /** -1 while the segment is empty. */
  maxTimestampMs = -1;
  /** The last offset of the batch that set maxTimestampMs. */
  offsetOfMaxTimestamp = -1;
  /** The largest timestamp of the first batch, which starts the segment.ms clock (as in Kafka). */
  firstBatchMaxTimestampMs: number | undefined;

  constructor(
    readonly baseOffset: number,
    private readonly indexIntervalBytes: number,
    offsetIndex?: OffsetIndex,
    timeIndex?: TimeIndex,
  ) {
    this.offsetIndex = offsetIndex ?? new OffsetIndex(baseOffset);
    this.timeIndex = timeIndex ?? new TimeIndex(baseOffset);
  }

  /** Call for every batch in log order, before it counts towards the next entry. */
  onBatch(position: number, baseOffset: number, lastOffset: number, maxTimestampMs: number, sizeBytes: number): void {
    if (this.firstBatchMaxTimestampMs === undefined) this.firstBatchMaxTimestampMs = maxTimestampMs;
    if (maxTimestampMs > this.maxTimestampMs) {
      this.maxTimestampMs = maxTimestampMs;
      this.offsetOfMaxTimestamp = lastOffset;
    }
    if (this.bytesSinceLastIndexEntry >= this.indexIntervalBytes && position > 0) {
      const last = this.offsetIndex.lastEntry();
      if (!last || last.position < position) {
        this.offsetIndex.append(baseOffset, position);
        // The batch being added counts: its records are <= its last offset, and the entry only claims
        // that nothing up to offsetOfMaxTimestamp is newer than maxTimestampMs.
        this.timeIndex.maybeAppend(this.maxTimestampMs, this.offsetOfMaxTimestamp);
      }
      this.bytesSinceLastIndexEntry = 0;
    }
    this.bytesSinceLastIndexEntry += sizeBytes;
  }

  /** Kafka adds the final largest timestamp when a segment closes, so time lookups see all of it. */
  seal(): void {
    if (this.maxTimestampMs >= 0) this.timeIndex.maybeAppend(this.maxTimestampMs, this.offsetOfMaxTimestamp);
  }

  /**
   * Restores the counters of a segment whose indexes were loaded from disk, from the batches after
   * the last offset index entry (so the next entry lands where appends would have put it).
   */
  resumeAfterLoad(bytesSinceLastIndexEntry: number, maxTimestampMs: number, offsetOfMaxTimestamp: number, firstBatchMaxTimestampMs: number | undefined): void {
    this.bytesSinceLastIndexEntry = bytesSinceLastIndexEntry;
    this.maxTimestampMs = maxTimestampMs;
    this.offsetOfMaxTimestamp = offsetOfMaxTimestamp;
    this.firstBatchMaxTimestampMs = firstBatchMaxTimestampMs;
  }
}
