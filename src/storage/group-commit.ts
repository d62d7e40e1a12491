import { assert } from '../core/assert.js';
import { StorageFailedError, StrataError, TooManyPendingAppendsError } from '../core/errors.js';
import { MAX_GROUP_COMMIT_BYTES, MAX_PENDING_APPEND_BYTES_PER_PARTITION, MAX_PENDING_APPENDS_PER_PARTITION } from '../core/limits.js';
import type { Logger } from '../core/logger.js';
import type { BatchHeader } from '../format/record-batch.js';
import type { AckLevel, AppendResult } from './append-result.js';
import { FsyncFailure, GroupWriter, type GroupWriterHost, type PendingAppend } from './group-writer.js';
import type { Segment } from './segment.js';
import type { TopicConfig } from './topic-config.js';
import { describeIoError, isOutOfSpaceError, type WriteState } from './write-state.js';

/** What the group commit needs of its partition log. */
export interface GroupCommitHost extends GroupWriterHost {
  readonly logger: Logger;
  describe(): string;
  /** Called after writes and fsyncs, so the log can tell waiting readers. */
  onProgress(): void;
}

/**
 * The write path of one partition: a writer and a syncer that run side by side.
 * - The writer takes every queued append (up to MAX_GROUP_COMMIT_BYTES) and has its GroupWriter
 *   (group-writer.ts) assign offsets by patching each batch's base offset in place, roll segments as
 *   needed, and write with one writev. It never waits for an fsync.
 * - The syncer fdatasyncs the active segment and acknowledges every append the fsync covered as
 *   durable; appends written meanwhile share the next fsync (group commit).
 * After an fsync error (or a write error other than a full disk), every waiting append fails and no
 * more are taken (StorageFailedError): a retried fsync can report success after the kernel dropped the
 * data.
 * A write refused for lack of space (ENOSPC, EDQUOT) is recovered from instead (see write-state.ts):
 * - appends of the group written whole before the failed write (those before a roll) are kept and
 *   acknowledged as usual, and so are appends written by earlier groups (awaiting their fsync);
 * - the failed write's appends, the rest of its group and every append queued behind it fail;
 * - the active segment is cut back to its last good size (what a short write left after it goes,
 *   and the cut is fsynced, so a crash cannot bring refused appends back); index entries, offsets and
 *   sizes advance only after a successful write, so nothing else needs undoing;
 * - the partition is read-only until a write succeeds: the next append tries again.
 * Segments roll between appends, never inside one (as Kafka's): so a write that fails holds whole
 * appends only, and no append is ever half in a sealed segment and half refused.
 * Invariant: offsets are assigned in queue order, so they are contiguous and follow append order.
 */
export class GroupCommit {
  failure: StrataError | undefined;
  /** When `failure` was set (epoch ms), and why, in one line. */
  private failedAtMs = 0;
  private failureReason = '';
  /** Set while writes find the disk full (since the first such failure in a row). */
  private outOfSpace: { reason: string; sinceMs: number } | undefined;
  private readonly pending: PendingAppend[] = [];
  private pendingBytes = 0;
  /** Records of `pending` (queued, not yet taken by the writer): the overflow check counts them. */
  private pendingRecords = 0;
  /** Written appends waiting for an fsync, in offset order. */
  private readonly awaitingSync: PendingAppend[] = [];
  private writer: Promise<void> | undefined;
  private syncer: Promise<void> | undefined;
  /** The writev in progress, if any; the syncer waits for it (errors are the writer's to handle). */
  private currentWrite: Promise<void> | undefined;
  private isSyncRequested = false;
  /** Assigns offsets and writes groups into the segments; keeps the next offset to assign. */
  private readonly groupWriter: GroupWriter;

  constructor(
    private readonly host: GroupCommitHost,
    nextOffsetToAssign: number,
  ) {
    this.groupWriter = new GroupWriter(host, nextOffsetToAssign);
  }

  private get active(): Segment {
    return this.host.segments[this.host.segments.length - 1]!;
  }

  /** Online, read-only (disk full: the next append tries again) or failed (until a restart). */
  get writeState(): WriteState {
    if (this.failure) return { status: 'failed', reason: this.failureReason, sinceMs: this.failedAtMs };
    if (this.outOfSpace) return { status: 'read-only', reason: this.outOfSpace.reason, sinceMs: this.outOfSpace.sinceMs };
    return { status: 'online' };
  }

