import { InvalidArgumentError, OffsetOutOfRangeError, ShuttingDownError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { ConsumptionReader } from './consumption-progress.js';
import type { FileSystemPort } from './file-system.js';
import { countSegmentsBelow, writeLogStartOffset } from './log-start-file.js';
import { countConsumedSegments, countSegmentsToDelete } from './retention.js';
import type { Segment } from './segment.js';
import type { TopicConfig } from './topic-config.js';
import { isOutOfSpaceError } from './write-state.js';

export interface LogStartAdvance {
  previousLogStartOffset: number;
  logStartOffset: number;
}

/** What one retention run did to a partition; the log start before and after, to count what groups lost. */
export interface RetentionResult {
  deletedSegments: number;
  deletedBytes: number;
  previousLogStartOffset: number;
  logStartOffset: number;
}

/** What the retention and log-start moves need of their partition log. */
export interface RetentionLogView {
  readonly topic: string;
  readonly partition: number;
  /** The log's segments, oldest first, the last active (the live array: the oldest are spliced off here). */
  readonly segments: Segment[];
  /** The topic's configuration now (read per use). */
  readonly config: Readonly<TopicConfig>;
  readonly highWatermark: number;
  readonly isClosing: boolean;
  describe(): string;
}

/** Where the log start file lives and where the deletes are logged. */
export interface RetentionDependencies {
  fs: FileSystemPort;
  directory: string;
  logger: Logger;
}

/**
 * The oldest end of one partition: its log start offset, and everything that moves it forward:
 * retention runs (time, size, after-ack, segments below a purge) and purges (advanceLogStart), both
 * by deleting the oldest closed segments, never the active one. PartitionLog owns one and delegates
 * to it; PartitionLog's methods of the same names say what each does for its callers.
 */
export class PartitionRetention {
  /** The log start a purge set (log-start-file.ts); the first segment's base offset may pass it. */
  private purgedBeforeOffset: number;
  /** Purges, one at a time: each writes the log start file, and a later one must not be overtaken. */
  private logStartChain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly log: RetentionLogView,
    private readonly dependencies: RetentionDependencies,
    purgedBeforeOffset: number,
  ) {
    this.purgedBeforeOffset = purgedBeforeOffset;
  }

  /** First readable offset (inclusive): where the last purge put it, or the first segment's base offset if retention passed it. */
  get logStartOffset(): number {
    return Math.max(this.purgedBeforeOffset, this.log.segments[0]!.baseOffset);
  }

  /** See PartitionLog.applyRetention. */
  async applyRetention(nowMs: number, readers: () => readonly ConsumptionReader[]): Promise<RetentionResult> {
    const segments = this.log.segments;
    const config = this.log.config;
    const previousLogStartOffset = this.logStartOffset;
    const byTimeOrSize = Math.max(countSegmentsToDelete(segments, config, nowMs), countSegmentsBelow(segments, this.logStartOffset));
    const byAck = config.retentionAfterAck ? countConsumedSegments(segments, readers()) : 0;
    const message = byAck > byTimeOrSize ? 'retention deleted segments every group reading the topic has consumed' : 'retention deleted old segments';
    const count = Math.max(byTimeOrSize, byAck);
    // Progress as it was before the delete: the caller counts what groups lose against it.
    if (count > 0) readers();
    const deleted = await this.deleteOldestSegments(count, message);
    return { ...deleted, previousLogStartOffset, logStartOffset: this.logStartOffset };
  }

  /** See PartitionLog.advanceLogStart: one purge at a time, in the order asked. */
  advanceLogStart(offset: number): Promise<LogStartAdvance> {
    const advanced = this.logStartChain.then(() => this.advanceLogStartNow(offset));
    this.logStartChain = advanced.catch(() => undefined);
    return advanced;
  }

  /** See PartitionLog.deleteSegmentsBelow. */
  async deleteSegmentsBelow(offset: number): Promise<{ deletedSegments: number; deletedBytes: number }> {
    return this.deleteOldestSegments(countSegmentsBelow(this.log.segments, offset), 'deleted segments below an offset');
  }

  private async advanceLogStartNow(offset: number): Promise<LogStartAdvance> {
    const { fs, directory, logger } = this.dependencies;
    if (this.log.isClosing) throw new ShuttingDownError(`partition ${this.log.describe()} is closing`);
    if (!Number.isSafeInteger(offset) || offset < 0) throw new InvalidArgumentError(`a log start offset must be a non-negative integer, got ${offset}`);
    const previousLogStartOffset = this.logStartOffset;
    if (offset <= previousLogStartOffset) return { previousLogStartOffset, logStartOffset: previousLogStartOffset };
    const highWatermark = this.log.highWatermark;
    if (offset > highWatermark) throw new OffsetOutOfRangeError(offset, previousLogStartOffset, highWatermark);
    try {
      await writeLogStartOffset(fs, directory, offset);
    } catch (error) {
      if (!isOutOfSpaceError(error)) throw error;
      // A full disk is when a purge is wanted most. Deleting the segments wholly below first is safe
      // without the file (the log start is then their end, as after retention) and frees room for it.
      await this.deleteOldestSegments(countSegmentsBelow(this.log.segments, offset), 'purge deleted segments below the new log start (disk full)');
      await writeLogStartOffset(fs, directory, offset);
    }
    this.purgedBeforeOffset = offset;
    logger.info({ topic: this.log.topic, partition: this.log.partition, previousLogStartOffset, logStartOffset: offset }, 'log start offset advanced');
    await this.deleteOldestSegments(countSegmentsBelow(this.log.segments, offset), 'purge deleted segments below the log start');
    return { previousLogStartOffset, logStartOffset: offset };
  }

  private async deleteOldestSegments(count: number, message: string): Promise<{ deletedSegments: number; deletedBytes: number }> {
    if (this.log.isClosing || count === 0) return { deletedSegments: 0, deletedBytes: 0 };
    const doomed = this.log.segments.splice(0, count);
    let deletedBytes = 0;
    for (const segment of doomed) {
      deletedBytes += segment.sizeBytes;
      await segment.delete();
    }
    this.dependencies.logger.info({ topic: this.log.topic, partition: this.log.partition, deletedSegments: count, deletedBytes, logStartOffset: this.logStartOffset }, message);
    return { deletedSegments: count, deletedBytes };
  }
}
