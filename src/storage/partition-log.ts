import { Buffer } from 'node:buffer';
import type { Clock } from '../core/clock.js';
import { BatchTooLargeError, ShuttingDownError } from '../core/errors.js';
import { MAX_GROUP_COMMIT_BYTES } from '../core/limits.js';
import type { Logger } from '../core/logger.js';
import { validateBatches, type BatchHeader } from '../format/record-batch.js';
import type { FileSystemPort } from './file-system.js';
import { recoverLogStart } from './log-start-file.js';
import { openSegments } from './partition-recovery.js';
import { writeRecoveryPoint } from './recovery-point-file.js';
import { PartitionReader, type ReadResult } from './partition-reader.js';
import { PartitionRetention, type LogStartAdvance, type RetentionResult } from './partition-retention.js';
import { GroupCommit, recordCount } from './group-commit.js';
import { NO_CONSUMPTION_PROGRESS, type ConsumptionProgress, type ConsumptionReader } from './consumption-progress.js';
import { PartitionOverflow } from './partition-overflow.js';
import type { UnconsumedRemovals } from './unconsumed-removals.js';
import { IntervalFlusher } from './interval-flusher.js';
import { LiveConfig, type ConfigListener } from './live-config.js';
import { PartitionFlushTimer } from './partition-flush-timer.js';
import type { StorageObserver } from './storage-observer.js';
import type { Segment } from './segment.js';
import type { TopicConfig } from './topic-config.js';
import type { AckLevel, AppendResult } from './append-result.js';
import { describeIoError, type WriteState } from './write-state.js';

export type { AckLevel, AppendResult, ConfigListener, LogStartAdvance, ReadResult, RetentionResult };

export interface AppendOptions {
  /** Default: `durable` under `flush: always`, `written` otherwise. */
  ackLevel?: AckLevel;
  /**
   * Runs after validation, on the caller's turn and in append order, before the append is queued:
   * may throw to refuse it (nothing is written), or return a result to answer without writing (a
   * retried batch already in the log). The broker's producer sequence check lives here. It may also
   * answer later (a promise: records that are all duplicates of others being appended), or hand back
   * other batches to append instead (`replacement`: the request rebuilt without its duplicates).
   */
  admit?: (headers: readonly BatchHeader[]) => AppendResult | Promise<AppendResult> | { replacement: Buffer; headers: readonly BatchHeader[] } | undefined;
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
  /** How far groups have consumed this partition (retention.after.ack, max.unconsumed.*); no group reads it if absent. */
  consumption?: ConsumptionProgress;
  /** Where overflow=drop-oldest counts the records groups lose unread. */
  unconsumedRemovals?: UnconsumedRemovals;
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
  private readonly liveConfig: LiveConfig;
  private readonly groupCommit: GroupCommit;
  private isClosing = false;
  private closed: Promise<void> | undefined;
  private readonly flushTimer: PartitionFlushTimer;
  private readonly highWatermarkListeners = new Set<(highWatermark: number) => void>();
  private lastNotifiedHighWatermark: number;
  /** The max.unconsumed.* limits (read from the config at each use). */
  readonly overflow: PartitionOverflow;
  /** The log start and what moves it: retention runs and purges (partition-retention.ts). */
  private readonly retention: PartitionRetention;
  /** Reads by offset and searches by time (partition-reader.ts). */
  private readonly reader: PartitionReader;

