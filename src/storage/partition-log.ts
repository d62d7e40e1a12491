import { Buffer } from 'node:buffer';
import type { Clock } from '../core/clock.js';
import {
  BatchTooLargeError,
  DataLossError,
  InvalidArgumentError,
  LogClosedError,
  OffsetOutOfRangeError,
  ShuttingDownError,
} from '../core/errors.js';
import { MAX_GROUP_COMMIT_BYTES } from '../core/limits.js';
import type { Logger } from '../core/logger.js';
import { validateBatches, type BatchHeader } from '../format/record-batch.js';
import type { FileSystemPort } from './file-system.js';
import { openSegments } from './partition-recovery.js';
import { writeRecoveryPoint } from './recovery-point-file.js';
import { countSegmentsToDelete } from './retention.js';
import { GroupCommit } from './group-commit.js';
import { IntervalFlusher } from './interval-flusher.js';
import { PartitionFlushTimer } from './partition-flush-timer.js';
import type { StorageObserver } from './storage-observer.js';
import { DamagedBatchError, type Segment } from './segment.js';
import type { TopicConfig } from './topic-config.js';
import type { AckLevel, AppendResult } from './append-result.js';
import { describeIoError, type WriteState } from './write-state.js';

export type { AckLevel, AppendResult };

export interface ReadResult {
  /** Whole raw batches; the first may start before the offset asked for (the reader skips). */
  batches: Buffer;
  /** Where the next read should start. */
  nextOffset: number;
  logStartOffset: number;
  /** The end of what readers may see (exclusive). */
  highWatermark: number;
}

export interface AppendOptions {
  /** Default: `durable` under `flush: always`, `written` otherwise. */
  ackLevel?: AckLevel;
  /**
   * Runs after validation, on the caller's turn and in append order, before the append is queued:
   * may throw to refuse it (nothing is written), or return a result to answer without writing (a
   * retried batch already in the log). The broker's producer sequence check lives here.
   */
  admit?: (headers: readonly BatchHeader[]) => AppendResult | undefined;
}

export interface PartitionLogOptions {
  fs: FileSystemPort;
  directory: string;
  topic: string;
  partition: number;
  config: TopicConfig;
  clock: Clock;
  logger: Logger;
  isCleanShutdown: boolean;
  /** Where the `flush.ms` fsyncs wait their turn; one per LogManager (a log of its own if absent). */
  intervalFlusher?: IntervalFlusher;
  /** Told how long each append took to be acknowledged (the server's metrics). */
  observer?: StorageObserver;
}

/**
 * One partition: an ordered list of segments, the last one active.
 *
 * Appends are validated on the caller's turn (a bad batch changes nothing), then handed to the
 * partition's GroupCommit (group-commit.ts), whose writer assigns offsets and writes while its syncer
 * fsyncs: appends written during one fsync share the next.
 *
 * Visibility: readers see offsets below the high watermark: durable offsets under `flush: always`
 * (a consumer never sees a record that a crash could take back), written offsets otherwise.
 * After a write or fsync error the partition takes no more writes (StorageFailedError): retrying an
 * fsync can succeed after the kernel dropped the data, so only a restart and recovery tell the truth.
 */
export class PartitionLog {
  private readonly segments: Segment[];
  private readonly config: TopicConfig;
  private readonly groupCommit: GroupCommit;
  private isClosing = false;
  private closed: Promise<void> | undefined;
  private readonly flushTimer: PartitionFlushTimer;
  private readonly highWatermarkListeners = new Set<(highWatermark: number) => void>();
  private lastNotifiedHighWatermark: number;

