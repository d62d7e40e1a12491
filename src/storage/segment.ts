import { Buffer } from 'node:buffer';
import { AssertionError, assert } from '../core/assert.js';
import { StrataError } from '../core/errors.js';
import { MIN_READ_BYTES } from '../core/limits.js';
import { BATCH_HEADER_BYTES } from '../format/record-batch-layout.js';
import { isBatchCrcValid, readBatchHeader, readBatchSize } from '../format/record-batch.js';
import { decodeRecordBatch } from '../format/record-batch-codec.js';
import { batchHeaderFault, offsetAfterBatch } from './batch-header-check.js';
import { BatchWalker } from './batch-walker.js';
import type { FileHandlePort, FileSystemPort } from './file-system.js';
import { segmentPaths, type SegmentPaths } from './segment-files.js';
import type { SegmentDamage } from './segment-scan.js';
import { loadSegmentIndexes } from './segment-index-load.js';
import { SegmentIndexer } from './segment-indexer.js';

/** What the writer knows about a batch it appends: framing already validated by the caller. */
export interface AppendedBatch {
  sizeBytes: number;
  baseOffset: number;
  lastOffset: number;
  maxTimestampMs: number;
}

/**
 * A batch in the file fails its CRC, or its header fails what the CRC does not cover: the partition
 * log reports it as data loss of offsets [baseOffset, nextOffset) (nextOffset: the end of the damaged
 * batch when its CRC failed, the end of the segment when its header is wrong).
 */
export class DamagedBatchError extends Error {
  constructor(
    readonly path: string,
    readonly position: number,
    readonly baseOffset: number,
    readonly nextOffset: number,
    readonly reason: string,
  ) {
    super(`batch at byte ${position} of ${path} (offsets from ${baseOffset}) is damaged: ${reason}`);
  }
}

export interface SegmentReadResult {
  /** Whole batches, concatenated; the first may start before the offset asked for. */
  batches: Buffer;
  /** One past the last offset in `batches`. */
  nextOffset: number;
}

/**
 * segment.ms counts from the first batch's largest timestamp, as in Kafka, but never from the future,
 * and a segment created by this process counts from its creation.
 */
function rollClockStart(firstBatchMaxTimestampMs: number | undefined, nowMs: number): number {
  return Math.min(firstBatchMaxTimestampMs ?? nowMs, nowMs);
}

/**
 * One segment: a .log file of batches plus its two sparse indexes. Owns the file handle and the byte
 * and offset bookkeeping; the partition log decides when to write, sync and roll.
 *
 * Tracked positions (byte locations in the .log, exclusive ends) and offsets (exclusive ends):
 *   durableSizeBytes <= sizeBytes        bytes fsynced <= bytes written
 *   durableNextOffset <= nextOffset      the same, in offsets
 * Concurrency: one writer at a time (the partition log's write loop); any number of readers, which
 * read only below an end position the caller passes in, so they never see a half-written batch.
 * A reader holds a reference (acquire/release) so that retention closes the file only after it.
 */
export class Segment {
  readonly paths: SegmentPaths;
  sizeBytes: number;
  durableSizeBytes: number;
  nextOffset: number;
  durableNextOffset: number;
  /**
   * Bytes [0, verifiedEndPosition) are known to hold batches whose CRC was checked in this process (on
   * append, by a recovery scan, or by an earlier read), so reads skip the CRC there. Segments opened
   * on trust after a clean shutdown start at 0: each batch is checked the first time it is read.
   */
  private verifiedEndPosition: number;
  private references = 0;
  /** The fdatasync in progress, if any (see sync()). */
  private syncInProgress: Promise<void> | undefined;
  /** The first fdatasync error: every later sync() throws it (see sync()). */
  private syncFailure: Error | undefined;
  private isClosing = false;
  private closed: Promise<void> | undefined;
  private onReleased: (() => void) | undefined;

  private constructor(
    private readonly fs: FileSystemPort,
    directory: string,
    readonly baseOffset: number,
    private readonly file: FileHandlePort,
    private readonly indexer: SegmentIndexer,
    sizeBytes: number,
    nextOffset: number,
    /** When the segment.ms clock started (see rollClockStart). */
    private readonly createdAtMs: number,
    isVerified: boolean,
  ) {
    this.paths = segmentPaths(directory, baseOffset);
    this.verifiedEndPosition = isVerified ? sizeBytes : 0;
    this.sizeBytes = sizeBytes;
    this.durableSizeBytes = sizeBytes;
    this.nextOffset = nextOffset;
    this.durableNextOffset = nextOffset;
  }

