import { assert } from '../core/assert.js';
import type { Clock } from '../core/clock.js';
import { StorageFailedError, StrataError, TooManyPendingAppendsError } from '../core/errors.js';
import {
  MAX_GROUP_COMMIT_BYTES,
  MAX_PENDING_APPEND_BYTES_PER_PARTITION,
  MAX_PENDING_APPENDS_PER_PARTITION,
  MAX_RELATIVE_OFFSET,
} from '../core/limits.js';
import type { Logger } from '../core/logger.js';
import { stampStoredBatch, type BatchHeader } from '../format/record-batch.js';
import type { FileSystemPort } from './file-system.js';
import type { AckLevel, AppendResult } from './partition-log.js';
import { writeRecoveryPoint } from './recovery-point-file.js';
import { Segment, type AppendedBatch } from './segment.js';
import type { TopicConfig } from './topic-config.js';

interface PendingAppend {
  data: Buffer;
  headers: readonly BatchHeader[];
  ackLevel: AckLevel;
  baseOffset: number;
  lastOffset: number;
  resolve: (result: AppendResult) => void;
  reject: (error: Error) => void;
}

/** What the group commit needs of its partition log. */
export interface GroupCommitHost {
  /** The partition's segments, oldest first; the last is active. The group commit appends rolls. */
  readonly segments: Segment[];
  readonly fs: FileSystemPort;
  readonly directory: string;
  readonly clock: Clock;
  readonly logger: Logger;
  config(): TopicConfig;
  describe(): string;
  /** Called after writes and fsyncs, so the log can tell waiting readers. */
  onProgress(): void;
}

/**
 * The write path of one partition: a writer and a syncer that run side by side.
 * - The writer takes every queued append (up to MAX_GROUP_COMMIT_BYTES), assigns offsets by patching
 *   each batch's base offset in place, rolls segments as needed, and writes with one writev. It never
 *   waits for an fsync.
 * - The syncer fdatasyncs the active segment and acknowledges every append the fsync covered as
 *   durable; appends written meanwhile share the next fsync (group commit).
 * After a write or fsync error, every waiting append fails and no more are taken (StorageFailedError):
 * a retried fsync can report success after the kernel dropped the data.
 * Invariant: offsets are assigned in queue order, so they are contiguous and follow append order.
 */
export class GroupCommit {
  failure: StrataError | undefined;
  private readonly pending: PendingAppend[] = [];
  private pendingBytes = 0;
  /** Written appends waiting for an fsync, in offset order. */
  private readonly awaitingSync: PendingAppend[] = [];
  private writer: Promise<void> | undefined;
  private syncer: Promise<void> | undefined;
  /** The writev in progress, if any; the syncer waits for it (errors are the writer's to handle). */
  private currentWrite: Promise<void> | undefined;
  private isSyncRequested = false;

  constructor(
    private readonly host: GroupCommitHost,
    private nextOffsetToAssign: number,
  ) {}

  private get active(): Segment {
    return this.host.segments[this.host.segments.length - 1]!;
  }

  private get config(): TopicConfig {
    return this.host.config();
  }

  /** Throws TooManyPendingAppendsError when another append of `sizeBytes` would pass the bounds. */
  checkRoom(sizeBytes: number): void {
    if (
      this.pending.length + this.awaitingSync.length >= MAX_PENDING_APPENDS_PER_PARTITION ||
      this.pendingBytes + sizeBytes > MAX_PENDING_APPEND_BYTES_PER_PARTITION
    ) {
      throw new TooManyPendingAppendsError(`partition ${this.host.describe()} has ${this.pending.length} appends (${this.pendingBytes} bytes) waiting`);
    }
  }

  /** Queues validated batches; resolves once they meet `ackLevel`. */
  enqueue(data: Buffer, headers: readonly BatchHeader[], ackLevel: AckLevel): Promise<AppendResult> {
    return new Promise<AppendResult>((resolve, reject) => {
      this.pending.push({ data, headers, ackLevel, baseOffset: -1, lastOffset: -1, resolve, reject });
      this.pendingBytes += data.length;
      this.startWriter();
    });
  }

  /** Asks for an fsync of everything written (the flush.ms timer). */
  requestSync(): void {
    this.isSyncRequested = true;
    this.startSyncer();
  }

  /**
   * One fdatasync of what is written now, beside the syncer (the `flush.ms` timer): it resolves after
   * that fsync however busy the syncer stays. Never rejects: an error fails the partition, as the
   * syncer's would.
   */
  async syncWritten(): Promise<void> {
    if (this.failure) return;
    try {
      await this.active.sync();
    } catch (error) {
      if (!this.failure) this.fail(error, []);
      return;
    }
    // Appends waiting for durability that this fsync covered: the syncer acknowledges them.
    if (this.awaitingSync.length > 0) this.startSyncer();
    this.host.onProgress();
  }

  /** Resolves once everything written before the call is durable; rejects after a failure. */
  async flush(): Promise<void> {
    if (this.failure) throw this.failure;
    await this.writer;
    this.requestSync();
    await this.syncer;
    if (this.failure) throw this.failure;
  }

  /** Waits until nothing is being written or synced (for a clean close). */
  async drain(): Promise<void> {
    // A loop, not two awaits: each loop restarts itself in its `finally` when work arrived meanwhile.
    for (let round = 0; this.writer || this.syncer; round++) {
      assert(round < 1_000_000, 'drain makes progress');
      await (this.writer ?? this.syncer);
    }
  }

  private startWriter(): void {
    if (this.writer) return;
    this.writer = this.runWriter().finally(() => {
      this.writer = undefined;
      // Work may have arrived between the loop's last check and this callback.
      if (!this.failure && this.pending.length > 0) this.startWriter();
    });
  }