  private constructor(
    private readonly options: PartitionLogOptions,
    segments: Segment[],
  ) {
    this.segments = segments;
    this.config = options.config;
    const log = this;
    this.groupCommit = new GroupCommit(
      {
        segments,
        fs: options.fs,
        directory: options.directory,
        clock: options.clock,
        logger: options.logger,
        config: () => log.config,
        describe: () => log.describe(),
        onProgress: () => log.notifyHighWatermark(),
        observer: options.observer,
      },
      this.active.nextOffset,
    );
    this.lastNotifiedHighWatermark = this.highWatermark;
    this.flushTimer = new PartitionFlushTimer({
      clock: options.clock,
      logger: options.logger,
      config: this.config,
      intervalFlusher: options.intervalFlusher ?? new IntervalFlusher(),
      describe: () => log.describe(),
      isClosing: () => log.isClosing,
      hasUnsyncedWrites: () => log.active.durableSizeBytes < log.active.sizeBytes,
      syncWritten: () => log.groupCommit.syncWritten(),
    });
    this.flushTimer.schedule();
  }

  /** Opens (and after an unclean shutdown, recovers) a partition; throws DataLossError on mid-log damage. */
  static async open(options: PartitionLogOptions): Promise<PartitionLog> {
    const skipped: string[] = [];
    const segments = await openSegments({
      fs: options.fs,
      directory: options.directory,
      topic: options.topic,
      partition: options.partition,
      indexIntervalBytes: options.config.indexIntervalBytes,
      isCleanShutdown: options.isCleanShutdown,
      nowMs: options.clock.nowMs(),
      logger: options.logger,
      onOutOfSpace: (what, error) => {
        const reason = `could not write ${what} at startup: ${describeIoError(error)}`;
        skipped.push(reason);
        options.logger.warn({ topic: options.topic, partition: options.partition, reason }, 'disk full at startup: partition opened read-only');
      },
    });
    const log = new PartitionLog(options, segments);
    if (skipped.length > 0) log.groupCommit.startReadOnly(skipped.join('; '));
    return log;
  }

  get topic(): string {
    return this.options.topic;
  }

  get partition(): number {
    return this.options.partition;
  }

  /** First readable offset (inclusive). */
  get logStartOffset(): number {
    return this.segments[0]!.baseOffset;
  }

  /** One past the last offset written to the file (exclusive). */
  get logEndOffset(): number {
    return this.active.nextOffset;
  }

  /** One past the last offset readers may see (exclusive); see the class comment. */
  get highWatermark(): number {
    return this.config.flushPolicy === 'always' ? this.active.durableNextOffset : this.active.nextOffset;
  }

  get sizeBytes(): number {
    let total = 0;
    for (const segment of this.segments) total += segment.sizeBytes;
    return total;
  }

  /**
   * Where a read of the log's last `tailBytes` begins: the base offset of a batch that starts at least
   * `tailBytes` before the end of the log (up to one index interval earlier), or the log start.
   */
  tailStartOffset(tailBytes: number): number {
    let remainingBytes = tailBytes;
    for (let i = this.segments.length - 1; i >= 0; i--) {
      const segment = this.segments[i]!;
      if (segment.sizeBytes >= remainingBytes) return segment.batchOffsetAtOrBefore(segment.sizeBytes - remainingBytes);
      remainingBytes -= segment.sizeBytes;
    }
    return this.logStartOffset;
  }

  get segmentCount(): number {
    return this.segments.length;
  }

  get isClosed(): boolean {
    return this.closed !== undefined;
  }

  /** Failed for good (an fsync or write error): no writes until a restart. Not when only read-only for lack of space. */
  get isFailed(): boolean {
    return this.groupCommit.failure !== undefined;
  }

  /** Online, read-only for lack of space, or failed until a restart; with the reason and since when. */
  get writeState(): WriteState {
    return this.groupCommit.writeState;
  }

