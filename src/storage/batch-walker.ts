import { Buffer } from 'node:buffer';
import { MAX_BATCH_BYTES_LIMIT, WALK_CHUNK_BYTES } from '../core/limits.js';
import { BATCH_HEADER_BYTES, LOG_OVERHEAD_BYTES } from '../format/record-batch-layout.js';
import { readBatchSize } from '../format/record-batch.js';
import { batchHeaderFault, offsetAfterBatch } from './batch-header-check.js';
import type { FileHandlePort } from './file-system.js';

/** Where a walk begins: a batch boundary and the base offset of the batch there (an index entry). */
export interface WalkStart {
  position: number;
  offset: number;
}

export type WalkStep =
  /**
   * A whole batch whose header is the one the log holds here (see batch-header-check.ts):
   * `chunk.subarray(at, at + sizeBytes)` holds its bytes (not yet CRC-checked), its offsets are
   * [baseOffset, nextOffset).
   */
  | { kind: 'batch'; position: number; chunk: Buffer; at: number; sizeBytes: number; baseOffset: number; nextOffset: number }
  /**
   * What starts at `position` is not the batch the log needs there: too short, cut off by `end`, or a
   * header that fails the checks the CRC does not make. `expectedOffset` is where it should start.
   */
  | { kind: 'broken'; position: number; expectedOffset: number; reason: string }
  | { kind: 'end'; position: number };

/**
 * Walks the batches of a segment file between two byte positions ([start, end), end exclusive) by
 * their length fields, reading large chunks so that a walk costs few system calls. It checks every
 * header for what the CRC does not cover, offsets continuing from the start's offset included; the
 * CRCs are for callers to check as they need.
 */
export class BatchWalker {
  private chunk: Buffer = Buffer.alloc(0);
  private chunkStart = 0;
  private position: number;
  private expectedOffset: number;

  constructor(
    private readonly file: FileHandlePort,
    start: WalkStart,
    private readonly endPosition: number,
    private readonly chunkBytes = WALK_CHUNK_BYTES,
    /**
     * Read every chunk that fits into this one buffer instead of a new one: only for a caller that is
     * done with a step's bytes before it asks for the next (a startup walk; not a read, which returns them).
     */
    private readonly scratch?: Buffer,
  ) {
    this.position = start.position;
    this.expectedOffset = start.offset;
  }

  /**
   * The next step when it needs no read (the batch lies in the chunk already read), else undefined:
   * a walk that is done with each step at once takes this first and skips a promise per batch.
   */
  nextInChunk(): WalkStep | undefined {
    const position = this.position;
    if (position >= this.endPosition) return { kind: 'end', position };
    const at = position - this.chunkStart;
    const sizeBytes = at >= 0 ? readBatchSize(this.chunk, at) : undefined;
    if (sizeBytes === undefined || at + Math.max(sizeBytes, BATCH_HEADER_BYTES) > this.chunk.length) return undefined;
    return this.stepAt(position, at, sizeBytes);
  }

  async next(): Promise<WalkStep> {
    const ready = this.nextInChunk();
    if (ready) return ready;
    const position = this.position;
    const at = position - this.chunkStart;
    await this.fill(position, Math.max(this.chunkBytes, (at >= 0 ? readBatchSize(this.chunk, at) : undefined) ?? 0));
    const sizeBytes = readBatchSize(this.chunk, 0);
    // The length came with this read: a batch larger than a chunk takes one more, of its own size.
    if (sizeBytes !== undefined && sizeBytes > this.chunk.length && sizeBytes <= MAX_BATCH_BYTES_LIMIT) await this.fill(position, sizeBytes);
    return this.stepAt(position, 0, sizeBytes);
  }

  /** The step for the batch at `position`, held in the chunk at `at` as far as the chunk goes. */
  private stepAt(position: number, at: number, sizeBytes: number | undefined): WalkStep {
    const expectedOffset = this.expectedOffset;
    if (sizeBytes === undefined || this.chunk.length - at < BATCH_HEADER_BYTES) {
      return { kind: 'broken', position, expectedOffset, reason: `only ${this.chunk.length - at} bytes left, fewer than a batch header` };
    }
    const fault = batchHeaderFault(this.chunk, at, expectedOffset, this.endPosition - position);
    if (fault !== undefined) return { kind: 'broken', position, expectedOffset, reason: fault };
    if (at + sizeBytes > this.chunk.length) {
      const available = this.chunk.length - at;
      return { kind: 'broken', position, expectedOffset, reason: `batch of ${sizeBytes} bytes cut off after ${available} bytes` };
    }
    const nextOffset = offsetAfterBatch(this.chunk, at, expectedOffset);
    this.position = position + sizeBytes;
    this.expectedOffset = nextOffset;
    return { kind: 'batch', position, chunk: this.chunk, at, sizeBytes, baseOffset: expectedOffset, nextOffset };
  }

  private async fill(position: number, wantBytes: number): Promise<void> {
    const length = Math.min(wantBytes, MAX_BATCH_BYTES_LIMIT + LOG_OVERHEAD_BYTES, this.endPosition - position);
    const buffer = this.scratch && this.scratch.length >= length ? this.scratch : Buffer.allocUnsafe(length);
    const bytesRead = await this.file.read(buffer, 0, length, position);
    this.chunk = buffer.subarray(0, bytesRead);
    this.chunkStart = position;
  }
}