  /**
   * Starts read-only, for a partition whose opening could not write something for lack of space (an
   * index file, the recovery point): it serves reads, and the first append tries to write.
   */
  startReadOnly(reason: string): void {
    this.outOfSpace = { reason, sinceMs: this.host.clock.nowMs() };
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

  /** Appends queued and not yet taken by the writer (those being written are not counted: at most one write's worth). */
  get queued(): { records: number; bytes: number } {
    return { records: this.pendingRecords, bytes: this.pendingBytes };
  }

  /** Queues validated batches; resolves once they meet `ackLevel`. */
  enqueue(data: Buffer, headers: readonly BatchHeader[], ackLevel: AckLevel): Promise<AppendResult> {
    return new Promise<AppendResult>((resolve, reject) => {
      this.pending.push({ data, headers, ackLevel, baseOffset: -1, lastOffset: -1, resolve, reject });
      this.pendingBytes += data.length;
      this.pendingRecords += recordCount(headers);
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
      let group = this.takeGroup();
      try {
        this.currentWrite = this.groupWriter.write(group);
        await this.currentWrite;
        if (this.outOfSpace) this.onSpaceBack();
      } catch (error) {
        if (error instanceof FsyncFailure || !isOutOfSpaceError(error)) {
          this.fail(error instanceof FsyncFailure ? error.error : error, group);
          return;
        }
        const written = group.slice(0, this.groupWriter.writtenAppendCount);
        const refused = group.slice(this.groupWriter.writtenAppendCount);
        if (!(await this.recoverFromFullDisk(error, refused))) {
          for (const append of written) append.reject(this.failure!);
          return;
        }
        group = written;
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
    const taken = this.pending.splice(0, count);
    for (const append of taken) this.pendingRecords -= recordCount(append.headers);
    return taken;
  }

  /**
   * After a write refused for lack of space: cuts what the failed write left after the active
   * segment's last good size (fsynced), refuses `refused` and every queued append, and marks the
   * partition read-only. False if the cut itself failed: then the partition has failed for good.
   */
  private async recoverFromFullDisk(error: unknown, refused: PendingAppend[]): Promise<boolean> {
    const active = this.active;
    const nowMs = this.host.clock.nowMs();
    const reason = describeIoError(error, active.paths.log);
    try {
      await active.discardUnwrittenTail();
    } catch (truncateError) {
      this.fail(truncateError, refused);
      return false;
    }
    // Offsets were assigned to the refused appends: the next ones take them again.
    this.groupWriter.rewindTo(active.nextOffset);
    if (!this.outOfSpace) {
      this.outOfSpace = { reason, sinceMs: nowMs };
      this.host.logger.warn({ partition: this.host.describe(), reason }, 'disk full: partition is read-only; the next append tries to write again');
    } else {
      this.outOfSpace.reason = reason;
    }
    const failure = new StorageFailedError(
      `partition ${this.host.describe()} is read-only since ${new Date(this.outOfSpace.sinceMs).toISOString()}: ${reason}; ` +
        'nothing of this append was written, and writes resume once space is freed',
      { cause: error },
    );
    for (const append of [...refused, ...this.pending.splice(0)]) append.reject(failure);
    this.pendingBytes = 0;
    this.pendingRecords = 0;
    return true;
  }

  private onSpaceBack(): void {
    const readOnlyMs = this.host.clock.nowMs() - this.outOfSpace!.sinceMs;
    this.outOfSpace = undefined;
    this.host.logger.warn({ partition: this.host.describe(), readOnlyMs }, 'disk has space again: partition takes writes');
  }

  private fail(error: unknown, group: PendingAppend[]): void {
    this.failedAtMs = this.host.clock.nowMs();
    this.failureReason = describeIoError(error);
    const failure = new StorageFailedError(
      `partition ${this.host.describe()} stopped taking writes after an I/O error at ${new Date(this.failedAtMs).toISOString()}: ${this.failureReason}; ` +
        'it takes no more writes until the server restarts',
      { cause: error },
    );
    this.failure = failure;
    this.outOfSpace = undefined;
    this.host.logger.error({ partition: this.host.describe(), reason: this.failureReason }, 'storage failure: partition is read-only until restart');
    // Appends already resolved as `written` keep that promise; everything else fails.
    for (const append of [...group, ...this.awaitingSync.splice(0), ...this.pending.splice(0)]) append.reject(failure);
    this.pendingBytes = 0;
    this.pendingRecords = 0;
  }
}

/** Records in `headers`' batches (offsets are contiguous in a Strata log). */
export function recordCount(headers: readonly BatchHeader[]): number {
  let count = 0;
  for (const header of headers) count += header.lastOffsetDelta + 1;
  return count;
}
