import { Buffer } from 'node:buffer';
import { StrataError } from '../core/errors.js';
import { MAX_BATCH_BYTES_LIMIT, WALK_CHUNK_BYTES } from '../core/limits.js';
import { MAGIC_POSITION, MAGIC_V2 } from '../format/record-batch-layout.js';
import { lastOffsetOf, readBatchSize, validateBatch } from '../format/record-batch.js';
import { BatchWalker } from './batch-walker.js';
import type { FileHandlePort } from './file-system.js';
import { SegmentIndexer } from './segment-indexer.js';

export interface SegmentDamage {
  /** Byte position of the first byte that is not part of a valid batch. */
  position: number;
  /** The offset the next batch should have started with. */
  expectedOffset: number;
  reason: string;
}

export interface ScanOutcome {
  indexer: SegmentIndexer;
  /** End of the last valid batch (exclusive): everything before it is whole and CRC-checked. */
  validSizeBytes: number;
  /** One past the last offset of the last valid batch. */
  nextOffset: number;
  damage?: SegmentDamage;
}

/**
 * Reads a segment from its start, checks every batch (framing, CRC-32C, counts, and that offsets are
 * contiguous from the segment's base offset) and rebuilds both indexes on the way. Stops at the first
 * batch that fails, reporting where; it never changes the file.
 */
export async function scanSegment(
  file: FileHandlePort,
  baseOffset: number,
  fileSizeBytes: number,
  indexIntervalBytes: number,
): Promise<ScanOutcome> {
  const indexer = new SegmentIndexer(baseOffset, indexIntervalBytes);
  const walker = new BatchWalker(file, { position: 0, offset: baseOffset }, fileSizeBytes);
  let nextOffset = baseOffset;
  for (;;) {
    const step = await walker.next();
    if (step.kind === 'end') return { indexer, validSizeBytes: step.position, nextOffset };
    if (step.kind === 'broken') {
      return { indexer, validSizeBytes: step.position, nextOffset, damage: { position: step.position, expectedOffset: step.expectedOffset, reason: step.reason } };
    }
    let reason: string | undefined;
    try {
      const header = validateBatch(step.chunk, step.at, { maxBatchBytes: MAX_BATCH_BYTES_LIMIT });
      if (header.baseOffset !== nextOffset) {
        reason = `batch base offset ${header.baseOffset} where ${nextOffset} was expected`;
      } else {
        indexer.onBatch(step.position, header.baseOffset, lastOffsetOf(header), header.maxTimestampMs, step.sizeBytes);
        nextOffset = lastOffsetOf(header) + 1;
      }
    } catch (error) {
      if (!(error instanceof StrataError)) throw error;
      reason = error.message;
    }
    if (reason !== undefined) {
      return {
        indexer,
        validSizeBytes: step.position,
        nextOffset,
        damage: { position: step.position, expectedOffset: nextOffset, reason },
      };
    }
  }
}

/**
 * Looks for any valid batch that starts after `fromPosition` and belongs after `minBaseOffset`. Finding
 * one means the damage is in the middle of the log, not a torn tail: cutting there would drop batches
 * that were once written whole. Byte-by-byte search, bounded by the file size, run only after damage.
 */
export async function findValidBatchAfter(
  file: FileHandlePort,
  fromPosition: number,
  fileSizeBytes: number,
  minBaseOffset: number,
): Promise<{ position: number; baseOffset: number } | undefined> {
  let chunkStart = fromPosition + 1;
  while (chunkStart < fileSizeBytes) {
    const length = Math.min(WALK_CHUNK_BYTES, fileSizeBytes - chunkStart);
    const chunk = Buffer.allocUnsafe(length);
    const bytesRead = await file.read(chunk, 0, length, chunkStart);
    for (let at = 0; at + MAGIC_POSITION < bytesRead; at++) {
      if (chunk[at + MAGIC_POSITION] !== MAGIC_V2) continue;
      const sizeBytes = readBatchSize(chunk, at);
      if (sizeBytes === undefined || sizeBytes > MAX_BATCH_BYTES_LIMIT) continue;
      if (chunkStart + at + sizeBytes > fileSizeBytes) continue;
      let candidate = chunk;
      let candidateAt = at;
      if (at + sizeBytes > bytesRead) {
        candidate = Buffer.allocUnsafe(sizeBytes);
        await file.read(candidate, 0, sizeBytes, chunkStart + at);
        candidateAt = 0;
      }
      try {
        const header = validateBatch(candidate, candidateAt, { maxBatchBytes: MAX_BATCH_BYTES_LIMIT });
        if (header.baseOffset >= minBaseOffset) return { position: chunkStart + at, baseOffset: header.baseOffset };
      } catch (error) {
        if (!(error instanceof StrataError)) throw error;
      }
    }
    // Overlap by a header so that a batch straddling two chunks is still tried.
    chunkStart += Math.max(1, bytesRead - MAGIC_POSITION);
  }
  return undefined;
}