  private constructor(
    private readonly options: PartitionLogOptions,
    segments: Segment[],
    purgedBeforeOffset: number,
  ) {
    this.segments = segments;
    this.liveConfig = new LiveConfig(options.config);
    const log = this;
    this.retention = new PartitionRetention(
      {
        topic: options.topic,
        partition: options.partition,
        segments,
        get config() { return log.config; },
        get highWatermark() { return log.highWatermark; },
        get isClosing() { return log.isClosing; },
        describe: () => log.describe(),
      },
      { fs: options.fs, directory: options.directory, logger: options.logger },
      purgedBeforeOffset,
    );
    this.reader = new PartitionReader(
      {
        topic: options.topic,
        partition: options.partition,
        segments,
        get logStartOffset() { return log.logStartOffset; },
        get logEndOffset() { return log.logEndOffset; },
        get highWatermark() { return log.highWatermark; },
        get isClosed() { return log.isClosed; },
        endPosition: (segment) => log.liveConfig.endPosition(segment, log.active),
        describe: () => log.describe(),
      },
      options.logger,
    );
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
    this.overflow = new PartitionOverflow(
      {
        topic: options.topic,
        partition: options.partition,
        segments,
        get logStartOffset() { return log.logStartOffset; },
        get logEndOffset() { return log.logEndOffset; },
        get highWatermark() { return log.highWatermark; },
        get queued() { return log.groupCommit.queued; },
        advanceLogStart: (offset) => log.advanceLogStart(offset),
      },
      options.consumption ?? NO_CONSUMPTION_PROGRESS,
      options.clock,
      { removals: options.unconsumedRemovals, logger: options.logger },
    );
    this.flushTimer = new PartitionFlushTimer({
      clock: options.clock,
      logger: options.logger,
      config: () => log.config,
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
    const logStartOffset = await recoverLogStart(options.fs, options.directory, segments, options.logger.child({ topic: options.topic, partition: options.partition }));
    const log = new PartitionLog(options, segments, logStartOffset);
    if (skipped.length > 0) log.groupCommit.startReadOnly(skipped.join('; '));
    return log;
  }

  get topic(): string {
    return this.options.topic;
  }

  get partition(): number {
    return this.options.partition;
  }

  /** First readable offset (inclusive): where the last purge put it, or the first segment's base offset if retention passed it. */
  get logStartOffset(): number {
    return this.retention.logStartOffset;
  }

  /** One past the last offset written to the file (exclusive). */
  get logEndOffset(): number {
    return this.active.nextOffset;
  }

  /** One past the last offset readers may see (exclusive); see the class comment. */
  get highWatermark(): number {
    return this.liveConfig.highWatermark(this.active);
  }

  /** The topic's configuration now: read it per use, never keep a value (applyConfig replaces it). */
  get config(): Readonly<TopicConfig> {
    return this.liveConfig.current;
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
    return this.reader.tailStartOffset(tailBytes);
  }

  /** The topic's config as this partition applies it now (read it per use: it may change). */
  get topicConfig(): Readonly<TopicConfig> {
    return this.config;
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
      if (this.config.overflowPolicy === 'reject') this.overflow.checkRoom(this.config, recordCount(headers), data.length);
      // Last, after every check that can refuse the append: what admit records must not be undone.
      const admitted = options.admit?.(headers);
      const ackLevel = options.ackLevel ?? (this.config.flushPolicy === 'always' ? 'durable' : 'written');
      let appended: Promise<AppendResult>;
      if (admitted && 'replacement' in admitted) appended = this.groupCommit.enqueue(admitted.replacement, admitted.headers, ackLevel);
      else if (admitted) return Promise.resolve(admitted);
      else appended = this.groupCommit.enqueue(data, headers, ackLevel);
      if (this.config.overflowPolicy !== 'drop-oldest') return appended;
      // The answer waits for the log start to move (backpressure keeps the partition near its max).
      return appended.then(async (result) => {
        await this.overflow.dropOldest(this.config);
        return result;
      });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Whole batches from `offset` on, up to `maxBytes` (at least one batch). The valid range for
   * `offset` is [logStartOffset, logEndOffset]; at or past the high watermark the result is empty.
   */
  read(offset: number, maxBytes: number): Promise<ReadResult> {
    return this.reader.read(offset, maxBytes);
  }

  /** The earliest readable offset (at or past the log start) whose timestamp is >= timestampMs, or undefined if no visible record is that new. */
  offsetForTimestamp(timestampMs: number): Promise<number | undefined> {
    return this.reader.offsetForTimestamp(timestampMs);
  }

  /**
   * Where a reader starting at `timestampMs` starts: the first readable offset whose record is at or after it,
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

  /**
   * Takes the topic's new configuration (AlterTopicConfig) without a restart; what applies when is
   * in README's table of topic configuration keys (Storage layout), visibility across a flush switch in live-config.ts.
   */
  applyConfig(config: TopicConfig): void {
    if (config === this.config) return;
    const { previous, isFlushTimerChanged, isNowAlways } = this.liveConfig.replace(config, this.active);
    if (isFlushTimerChanged) this.flushTimer.reschedule();
    if (isNowAlways && !this.groupCommit.failure) this.groupCommit.requestSync();
    this.notifyHighWatermark();
    this.liveConfig.notify(previous, (error) => this.options.logger.error({ err: error, topic: this.topic, partition: this.partition }, 'a config change listener failed'));
  }

  /** Calls `listener` after each applyConfig (state derived from a key reacts there); returns an unsubscribe function. */
  onConfigChange(listener: ConfigListener): () => void {
    return this.liveConfig.onChange(listener);
  }

  /**
   * Deletes the oldest closed segments that retention.ms / retention.bytes let go, those wholly
   * below the log start (a purge inside the then active segment, which has rolled since), and under
   * retention.after.ack those every group reading it has consumed; never the active one. `readers`
   * is asked only when after-ack is on or something is deleted (the caller memoizes its answer).
   */
  applyRetention(nowMs: number, readers: () => readonly ConsumptionReader[] = () => []): Promise<RetentionResult> {
    return this.retention.applyRetention(nowMs, readers);
  }

  /**
   * Moves the log start offset forward to `offset` (Kafka's DeleteRecords): records below it are no
   * longer readable (OFFSET_OUT_OF_RANGE), even where `offset` lies inside a segment, and the closed
   * segments wholly below it are deleted. The active segment is not (as in Kafka): its space comes
   * back once it has rolled, at the next retention run. Durable before it resolves: the offset is
   * written to the log start file (log-start-file.ts) first, so a crash after the answer cannot bring
   * the records back. Never moves backwards (an offset at or below the log start changes nothing);
   * an offset past the high watermark is OffsetOutOfRangeError with the valid range; at the high
   * watermark the log is left empty. One purge at a time per partition.
   */
  advanceLogStart(offset: number): Promise<LogStartAdvance> {
    return this.retention.advanceLogStart(offset);
  }

  /**
   * Deletes the closed segments that lie wholly below `offset` (Kafka's DeleteRecords, at segment
   * granularity): the log start offset advances to the first remaining segment. Never the active one.
   */
  deleteSegmentsBelow(offset: number): Promise<{ deletedSegments: number; deletedBytes: number }> {
    return this.retention.deleteSegmentsBelow(offset);
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

  private get active(): Segment {
    return this.segments[this.segments.length - 1]!;
  }

  private describe(): string {
    return `${this.options.topic}/${this.options.partition}`;
  }

  /** Tells waiting readers when the high watermark moved (the group commit calls it). */
  private notifyHighWatermark(): void {
    const highWatermark = this.highWatermark;
    if (highWatermark <= this.lastNotifiedHighWatermark) return;
    this.lastNotifiedHighWatermark = highWatermark;
    for (const listener of this.highWatermarkListeners) listener(highWatermark);
  }
}
