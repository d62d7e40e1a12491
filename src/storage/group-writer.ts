import { MAX_RELATIVE_OFFSET } from '../core/limits.js';
import { stampStoredBatch, type BatchHeader } from '../format/record-batch.js';
import type { AckLevel, AppendResult } from './append-result.js';
import type { Clock } from '../core/clock.js';
import type { FileSystemPort } from './file-system.js';
import { writeRecoveryPoint } from './recovery-point-file.js';
import { Segment, type AppendedBatch } from './segment.js';
import type { TopicConfig } from './topic-config.js';
import { describeIoError } from './write-state.js';

/** What the writer needs of its partition log (the GroupCommitHost holds it). */
export interface GroupWriterHost {
  /** The partition's segments, oldest first; the last is active. The writer appends rolls. */
  readonly segments: Segment[];
  readonly fs: FileSystemPort;
  readonly directory: string;
  readonly clock: Clock;
  config(): TopicConfig;
}

/** An append queued in the group commit; its offsets are set once the GroupWriter assigns them. */
export interface PendingAppend {
  data: Buffer;
  headers: readonly BatchHeader[];
  ackLevel: AckLevel;
  baseOffset: number;
  lastOffset: number;
  resolve: (result: AppendResult) => void;
  reject: (error: Error) => void;
}

/** An fsync's error, told apart from a write's: whatever its code, an fsync failure is never recovered from. */
export class FsyncFailure extends Error {
  constructor(readonly error: unknown) {
    super(describeIoError(error), { cause: error });
  }
}

/**
 * The group commit's writer half at the segment level: it assigns offsets to a group of appends (by
 * patching each batch's base offset in place), rolls segments between appends, and writes each
 * segment's share with one writev. It keeps the next offset to assign, and counts the appends of the
 * group written whole, so that a failed write tells which of them are in the log. One group at a
 * time: the GroupCommit's writer loop is its only caller.
 */
export class GroupWriter {
  /** How many appends of the group being written were written whole (see write). */
  writtenAppendCount = 0;

  constructor(
    private readonly host: GroupWriterHost,
    private nextOffsetToAssign: number,
  ) {}

  private get active(): Segment {
    return this.host.segments[this.host.segments.length - 1]!;
  }

  private get config(): TopicConfig {
    return this.host.config();
  }

  /** After a write refused for lack of space was cut back: the next appends take its offsets again. */
  rewindTo(nextOffset: number): void {
    this.nextOffsetToAssign = nextOffset;
  }

  /**
   * Writes the group's appends in order: one writev per segment, rolling between appends (a segment
   * passes segment.bytes only when one append alone does, as in Kafka). Counts in writtenAppendCount
   * the appends written whole, so that a failure knows which of them are in the log.
   */
  async write(group: PendingAppend[]): Promise<void> {
    this.writtenAppendCount = 0;
    const nowMs = this.host.clock.nowMs();
    if (!this.active.isEmpty && nowMs - this.active.rollClockStartMs >= this.config.segmentMs) {
      await this.roll(this.nextOffsetToAssign, nowMs);
    }
    let buffers: Buffer[] = [];
    let batches: AppendedBatch[] = [];
    let appendsInWrite = 0;
    let segmentBytes = this.active.sizeBytes;
    for (const append of group) {
      let appendBytes = 0;
      let offsetCount = 0;
      for (const header of append.headers) {
        appendBytes += header.sizeBytes;
        offsetCount += header.lastOffsetDelta + 1;
      }
      const overflowsSize = segmentBytes + appendBytes > this.config.segmentBytes;
      const overflowsIndex = this.nextOffsetToAssign + offsetCount - 1 - this.active.baseOffset > MAX_RELATIVE_OFFSET;
      if (segmentBytes > 0 && (overflowsSize || overflowsIndex)) {
        if (batches.length > 0) {
          await this.active.append(buffers, batches);
          this.writtenAppendCount += appendsInWrite;
        }
        buffers = [];
        batches = [];
        appendsInWrite = 0;
        await this.roll(this.nextOffsetToAssign, nowMs);
        segmentBytes = 0;
      }
      append.baseOffset = this.nextOffsetToAssign;
      let position = 0;
      for (const header of append.headers) {
        const baseOffset = this.nextOffsetToAssign;
        const batch: AppendedBatch = {
          sizeBytes: header.sizeBytes,
          baseOffset,
          lastOffset: baseOffset + header.lastOffsetDelta,
          maxTimestampMs: header.maxTimestampMs,
        };
        stampStoredBatch(append.data, position, baseOffset);
        buffers.push(append.data.subarray(position, position + header.sizeBytes));
        batches.push(batch);
        this.nextOffsetToAssign = batch.lastOffset + 1;
        position += header.sizeBytes;
      }
      segmentBytes += appendBytes;
      appendsInWrite++;
      append.lastOffset = this.nextOffsetToAssign - 1;
    }
    if (batches.length > 0) {
      await this.active.append(buffers, batches);
      this.writtenAppendCount += appendsInWrite;
    }
  }

  /**
   * Seals the active segment (fsync, index files) and starts a new one at `baseOffset`. A step that
   * fails for lack of space leaves the old segment active (or the new one, if only the recovery
   * point was left to write: an older recovery point only makes recovery scan more), so writes can
   * go on once space returns.
   */
  private async roll(baseOffset: number, nowMs: number): Promise<void> {
    const previous = this.active;
    await asFsync(previous.sync());
    await previous.persistIndexes();
    const segment = await Segment.create(this.host.fs, this.host.directory, baseOffset, this.config.indexIntervalBytes, nowMs);
    try {
      await asFsync(this.host.fs.syncDirectory(this.host.directory));
    } catch (error) {
      await segment.close().catch(() => undefined);
      throw error;
    }
    this.host.segments.push(segment);
    await writeRecoveryPoint(this.host.fs, this.host.directory, baseOffset);
  }
}

/** Tags an fsync's error (see FsyncFailure). */
async function asFsync(fsync: Promise<void>): Promise<void> {
  try {
    await fsync;
  } catch (error) {
    throw new FsyncFailure(error);
  }
}