  static async create(fs: FileSystemPort, directory: string, baseOffset: number, indexIntervalBytes: number, nowMs: number): Promise<Segment> {
    const paths = segmentPaths(directory, baseOffset);
    const file = await fs.open(paths.log, { create: true });
    try {
      const existingBytes = await file.sizeBytes();
      if (existingBytes > 0) await file.truncate(0);
    } catch (error) {
      await file.close().catch(() => undefined);
      throw error;
    }
    const indexer = new SegmentIndexer(baseOffset, indexIntervalBytes);
    return new Segment(fs, directory, baseOffset, file, indexer, 0, baseOffset, nowMs, true);
  }

  /**
   * Opens a segment with the bookkeeping a recovery scan produced (see segment-scan.ts): the file is
   * already known to hold `sizeBytes` of valid batches.
   */
  static fromScan(fs: FileSystemPort, directory: string, file: FileHandlePort, indexer: SegmentIndexer, sizeBytes: number, nextOffset: number, nowMs: number): Segment {
    return new Segment(fs, directory, indexer.baseOffset, file, indexer, sizeBytes, nextOffset, rollClockStart(indexer.firstBatchMaxTimestampMs, nowMs), true);
  }

  /**
   * Opens a segment that was closed cleanly or lies below the recovery point, trusting its index files
   * after structural checks (segment-index-load.ts). Returns the damage when a batch header fails, or
   * undefined when an index file fails a check, so the caller rebuilds the indexes by a full scan.
   */
  static async openWithIndexes(fs: FileSystemPort, directory: string, file: FileHandlePort, baseOffset: number, indexIntervalBytes: number, nowMs: number): Promise<Segment | SegmentDamage | undefined> {
    const loaded = await loadSegmentIndexes(fs, directory, file, baseOffset, indexIntervalBytes);
    if (loaded === undefined || !('indexer' in loaded)) return loaded;
    const { indexer, sizeBytes, nextOffset, firstBatchMaxTimestampMs } = loaded;
    return new Segment(fs, directory, baseOffset, file, indexer, sizeBytes, nextOffset, rollClockStart(firstBatchMaxTimestampMs, nowMs), false);
  }

  get maxTimestampMs(): number {
    return this.indexer.maxTimestampMs;
  }

  /** When the segment.ms clock started for this segment. */
  get rollClockStartMs(): number {
    return this.createdAtMs;
  }

  /** The base offset of an indexed batch that starts at or before `position` (the segment's base offset if none). */
  batchOffsetAtOrBefore(position: number): number {
    return this.indexer.offsetIndex.floorByPosition(position).offset;
  }

  /** The base offset of the first indexed batch that starts at or after `position`; the segment's end (nextOffset) if none does. */
  batchOffsetAtOrAfter(position: number): number {
    return this.indexer.offsetIndex.ceilByPosition(position)?.offset ?? this.nextOffset;
  }

  /** The position of an indexed batch that starts at or before `offset` (0 if none): up to one index interval early. */
  positionAtOrBefore(offset: number): number {
    return this.indexer.offsetIndex.lookup(offset).position;
  }

  get isEmpty(): boolean {
    return this.sizeBytes === 0;
  }

  /** Writes batches at the end of the file; the caller guarantees offsets continue from nextOffset. */
  async append(buffers: readonly Buffer[], batches: readonly AppendedBatch[]): Promise<void> {
    assert(!this.isClosing, 'append to a closing segment');
    const startPosition = this.sizeBytes;
    await this.file.writev(buffers, startPosition);
    let position = startPosition;
    for (const batch of batches) {
      if (batch.baseOffset !== this.nextOffset) throw new AssertionError(`batch ${batch.baseOffset} does not follow ${this.nextOffset}`);
      this.indexer.onBatch(position, batch.baseOffset, batch.lastOffset, batch.maxTimestampMs, batch.sizeBytes);
      position += batch.sizeBytes;
      this.nextOffset = batch.lastOffset + 1;
    }
    // The caller validated these batches (CRC included) before they were written.
    if (this.verifiedEndPosition === startPosition) this.verifiedEndPosition = position;
    this.sizeBytes = position;
  }

