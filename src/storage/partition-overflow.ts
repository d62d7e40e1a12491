import type { Clock } from '../core/clock.js';
import { InvalidArgumentError, PartitionOverflowError, ShuttingDownError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { type ConsumptionProgress, type ConsumptionReader, unconsumedStartOffset } from './consumption-progress.js';
import type { Segment } from './segment.js';
import type { TopicConfig } from './topic-config.js';
import type { UnconsumedRemovals } from './unconsumed-removals.js';

/**
 * How long the produce path trusts a partition's cached consumption progress: a produce that the
 * cached value lets through is admitted without asking the groups again. Progress only moves forward
 * (except an operator's reset of a group to an earlier offset), so a stale value makes unconsumed
 * look larger, never smaller: a refusal is always decided on a fresh value. The slack: for up to this
 * long after a group is reset backwards, produces may pass the max.
 */
export const CONSUMPTION_CACHE_MS = 1000;

/** What the overflow check reads of a segment. */
export type SegmentSizes = Pick<Segment, 'baseOffset' | 'nextOffset' | 'sizeBytes' | 'positionAtOrBefore' | 'batchOffsetAtOrAfter'>;

/** What the overflow check needs of its partition log. */
export interface OverflowLogView {
  readonly topic: string;
  readonly partition: number;
  /** The log's segments, oldest first (the live array: read, never changed here). */
  readonly segments: readonly SegmentSizes[];
  readonly logStartOffset: number;
  readonly logEndOffset: number;
  readonly highWatermark: number;
  /** Appends queued and not yet being written. */
  readonly queued: { records: number; bytes: number };
  advanceLogStart(offset: number): Promise<{ previousLogStartOffset: number; logStartOffset: number }>;
}

/** Bytes of the log from the indexed batch at or before `offset` to its end: whole batches, up to one index interval more. */
export function bytesFrom(segments: readonly SegmentSizes[], offset: number): number {
  let bytes = 0;
  for (let i = segments.length - 1; i >= 0; i--) {
    const segment = segments[i]!;
    if (offset >= segment.nextOffset) break;
    if (offset >= segment.baseOffset) return bytes + segment.sizeBytes - segment.positionAtOrBefore(offset);
    bytes += segment.sizeBytes;
  }
  return bytes;
}

/** The first indexed batch from which the log holds at most `maxBytes` (so up to one index interval fewer); at least `logStartOffset`. */
export function offsetKeepingBytes(segments: readonly SegmentSizes[], maxBytes: number, logStartOffset: number): number {
  let remainingBytes = maxBytes;
  for (let i = segments.length - 1; i >= 0; i--) {
    const segment = segments[i]!;
    if (segment.sizeBytes > remainingBytes) return Math.max(segment.batchOffsetAtOrAfter(segment.sizeBytes - remainingBytes), logStartOffset);
    remainingBytes -= segment.sizeBytes;
  }
  return logStartOffset;
}

/** What overflow=drop-oldest needs besides its log. */
export interface DropOldestDependencies {
  removals?: UnconsumedRemovals;
  logger: Logger;
}

export interface Unconsumed {
  /** The first unconsumed offset (inclusive): the slowest reader's progress, at least the log start. */
  startOffset: number;
  records: number;
  /** Approximate: whole batches, from up to one index interval before startOffset, plus queued appends. */
  bytes: number;
}

/**
 * The max.unconsumed.* limits of one partition. Unconsumed = from the slowest group's progress (or
 * the log start when no group reads the topic) to the end of the log, plus appends queued and not
 * yet being written. Appends being written at the moment (one group-commit write) are not counted:
 * concurrent produces may pass the max by at most that much.
 */
export class PartitionOverflow {
  private cached: { startOffset: number; atMs: number } | undefined;
  /** The drop-oldest run under way, and whether appends since it began want another one. */
  private dropping: Promise<void> | undefined;
  private isDropWanted = false;

  constructor(
    private readonly log: OverflowLogView,
    private readonly progress: ConsumptionProgress,
    private readonly clock: Clock,
    private readonly dropDependencies: DropOldestDependencies,
  ) {}

  /** The groups that read this partition and their progress, asked now. */
  readers(): readonly ConsumptionReader[] {
    return this.progress.readersOf(this.log.topic, this.log.partition);
  }

  /** What is unconsumed now; `isFresh` asks the groups instead of trusting a value up to CONSUMPTION_CACHE_MS old. */
  unconsumed(isFresh: boolean): Unconsumed {
    const nowMs = this.clock.monotonicMs();
    if (isFresh || !this.cached || nowMs - this.cached.atMs >= CONSUMPTION_CACHE_MS) {
      this.cached = { startOffset: unconsumedStartOffset(this.readers(), this.log.logStartOffset), atMs: nowMs };
    }
    const startOffset = Math.max(this.cached.startOffset, this.log.logStartOffset);
    const queued = this.log.queued;
    return {
      startOffset,
      records: Math.max(0, this.log.logEndOffset - startOffset) + queued.records,
      bytes: bytesFrom(this.log.segments, startOffset) + queued.bytes,
    };
  }

  /**
   * Under overflow=reject: throws PartitionOverflowError when `records` more records of `bytes` would
   * pass a max, and InvalidArgumentError when they pass it on their own (no consumer can make room).
   */
  checkRoom(config: TopicConfig, records: number, bytes: number): void {
    const { maxUnconsumedRecords: maxRecords, maxUnconsumedBytes: maxBytes } = config;
    if ((maxRecords !== -1 && records > maxRecords) || (maxBytes !== -1 && bytes > maxBytes)) {
      throw new InvalidArgumentError(
        `a produce of ${records} records (${bytes} bytes) to ${this.describe()} is larger than the topic's max.unconsumed.records ${maxRecords} / max.unconsumed.bytes ${maxBytes}: it can never be accepted`,
      );
    }
    const isOver = (u: Unconsumed) => (maxRecords !== -1 && u.records + records > maxRecords) || (maxBytes !== -1 && u.bytes + bytes > maxBytes);
    if (!isOver(this.unconsumed(false))) return;
    const fresh = this.unconsumed(true);
    if (!isOver(fresh)) return;
    throw new PartitionOverflowError(
      `partition ${this.describe()} has ${fresh.records} unconsumed records (~${fresh.bytes} bytes) from offset ${fresh.startOffset}; ${records} more (${bytes} bytes) would pass max.unconsumed.records ${maxRecords} / max.unconsumed.bytes ${maxBytes} (overflow=reject): retry once groups consume`,
    );
  }

  /**
   * Under overflow=drop-oldest, after an append: moves the log start forward (advanceLogStart,
   * durable) so that what is unconsumed fits the max again, counting what each group loses unread.
   * Appends that finish during a run share the next one, so one log-start write is under way at a
   * time. Never rejects: the append it follows is written and acknowledged whatever happens here
   * (a failure is logged; the next append tries again).
   */
  dropOldest(config: TopicConfig): Promise<void> {
    if (this.dropping) {
      this.isDropWanted = true;
      return this.dropping;
    }
    const run = (async () => {
      try {
        do {
          this.isDropWanted = false;
          await this.dropOnce(config);
        } while (this.isDropWanted);
      } catch (error) {
        if (error instanceof ShuttingDownError) return;
        this.dropDependencies.logger.error({ err: error, topic: this.log.topic, partition: this.log.partition }, 'overflow=drop-oldest could not move the log start; the next append tries again');
      } finally {
        this.dropping = undefined;
      }
    })();
    this.dropping = run;
    return run;
  }

  private async dropOnce(config: TopicConfig): Promise<void> {
    const { maxUnconsumedRecords: maxRecords, maxUnconsumedBytes: maxBytes } = config;
    const isOver = (u: Unconsumed) => (maxRecords !== -1 && u.records > maxRecords) || (maxBytes !== -1 && u.bytes > maxBytes);
    if (!isOver(this.unconsumed(false))) return;
    const readers = this.readers();
    const startOffset = unconsumedStartOffset(readers, this.log.logStartOffset);
    let targetOffset = this.log.logStartOffset;
    if (maxRecords !== -1) targetOffset = Math.max(targetOffset, this.log.logEndOffset - maxRecords);
    if (maxBytes !== -1 && bytesFrom(this.log.segments, startOffset) > maxBytes) targetOffset = Math.max(targetOffset, offsetKeepingBytes(this.log.segments, maxBytes, this.log.logStartOffset));
    // Only what is written and visible can go; what is unconsumed starting past the target fits already.
    targetOffset = Math.min(targetOffset, this.log.highWatermark);
    if (targetOffset <= startOffset) return;
    const { previousLogStartOffset, logStartOffset } = await this.log.advanceLogStart(targetOffset);
    this.cached = undefined;
    if (logStartOffset > previousLogStartOffset) {
      this.dropDependencies.removals?.recordDrop(this.log.topic, this.log.partition, readers, previousLogStartOffset, logStartOffset);
    }
  }

  private describe(): string {
    return `${this.log.topic}/${this.log.partition}`;
  }
}
