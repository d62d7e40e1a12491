import { CorruptBatchError } from '../core/errors.js';
import { type DecodedRecord, decodeRecordBatch, iterateBatches } from '../format/index.js';
import type { WindowBatch } from './partition-queue.js';
import type { QueuePartitionView } from './queue-coordinator-api.js';

/** How much one read of a partition asks for when the size is not known (records for dead letters, the oldest timestamp). */
const RECORD_READ_BYTES = 64 * 1024;

/** The bytes of `needed` (window batches in ascending offset order) if the window holds them all, concatenated; else undefined. */
export function heldWindowBytes(needed: readonly WindowBatch[]): Buffer | undefined {
  if (needed.length === 1) return needed[0]!.bytes;
  const parts: Buffer[] = [];
  for (const batch of needed) {
    if (!batch.bytes) return undefined;
    parts.push(batch.bytes);
  }
  return Buffer.concat(parts);
}

/**
 * The stored bytes of `needed` (window batches in ascending offset order), concatenated: a delivery's
 * `batches`. Those the window holds are taken as they are; the others are read back from the log,
 * consecutive ones together. Every needed batch is returned or the read fails (OffsetOutOfRangeError
 * when retention removed it meanwhile).
 */
export async function readWindowBatches(view: QueuePartitionView, needed: readonly WindowBatch[], where: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  let i = 0;
  while (i < needed.length) {
    const held = needed[i]!.bytes;
    if (held) {
      parts.push(held);
      i++;
      continue;
    }
    let runEnd = i + 1;
    let runBytes = needed[i]!.sizeBytes;
    while (runEnd < needed.length && !needed[runEnd]!.bytes && needed[runEnd]!.baseOffset === needed[runEnd - 1]!.lastOffset + 1) runBytes += needed[runEnd++]!.sizeBytes;
    const { batches } = await view.read(needed[i]!.baseOffset, runBytes);
    const before = i;
    for (const { position, header } of iterateBatches(batches)) {
      if (i >= runEnd || header.baseOffset > needed[i]!.baseOffset) break;
      if (header.baseOffset < needed[i]!.baseOffset) continue;
      parts.push(batches.subarray(position, position + header.sizeBytes));
      i++;
    }
    if (i === before) throw new CorruptBatchError(`${where}: the log returned no batch at offset ${needed[i]!.baseOffset}, where one was read before`);
  }
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}

/**
 * The records at `offsets` (ascending), decoded (CRC checked). A record the log does not hold fails
 * the read (OffsetOutOfRangeError below the log start; CorruptBatchError otherwise).
 */
export async function readRecords(view: QueuePartitionView, offsets: readonly number[], where: string): Promise<Map<number, DecodedRecord>> {
  const found = new Map<number, DecodedRecord>();
  let i = 0;
  while (i < offsets.length) {
    const { batches } = await view.read(offsets[i]!, RECORD_READ_BYTES);
    const before = i;
    for (const { position, header } of iterateBatches(batches)) {
      const lastOffset = header.baseOffset + header.lastOffsetDelta;
      if (lastOffset < offsets[i]!) continue;
      if (header.baseOffset > offsets[i]!) break;
      for (const record of decodeRecordBatch(batches, position).records) found.set(record.offset, record);
      while (i < offsets.length && offsets[i]! <= lastOffset) {
        if (!found.has(offsets[i]!)) throw new CorruptBatchError(`${where}: the batch [${header.baseOffset}, ${lastOffset}] holds no record at offset ${offsets[i]}`);
        i++;
      }
      if (i >= offsets.length) break;
    }
    if (i === before) throw new CorruptBatchError(`${where}: the log returned no batch holding offset ${offsets[i]}`);
  }
  return found;
}