  /**
   * fdatasync; then everything written before the call is durable. One fdatasync of the file at a
   * time: Linux reports a writeback error to only one of two concurrent fdatasyncs, so the other
   * would mark lost bytes durable. A call arriving during one shares its outcome (its error too) and
   * starts another only when it must cover bytes written after that one began.
   */
  async sync(): Promise<void> {
    // Linux reports a writeback error to one fdatasync only: after a failure, a later fsync would
    // succeed over lost bytes. The first failure stands for every later sync of this segment.
    if (this.syncFailure) throw this.syncFailure;
    const targetSizeBytes = this.sizeBytes;
    // Each round awaits an fsync that raised the durable mark or throws; the second one covers the target.
    for (let round = 0; this.durableSizeBytes < targetSizeBytes; round++) {
      assert(round < 3, 'a segment sync covers its target within two fsyncs');
      this.syncInProgress ??= this.syncOnce().finally(() => {
        this.syncInProgress = undefined;
      });
      await this.syncInProgress;
    }
  }

  private async syncOnce(): Promise<void> {
    const sizeBytes = this.sizeBytes;
    const nextOffset = this.nextOffset;
    try {
      await this.file.datasync();
    } catch (error) {
      this.syncFailure ??= error as Error;
      throw error;
    }
    this.durableSizeBytes = Math.max(this.durableSizeBytes, sizeBytes);
    this.durableNextOffset = Math.max(this.durableNextOffset, nextOffset);
  }

  /** Writes both indexes (with the final time entry) for a segment that takes no more appends. */
  async persistIndexes(): Promise<void> {
    this.indexer.seal();
    await this.fs.writeFileAtomic(this.paths.offsetIndex, this.indexer.offsetIndex.encode());
    await this.fs.writeFileAtomic(this.paths.timeIndex, this.indexer.timeIndex.encode());
  }

  /**
   * After a failed append (a full disk): cuts whatever the failed write left after `sizeBytes` (a
   * short write leaves part of its bytes), and fsyncs the cut so that a crash cannot bring back bytes
   * of appends that were refused. The fsync waits its turn like sync()'s, and a failure of it sticks
   * the same way.
   */
  async discardUnwrittenTail(): Promise<void> {
    if ((await this.file.sizeBytes()) === this.sizeBytes) return;
    await this.file.truncate(this.sizeBytes);
    if (this.syncFailure) throw this.syncFailure;
    for (let round = 0; this.syncInProgress; round++) {
      assert(round < 1_000, 'a segment runs one fsync at a time');
      await this.syncInProgress.catch(() => undefined);
    }
    if (this.syncFailure) throw this.syncFailure;
    this.syncInProgress = this.syncOnce().finally(() => {
      this.syncInProgress = undefined;
    });
    await this.syncInProgress;
  }

  async truncateTo(sizeBytes: number): Promise<void> {
    await this.file.truncate(sizeBytes);
    await this.file.datasync();
  }

  /**
   * Whole batches starting with the one that holds `offset`, up to `maxBytes` (but at least one whole
   * batch, so a consumer always makes progress), read only below `endPosition` (exclusive).
   * Undefined when no batch at or after `offset` lies below `endPosition`. Throws DamagedBatchError
   * when the batch that holds `offset`, or a header on the way to it from its index entry, is damaged
   * (see batch-header-check.ts): never serves records under offsets they were not written with.
   */
  async read(offset: number, maxBytes: number, endPosition: number): Promise<SegmentReadResult | undefined> {
    const walker = new BatchWalker(this.file, this.indexer.offsetIndex.lookup(offset), endPosition, maxBytes + MIN_READ_BYTES);
    for (;;) {
      const step = await walker.next();
      if (step.kind === 'end') return undefined;
      if (step.kind === 'broken') throw new DamagedBatchError(this.paths.log, step.position, step.expectedOffset, this.nextOffset, step.reason);
      if (step.nextOffset <= offset) continue;
      // Take more whole batches from the same chunk while they fit in maxBytes. Each one's header is
      // checked before it is taken; the first is the walker's.
      const { chunk } = step;
      const start = step.at;
      let at = step.at;
      let position = step.position;
      let sizeBytes = step.sizeBytes;
      let baseOffset = step.baseOffset;
      let nextOffset = step.nextOffset;
      for (;;) {
        const end = at + sizeBytes;
        const nextPosition = position + sizeBytes;
        const nextSizeBytes = readBatchSize(chunk, end);
        // A sound header where this batch's length says the next one starts confirms that length,
        // which a CRC verdict cached from earlier does not cover (a length grown to reach exactly the
        // end would pass everything else): without one, the CRC is checked again.
        const hasNextHeader = nextSizeBytes !== undefined && chunk.length - end >= BATCH_HEADER_BYTES;
        const isNextSound = hasNextHeader && batchHeaderFault(chunk, end, nextOffset, endPosition - nextPosition) === undefined;
        if (!this.isVerified(chunk, at, sizeBytes, position, isNextSound)) {
          // A damaged batch after the first ends this read; the next read starts at it and reports it.
          if (at === start) throw new DamagedBatchError(this.paths.log, position, baseOffset, nextOffset, 'its CRC-32C does not match its bytes');
          return { batches: chunk.subarray(start, at), nextOffset: baseOffset };
        }
        if (!isNextSound || end + nextSizeBytes! > chunk.length || end + nextSizeBytes! - start > maxBytes) {
          return { batches: chunk.subarray(start, end), nextOffset };
        }
        at = end;
        position = nextPosition;
        sizeBytes = nextSizeBytes!;
        baseOffset = nextOffset;
        nextOffset = offsetAfterBatch(chunk, at, baseOffset);
      }
    }
  }