  private startSyncer(): void {
    if (this.syncer) return;
    this.syncer = this.runSyncer().finally(() => {
      this.syncer = undefined;
      if (!this.failure && (this.awaitingSync.length > 0 || this.isSyncRequested)) this.startSyncer();
    });
  }

  /**
   * The write half of the group commit: writes every queued append (one writev per group) and never
   * waits for an fsync, so writes go on while the syncer's fdatasync runs.
   */
  private async runWriter(): Promise<void> {
    // Appenders woken by the same acknowledgement append in the same tick: gather them all into the
    // first writev instead of writing the first one alone.
    await Promise.resolve();
    while (!this.failure && this.pending.length > 0) {
      const group = this.takeGroup();
      try {
        this.currentWrite = this.writeGroup(group);
        await this.currentWrite;
      } catch (error) {
        this.fail(error, group);
        return;
      }
      // The syncer may have failed while this group was being written: it is not acknowledged.
      if (this.failure) {
        for (const append of group) append.reject(this.failure);
        return;
      }
      for (const append of group) {
        if (append.ackLevel === 'written') append.resolve({ baseOffset: append.baseOffset, lastOffset: append.lastOffset, durability: 'written' });
        else this.awaitingSync.push(append);
      }
      this.host.onProgress();
      if (this.awaitingSync.length > 0) this.startSyncer();
      // Under flush=always readers see durable offsets only: an append acknowledged as `written`
      // must still be fsynced soon, or no reader would ever see it.
      else if (this.config.flushPolicy === 'always') this.requestSync();
    }
  }

  /**
   * The sync half: one fdatasync covers everything written before it started; every append it covers
   * is acknowledged as durable. Appends written during that fsync share the next one.
   */
  private async runSyncer(): Promise<void> {
    while (!this.failure && (this.awaitingSync.length > 0 || this.isSyncRequested)) {
      this.isSyncRequested = false;
      try {
        // Appenders just acknowledged come back within a tick, and the writer may be writing: let
        // those writes finish so this fsync covers them too, instead of leaving them for the next.
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (this.currentWrite) await this.currentWrite.catch(() => undefined);
        // Segments before the active one were fsynced when they rolled.
        await this.active.sync();
      } catch (error) {
        // The timer's syncWritten() may have failed the partition with the same fsync's error.
        if (!this.failure) this.fail(error, []);
        return;
      }
      const durableEndOffset = this.active.durableNextOffset;
      while (this.awaitingSync.length > 0 && this.awaitingSync[0]!.lastOffset < durableEndOffset) {
        const append = this.awaitingSync.shift()!;
        append.resolve({ baseOffset: append.baseOffset, lastOffset: append.lastOffset, durability: 'durable' });
      }
      this.host.onProgress();
    }
  }

  private takeGroup(): PendingAppend[] {
    let bytes = 0;
    let count = 0;
    while (count < this.pending.length && (count === 0 || bytes + this.pending[count]!.data.length <= MAX_GROUP_COMMIT_BYTES)) {
      bytes += this.pending[count]!.data.length;
      count++;
    }
    this.pendingBytes -= bytes;
    return this.pending.splice(0, count);
  }

  private async writeGroup(group: PendingAppend[]): Promise<void> {
    const nowMs = this.host.clock.nowMs();
    if (!this.active.isEmpty && nowMs - this.active.rollClockStartMs >= this.config.segmentMs) {
      await this.roll(this.nextOffsetToAssign, nowMs);
    }
    let buffers: Buffer[] = [];
    let batches: AppendedBatch[] = [];
    let segmentBytes = this.active.sizeBytes;
    for (const append of group) {
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
        const overflowsSize = segmentBytes + batch.sizeBytes > this.config.segmentBytes;
        const overflowsIndex = batch.lastOffset - this.active.baseOffset > MAX_RELATIVE_OFFSET;
        if (segmentBytes > 0 && (overflowsSize || overflowsIndex)) {
          if (batches.length > 0) await this.active.append(buffers, batches);
          buffers = [];
          batches = [];
          await this.roll(baseOffset, nowMs);
          segmentBytes = 0;
        }
        stampStoredBatch(append.data, position, baseOffset);
        buffers.push(append.data.subarray(position, position + header.sizeBytes));
        batches.push(batch);
        segmentBytes += batch.sizeBytes;
        this.nextOffsetToAssign = batch.lastOffset + 1;
        position += header.sizeBytes;
      }
      append.lastOffset = this.nextOffsetToAssign - 1;
    }
    if (batches.length > 0) await this.active.append(buffers, batches);
  }

  /** Seals the active segment (fsync, index files) and starts a new one at `baseOffset`. */
  private async roll(baseOffset: number, nowMs: number): Promise<void> {
    const previous = this.active;
    await previous.sync();
    await previous.persistIndexes();
    const segment = await Segment.create(this.host.fs, this.host.directory, baseOffset, this.config.indexIntervalBytes, nowMs);
    await this.host.fs.syncDirectory(this.host.directory);
    this.host.segments.push(segment);
    await writeRecoveryPoint(this.host.fs, this.host.directory, baseOffset);
  }

  private fail(error: unknown, group: PendingAppend[]): void {
    const failure = new StorageFailedError(
      `partition ${this.host.describe()} stopped taking writes after an I/O error: ${(error as Error).message}`,
      { cause: error },
    );
    this.failure = failure;
    this.host.logger.error({ err: error, partition: this.host.describe() }, 'storage failure: partition is read-only until restart');
    // Appends already resolved as `written` keep that promise; everything else fails.
    for (const append of [...group, ...this.awaitingSync.splice(0), ...this.pending.splice(0)]) append.reject(failure);
    this.pendingBytes = 0;
  }
}
