import { Buffer } from 'node:buffer';
import { StrataError } from '../core/errors.js';
import { WALK_CHUNK_BYTES } from '../core/limits.js';
import { MAX_TIMESTAMP_POSITION } from '../format/record-batch-layout.js';
import { isBatchCrcValid } from '../format/record-batch.js';
import { readInt64BE } from '../format/int64.js';
import { BatchWalker } from './batch-walker.js';
import type { FileHandlePort, FileSystemPort } from './file-system.js';
import { OffsetIndex } from './offset-index.js';
import { segmentPaths } from './segment-files.js';
import type { SegmentDamage } from './segment-scan.js';
import { SegmentIndexer } from './segment-indexer.js';
import { TimeIndex } from './time-index.js';

/** What a segment opened on its index files starts from. */
export interface LoadedSegmentIndexes {
  indexer: SegmentIndexer;
  /** The .log's size: every byte of it holds whole batches. */
  sizeBytes: number;
  /** One past the last offset in the .log. */
  nextOffset: number;
  /** The first batch's largest timestamp, which segment.ms counts from (undefined: an empty file). */
  firstBatchMaxTimestampMs: number | undefined;
}

/**
 * Loads the index files of a segment that was closed cleanly or lies below the recovery point
 * (Segment.openWithIndexes), trusting them after structural checks. Walks every batch header of the
 * file (not the CRCs; see batch-header-check.ts), which also proves each index entry sits on a batch
 * of its offset. Returns the damage when a header fails (a trusted segment was fsynced whole: never a
 * torn write), or undefined when an index file fails a check, so the caller rebuilds the indexes by a
 * full scan (segment-scan.ts).
 */
export async function loadSegmentIndexes(fs: FileSystemPort, directory: string, file: FileHandlePort, baseOffset: number, indexIntervalBytes: number): Promise<LoadedSegmentIndexes | SegmentDamage | undefined> {
  const paths = segmentPaths(directory, baseOffset);
  const fileSizeBytes = await file.sizeBytes();
  if (!(await fs.exists(paths.offsetIndex)) || !(await fs.exists(paths.timeIndex))) return undefined;
  const offsetIndex = OffsetIndex.decode(baseOffset, await fs.readFile(paths.offsetIndex), fileSizeBytes);
  if (!offsetIndex) return undefined;
  const lastEntry = offsetIndex.lastEntry() ?? { offset: baseOffset, position: 0 };
  const walker = new BatchWalker(file, { position: 0, offset: baseOffset }, fileSizeBytes, WALK_CHUNK_BYTES, Buffer.allocUnsafe(WALK_CHUNK_BYTES));
  let entryNumber = 0;
  let nextOffset = baseOffset;
  // The index counters come from the batches after the last entry, as appends left them.
  let tailMaxTimestampMs = -1;
  let tailOffsetOfMax = -1;
  let firstBatchMaxTimestampMs: number | undefined;
  for (;;) {
    const step = walker.nextInChunk() ?? (await walker.next());
    if (step.kind === 'end') break;
    if (step.kind === 'broken') return { position: step.position, expectedOffset: step.expectedOffset, reason: step.reason };
    if (entryNumber < offsetIndex.entryCount) {
      const entry = offsetIndex.entry(entryNumber);
      if (entry.position < step.position) return undefined;
      if (entry.position === step.position) {
        if (entry.offset !== step.baseOffset) return undefined;
        entryNumber++;
      }
    }
    nextOffset = step.nextOffset;
    // Each batch's length is confirmed by the sound header after it; the last one's by its CRC.
    if (step.position + step.sizeBytes === fileSizeBytes && !isBatchCrcValid(step.chunk, step.at, step.sizeBytes)) {
      return { position: step.position, expectedOffset: step.baseOffset, reason: 'the last batch of the segment fails its CRC-32C' };
    }
    if (step.position !== 0 && step.position < lastEntry.position) continue;
    let maxTimestampMs: number;
    try {
      maxTimestampMs = readInt64BE(step.chunk, step.at + MAX_TIMESTAMP_POSITION, 'maxTimestamp');
    } catch (error) {
      // Covered by the CRC, which this walk does not check: a read would find the same damage.
      if (!(error instanceof StrataError)) throw error;
      return { position: step.position, expectedOffset: step.baseOffset, reason: error.message };
    }
    if (step.position === 0) firstBatchMaxTimestampMs = maxTimestampMs;
    if (step.position >= lastEntry.position && maxTimestampMs > tailMaxTimestampMs) {
      tailMaxTimestampMs = maxTimestampMs;
      tailOffsetOfMax = step.nextOffset - 1;
    }
  }
  if (entryNumber < offsetIndex.entryCount) return undefined;
  const timeIndex = TimeIndex.decode(baseOffset, await fs.readFile(paths.timeIndex), nextOffset);
  if (!timeIndex) return undefined;
  const sealed = timeIndex.lastEntry();
  let maxTimestampMs = sealed?.timestampMs ?? -1;
  let offsetOfMaxTimestamp = sealed?.offset ?? -1;
  if (tailMaxTimestampMs > maxTimestampMs) {
    maxTimestampMs = tailMaxTimestampMs;
    offsetOfMaxTimestamp = tailOffsetOfMax;
  }
  const indexer = new SegmentIndexer(baseOffset, indexIntervalBytes, offsetIndex, timeIndex);
  indexer.resumeAfterLoad(fileSizeBytes - lastEntry.position, maxTimestampMs, offsetOfMaxTimestamp, firstBatchMaxTimestampMs);
  return { indexer, sizeBytes: fileSizeBytes, nextOffset, firstBatchMaxTimestampMs };
}