  /**
   * Whether the batch at `position` (held in `chunk` at `at`) is intact. Its CRC is checked at most
   * once while the batch's length is confirmed by what follows it; otherwise every time.
   */
  private isVerified(chunk: Buffer, at: number, sizeBytes: number, position: number, isLengthConfirmed: boolean): boolean {
    if (isLengthConfirmed && position + sizeBytes <= this.verifiedEndPosition) return true;
    if (!isBatchCrcValid(chunk, at, sizeBytes)) return false;
    if (position === this.verifiedEndPosition) this.verifiedEndPosition = position + sizeBytes;
    return true;
  }

  /**
   * The first offset at or after `minOffset` whose record timestamp is >= timestampMs, among batches
   * below `endPosition`, or undefined if there is none. Decodes only the one batch where the answer lies.
   */
  async offsetForTimestamp(timestampMs: number, endPosition: number, minOffset = 0): Promise<number | undefined> {
    if (this.maxTimestampMs < timestampMs) return undefined;
    const before = this.indexer.timeIndex.lastEntryBefore(timestampMs);
    const startOffset = Math.max(before ? before.offset + 1 : this.baseOffset, minOffset);
    const walker = new BatchWalker(this.file, this.indexer.offsetIndex.lookup(startOffset), endPosition);
    for (;;) {
      const step = await walker.next();
      if (step.kind === 'end') return undefined;
      // Damage is not "no such time": answering the end would skip everything after it.
      if (step.kind === 'broken') throw new DamagedBatchError(this.paths.log, step.position, step.expectedOffset, this.nextOffset, step.reason);
      let records;
      try {
        if (readBatchHeader(step.chunk, step.at).maxTimestampMs < timestampMs) continue;
        ({ records } = decodeRecordBatch(step.chunk.subarray(step.at, step.at + step.sizeBytes), 0));
      } catch (error) {
        if (!(error instanceof StrataError)) throw error;
        throw new DamagedBatchError(this.paths.log, step.position, step.baseOffset, step.nextOffset, error.message);
      }
      const found = records.find((r) => r.timestampMs >= timestampMs && r.offset >= startOffset);
      if (found) return found.offset;
    }
  }

  /** Takes a reader's reference; false when the segment is closing (deleted by retention, log closed). */
  tryAcquire(): boolean {
    if (this.isClosing) return false;
    this.references++;
    return true;
  }

  release(): void {
    assert(this.references > 0, 'release without acquire');
    this.references--;
    if (this.references === 0 && this.onReleased) this.onReleased();
  }

  /** Closes the file once every reader has released it. */
  close(): Promise<void> {
    if (this.closed) return this.closed;
    this.isClosing = true;
    this.closed = (async () => {
      if (this.references > 0) await new Promise<void>((resolve) => (this.onReleased = resolve));
      await this.file.close();
    })();
    return this.closed;
  }

  /** Closes and removes the files; the .log goes first, so a crash leaves only orphan indexes. */
  async delete(): Promise<void> {
    await this.close();
    await this.fs.unlink(this.paths.log);
    for (const path of [this.paths.offsetIndex, this.paths.timeIndex]) {
      if (await this.fs.exists(path)) await this.fs.unlink(path);
    }
  }

}
