import { Buffer } from 'node:buffer';
import { MAX_BATCH_BYTES_LIMIT } from '../core/limits.js';
import { BATCH_HEADER_BYTES, LOG_OVERHEAD_BYTES } from '../format/record-batch-layout.js';
import { readBatchSize } from '../format/record-batch.js';
import type { FileHandlePort } from './file-system.js';

export const WALK_CHUNK_BYTES = 1024 * 1024;

export type WalkStep =
  /** A whole batch: `chunk.subarray(at, at + sizeBytes)` holds its bytes (not yet CRC-checked). */
  | { kind: 'batch'; position: number; chunk: Buffer; at: number; sizeBytes: number }
  /** What starts at `position` cannot be a whole batch: too short, bad length, or cut off by `end`. */
  | { kind: 'broken'; position: number; reason: string }
  | { kind: 'end'; position: number };

/**
 * Walks the batches of a segment file between two byte positions ([start, end), end exclusive) by
 * their length fields, reading large chunks so that a walk costs few system calls. It checks only
 * framing; callers validate CRCs and offsets as they need.
 */
export class BatchWalker {
  private chunk: Buffer = Buffer.alloc(0);
  private chunkStart = 0;
  private position: number;

  constructor(
    private readonly file: FileHandlePort,
    startPosition: number,
    private readonly endPosition: number,
    private readonly chunkBytes = WALK_CHUNK_BYTES,
  ) {
    this.position = startPosition;
  }

  async next(): Promise<WalkStep> {
    const position = this.position;
    if (position >= this.endPosition) return { kind: 'end', position };
    let at = position - this.chunkStart;
    let sizeBytes = at >= 0 ? readBatchSize(this.chunk, at) : undefined;
    if (sizeBytes === undefined || at + Math.max(sizeBytes, BATCH_HEADER_BYTES) > this.chunk.length) {
      await this.fill(position, Math.max(this.chunkBytes, sizeBytes ?? 0));
      at = 0;
      sizeBytes = readBatchSize(this.chunk, 0);
      // The length came with this read: a batch larger than a chunk takes one more, of its own size.
      if (sizeBytes !== undefined && sizeBytes > this.chunk.length && sizeBytes <= MAX_BATCH_BYTES_LIMIT) await this.fill(position, sizeBytes);
    }
    if (sizeBytes === undefined) {
      return { kind: 'broken', position, reason: `only ${this.chunk.length} bytes left, fewer than a length field` };
    }
    if (sizeBytes < BATCH_HEADER_BYTES || sizeBytes > MAX_BATCH_BYTES_LIMIT) {
      return { kind: 'broken', position, reason: `implausible batch size ${sizeBytes}` };
    }
    if (at + sizeBytes > this.chunk.length) {
      const available = this.chunk.length - at;
      return { kind: 'broken', position, reason: `batch of ${sizeBytes} bytes cut off after ${available} bytes` };
    }
    this.position = position + sizeBytes;
    return { kind: 'batch', position, chunk: this.chunk, at, sizeBytes };
  }

  private async fill(position: number, wantBytes: number): Promise<void> {
    const length = Math.min(wantBytes, MAX_BATCH_BYTES_LIMIT + LOG_OVERHEAD_BYTES, this.endPosition - position);
    const buffer = Buffer.allocUnsafe(length);
    const bytesRead = await this.file.read(buffer, 0, length, position);
    this.chunk = buffer.subarray(0, bytesRead);
    this.chunkStart = position;
  }
}
