import type { Buffer } from 'node:buffer';
import { CorruptBatchError } from '../core/errors.js';
import { MAX_BATCH_BYTES_LIMIT } from '../core/limits.js';
import { gunzipRecords, maxInflatedRecordsBytes } from './compressed-records.js';
import { CompressionCodec, RECORDS_POSITION } from './record-batch-layout.js';
import type { BatchHeader } from './record-batch.js';
import { readVarint, varintCursor } from './varint.js';

/**
 * Told each record's key and value where they lie: `buf[start, start + length)`, or length -1 for a
 * null key or value. `recordIndex` counts across all batches of the request, from 0.
 */
export type RecordFieldsVisitor = (recordIndex: number, buf: Buffer, keyStart: number, keyLength: number, valueStart: number, valueLength: number) => void;

/**
 * Walks the records of `batches` (concatenated, already validated: validateBatches) in place and
 * shows `visit` each one's key and value, with no copy and no object per record: plain batches are
 * read where they are, gzip ones inflated once more (bounded by the topic's `maxBatchBytes`, as
 * validation bounds them). Headers are skipped. Lengths are still checked against each record's end,
 * so a record can never be read past.
 */
export function visitRecordFields(batches: Buffer, headers: readonly BatchHeader[], visit: RecordFieldsVisitor, options: { maxBatchBytes?: number } = {}): void {
  let position = 0;
  let recordIndex = 0;
  for (const header of headers) {
    const areaStart = position + RECORDS_POSITION;
    const batchEnd = position + header.sizeBytes;
    if (header.compression === CompressionCodec.gzip) {
      const inflated = gunzipRecords(batches.subarray(areaStart, batchEnd), position, maxInflatedRecordsBytes(options.maxBatchBytes ?? MAX_BATCH_BYTES_LIMIT));
      visitRecords(inflated, 0, inflated.length, header.recordCount, recordIndex, position, visit);
    } else {
      visitRecords(batches, areaStart, batchEnd, header.recordCount, recordIndex, position, visit);
    }
    recordIndex += header.recordCount;
    position = batchEnd;
  }
}

function visitRecords(buf: Buffer, start: number, areaEnd: number, recordCount: number, firstIndex: number, batchPosition: number, visit: RecordFieldsVisitor): void {
  let pos = start;
  for (let i = 0; i < recordCount; i++) {
    const length = smallVarint(buf, pos, areaEnd);
    pos = varintCursor.nextPosition;
    const end = pos + length;
    if (length < 0 || end > areaEnd) throw corrupt(batchPosition, i, 'runs past the end of its batch');
    // attributes (1 byte), then the timestamp and offset deltas, skipped without decoding them.
    const afterDeltas = skipVarint(buf, skipVarint(buf, pos + 1, end, batchPosition, i), end, batchPosition, i);
    const keyLength = smallVarint(buf, afterDeltas, end);
    const keyStart = varintCursor.nextPosition;
    if (keyStart + Math.max(0, keyLength) > end) throw corrupt(batchPosition, i, 'has a key past its end');
    const valueLength = smallVarint(buf, keyStart + Math.max(0, keyLength), end);
    const valueStart = varintCursor.nextPosition;
    if (valueStart + Math.max(0, valueLength) > end) throw corrupt(batchPosition, i, 'has a value past its end');
    visit(firstIndex + i, buf, keyStart, keyLength, valueStart, valueLength);
    pos = end;
  }
}

/**
 * readVarint with the one- and two-byte cases inline (lengths under 8 KiB, and -1 for null): the walk
 * is on the produce path of every validated topic, and the general reader's call was most of its cost.
 */
function smallVarint(buf: Buffer, position: number, end: number): number {
  if (position + 1 < end) {
    const first = buf[position]!;
    if (first < 0x80) {
      varintCursor.nextPosition = position + 1;
      return (first >>> 1) ^ -(first & 1);
    }
    const second = buf[position + 1]!;
    if (second < 0x80) {
      const zigzag = (first & 0x7f) | (second << 7);
      varintCursor.nextPosition = position + 2;
      return (zigzag >>> 1) ^ -(zigzag & 1);
    }
  }
  return readVarint(buf, position, end);
}

/** The position after the varint or varlong at `position` (at most 10 bytes, within `end`). */
function skipVarint(buf: Buffer, position: number, end: number, batchPosition: number, recordIndex: number): number {
  const limit = Math.min(end, position + 10);
  for (let pos = position; pos < limit; pos++) if (buf[pos]! < 0x80) return pos + 1;
  throw corrupt(batchPosition, recordIndex, 'has a varint that runs past its end or 10 bytes');
}

function corrupt(batchPosition: number, recordIndex: number, problem: string): CorruptBatchError {
  return new CorruptBatchError(`record ${recordIndex} of the batch at byte ${batchPosition} ${problem}`);
}
