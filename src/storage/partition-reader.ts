import { Buffer } from 'node:buffer';
import { DataLossError, InvalidArgumentError, LogClosedError, OffsetOutOfRangeError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { DamagedBatchError, type Segment } from './segment.js';

export interface ReadResult {
  /** Whole raw batches; the first may start before the offset asked for (the reader skips). */
  batches: Buffer;
  /** Where the next read should start. */
  nextOffset: number;
  logStartOffset: number;
  /** The end of what readers may see (exclusive). */
  highWatermark: number;
}

/** What the read path needs of its partition log. */
export interface ReaderLogView {
  readonly topic: string;
  readonly partition: number;
  /** The log's segments, oldest first, the last active (the live array: read, never changed here). */
  readonly segments: readonly Segment[];
  readonly logStartOffset: number;
  readonly logEndOffset: number;
  readonly highWatermark: number;
  readonly isClosed: boolean;
  /** Where readers of `segment` stop now (live-config.ts: its durable or its written end). */
  endPosition(segment: Segment): number;
  describe(): string;
}

/**
 * The read path of one partition: reads by offset, searches by time, and where a read of the tail
 * begins. Each segment is acquired for the length of a read, so retention or close cannot pull its
 * file away mid-read. PartitionLog owns one and delegates to it; PartitionLog's methods of the same
 * names say what each does for its callers.
 */
export class PartitionReader {
  constructor(
    private readonly log: ReaderLogView,
    private readonly logger: Logger,
  ) {}

  /** See PartitionLog.tailStartOffset. */
  tailStartOffset(tailBytes: number): number {
    const segments = this.log.segments;
    let remainingBytes = tailBytes;
    for (let i = segments.length - 1; i >= 0; i--) {
      const segment = segments[i]!;
      // Never below the log start: a read there is out of range.
      if (segment.sizeBytes >= remainingBytes) return Math.max(segment.batchOffsetAtOrBefore(segment.sizeBytes - remainingBytes), this.log.logStartOffset);
      remainingBytes -= segment.sizeBytes;
    }
    return this.log.logStartOffset;
  }

  /** See PartitionLog.read. */
  async read(offset: number, maxBytes: number): Promise<ReadResult> {
    const log = this.log;
    if (log.isClosed) throw new LogClosedError(`partition ${log.describe()} is closed`);
    if (!Number.isSafeInteger(maxBytes) || maxBytes <= 0) throw new InvalidArgumentError(`maxBytes must be a positive integer, got ${maxBytes}`);
    const logStartOffset = log.logStartOffset;
    const highWatermark = log.highWatermark;
    if (!Number.isSafeInteger(offset) || offset < logStartOffset || offset > log.logEndOffset) {
      throw new OffsetOutOfRangeError(offset, logStartOffset, log.logEndOffset);
    }
    const empty = { batches: Buffer.alloc(0), nextOffset: offset, logStartOffset, highWatermark };
    if (offset >= highWatermark) return empty;
    for (let i = this.floorSegmentIndex(offset); i < log.segments.length; i++) {
      const segment = log.segments[i]!;
      const endPosition = log.endPosition(segment);
      if (!segment.tryAcquire()) {
        // Closed under us: the log closed, or retention deleted the segment (the offset is gone).
        if (log.isClosed) throw new LogClosedError(`partition ${log.describe()} is closed`);
        throw new OffsetOutOfRangeError(offset, log.logStartOffset, log.logEndOffset);
      }
      try {
        const result = await segment.read(offset, maxBytes, endPosition);
        if (result) return { ...result, logStartOffset, highWatermark };
      } catch (error) {
        throw this.asDataLoss(error);
      } finally {
        segment.release();
      }
    }
    return empty;
  }

  /** See PartitionLog.offsetForTimestamp. */
  async offsetForTimestamp(timestampMs: number): Promise<number | undefined> {
    const logStartOffset = this.log.logStartOffset;
    for (const segment of [...this.log.segments]) {
      const endPosition = this.log.endPosition(segment);
      if (segment.maxTimestampMs < timestampMs || segment.nextOffset <= logStartOffset) continue;
      // Deleted by retention or closed while this search ran: nothing to find there any more.
      if (!segment.tryAcquire()) continue;
      try {
        const offset = await segment.offsetForTimestamp(timestampMs, endPosition, logStartOffset);
        if (offset !== undefined && offset < this.log.highWatermark) return offset;
      } catch (error) {
        throw this.asDataLoss(error);
      } finally {
        segment.release();
      }
    }
    return undefined;
  }

  /** A damaged stored batch a segment found, as the partition's DataLossError (logged); other errors as they are. */
  private asDataLoss(error: unknown): unknown {
    if (!(error instanceof DamagedBatchError)) return error;
    const dataLoss = new DataLossError(this.log.topic, this.log.partition, error.baseOffset, error.nextOffset, error.path, error.position, error.reason);
    this.logger.error({ err: dataLoss }, 'DATA LOSS: a stored batch is damaged; reads of it are refused');
    return dataLoss;
  }

  private floorSegmentIndex(offset: number): number {
    const segments = this.log.segments;
    let low = 0;
    let high = segments.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >>> 1;
      if (segments[middle]!.baseOffset <= offset) low = middle;
      else high = middle - 1;
    }
    return low;
  }
}