  /**
   * Appends one or more concatenated batches, all or nothing. Validation (framing, CRC-32C, counts,
   * size limit) happens before anything is queued, so a bad batch changes nothing. `ackLevel`
   * defaults to `durable` under `flush: always` and to `written` otherwise. Takes ownership of `data`:
   * base offsets are patched in place.
   */
  append(data: Buffer, options: AppendOptions = {}): Promise<AppendResult> {
    try {
      if (this.groupCommit.failure) throw this.groupCommit.failure;
      if (this.isClosing) throw new ShuttingDownError(`partition ${this.describe()} is closing`);
      if (data.length > MAX_GROUP_COMMIT_BYTES) throw new BatchTooLargeError(data.length, MAX_GROUP_COMMIT_BYTES);
      const headers = validateBatches(data, { maxBatchBytes: this.config.maxBatchBytes });
      this.groupCommit.checkRoom(data.length);
      // Last, after every check that can refuse the append: what admit records must not be undone.
      const admitted = options.admit?.(headers);
      if (admitted) return Promise.resolve(admitted);
      const ackLevel = options.ackLevel ?? (this.config.flushPolicy === 'always' ? 'durable' : 'written');
      return this.groupCommit.enqueue(data, headers, ackLevel);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Whole batches from `offset` on, up to `maxBytes` (at least one batch). The valid range for
   * `offset` is [logStartOffset, logEndOffset]; at or past the high watermark the result is empty.
   */
  async read(offset: number, maxBytes: number): Promise<ReadResult> {
    if (this.closed) throw new LogClosedError(`partition ${this.describe()} is closed`);
    if (!Number.isSafeInteger(maxBytes) || maxBytes <= 0) throw new InvalidArgumentError(`maxBytes must be a positive integer, got ${maxBytes}`);
    const logStartOffset = this.logStartOffset;
    const highWatermark = this.highWatermark;
    if (!Number.isSafeInteger(offset) || offset < logStartOffset || offset > this.logEndOffset) {
      throw new OffsetOutOfRangeError(offset, logStartOffset, this.logEndOffset);
    }
    const empty = { batches: Buffer.alloc(0), nextOffset: offset, logStartOffset, highWatermark };
    if (offset >= highWatermark) return empty;
    for (let i = this.floorSegmentIndex(offset); i < this.segments.length; i++) {
      const segment = this.segments[i]!;
      const endPosition = segment === this.active && this.config.flushPolicy === 'always' ? segment.durableSizeBytes : segment.sizeBytes;
      if (!segment.tryAcquire()) {
        // Closed under us: the log closed, or retention deleted the segment (the offset is gone).
        if (this.closed) throw new LogClosedError(`partition ${this.describe()} is closed`);
        throw new OffsetOutOfRangeError(offset, this.logStartOffset, this.logEndOffset);
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

  /** The earliest offset whose timestamp is >= timestampMs, or undefined if no visible record is that new. */
  async offsetForTimestamp(timestampMs: number): Promise<number | undefined> {
    for (const segment of [...this.segments]) {
      const endPosition = segment === this.active && this.config.flushPolicy === 'always' ? segment.durableSizeBytes : segment.sizeBytes;
      if (segment.maxTimestampMs < timestampMs) continue;
      // Deleted by retention or closed while this search ran: nothing to find there any more.
      if (!segment.tryAcquire()) continue;
      try {
        const offset = await segment.offsetForTimestamp(timestampMs, endPosition);
        if (offset !== undefined && offset < this.highWatermark) return offset;
      } catch (error) {
        throw this.asDataLoss(error);
      } finally {
        segment.release();
      }
    }
    return undefined;
  }

  /**
   * Where a reader starting at `timestampMs` starts: the first offset whose record is at or after it,
   * else (`found` false) the high watermark as it was when the search began. Taken before the search:
   * a record appended and made visible while the search ran is at or after that end, so a reader
   * starting there reads it; the end after the search would skip it.
   */
  async startForTimestamp(timestampMs: number): Promise<{ offset: number; found: boolean }> {
    const highWatermark = this.highWatermark;
    const found = await this.offsetForTimestamp(timestampMs);
    return found === undefined ? { offset: highWatermark, found: false } : { offset: found, found: true };
  }

  /** Called with the new high watermark whenever it advances, and once at close; returns an unsubscribe function. */
  onHighWatermark(listener: (highWatermark: number) => void): () => void {
    this.highWatermarkListeners.add(listener);
    return () => this.highWatermarkListeners.delete(listener);
  }

  /** fsyncs everything written so far (through the syncer, so it never races a write). */
  flush(): Promise<void> {
    return this.groupCommit.flush();
  }

  /** Deletes the oldest closed segments that retention.ms / retention.bytes let go; never the active one. */
  async applyRetention(nowMs: number): Promise<{ deletedSegments: number; deletedBytes: number }> {
    return this.deleteOldestSegments(countSegmentsToDelete(this.segments, this.config, nowMs), 'retention deleted old segments');
  }

  /**
   * Deletes the closed segments that lie wholly below `offset` (Kafka's DeleteRecords, at segment
   * granularity): the log start offset advances to the first remaining segment. Never the active one.
   */
  async deleteSegmentsBelow(offset: number): Promise<{ deletedSegments: number; deletedBytes: number }> {
    let count = 0;
    while (count < this.segments.length - 1 && this.segments[count]!.nextOffset <= offset) count++;
    return this.deleteOldestSegments(count, 'deleted segments below an offset');
  }

  private async deleteOldestSegments(count: number, message: string): Promise<{ deletedSegments: number; deletedBytes: number }> {
    if (this.isClosing || count === 0) return { deletedSegments: 0, deletedBytes: 0 };
    const doomed = this.segments.splice(0, count);
    let deletedBytes = 0;
    for (const segment of doomed) {
      deletedBytes += segment.sizeBytes;
      await segment.delete();
    }
    this.options.logger.info({ topic: this.topic, partition: this.partition, deletedSegments: count, deletedBytes, logStartOffset: this.logStartOffset }, message);
    return { deletedSegments: count, deletedBytes };
  }

  /**
   * Clean close: refuses new appends, lets queued ones finish, fsyncs, writes the active segment's
   * indexes and the recovery point, closes every file. Rejects if a step fails (the files are
   * closed all the same; the next open recovers from the recovery point as after a crash).
   */
  close(): Promise<void> {
    if (this.closed) return this.closed;
    this.isClosing = true;
    this.flushTimer.stop();
    this.closed = (async () => {
      try {
        await this.flushTimer.running;
        await this.groupCommit.drain();
        if (!this.groupCommit.failure) {
          await this.active.sync();
          await this.active.persistIndexes();
          await writeRecoveryPoint(this.options.fs, this.options.directory, this.active.baseOffset);
        }
      } finally {
        // Even when the final fsync fails: a partition that is closed must not keep its descriptors.
        await Promise.allSettled(this.segments.map((s) => s.close()));
        // Wake every waiting reader: its next read reports the log closed.
        for (const listener of this.highWatermarkListeners) listener(this.highWatermark);
      }
    })();
    return this.closed;
  }

  /** A damaged stored batch a segment found, as the partition's DataLossError (logged); other errors as they are. */
  private asDataLoss(error: unknown): unknown {
    if (!(error instanceof DamagedBatchError)) return error;
    const dataLoss = new DataLossError(this.topic, this.partition, error.baseOffset, error.nextOffset, error.path, error.position, error.reason);
    this.options.logger.error({ err: dataLoss }, 'DATA LOSS: a stored batch is damaged; reads of it are refused');
    return dataLoss;
  }

  private get active(): Segment {
    return this.segments[this.segments.length - 1]!;
  }

  private describe(): string {
    return `${this.options.topic}/${this.options.partition}`;
  }

  private floorSegmentIndex(offset: number): number {
    let low = 0;
    let high = this.segments.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >>> 1;
      if (this.segments[middle]!.baseOffset <= offset) low = middle;
      else high = middle - 1;
    }
    return low;
  }

  /** Tells waiting readers when the high watermark moved (the group commit calls it). */
  private notifyHighWatermark(): void {
    const highWatermark = this.highWatermark;
    if (highWatermark <= this.lastNotifiedHighWatermark) return;
    this.lastNotifiedHighWatermark = highWatermark;
    for (const listener of this.highWatermarkListeners) listener(highWatermark);
  }
}
