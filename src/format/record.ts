import { CorruptBatchError } from '../core/errors.js';
import type { BatchHeader } from './record-batch.js';
import { MIN_RECORD_BODY_BYTES } from './record-batch-layout.js';
import { readVarint, readVarlong, varintCursor } from './varint.js';

/**
 * One record inside a batch's records area (layout in record-batch-layout.ts). Internal to the format
 * module: record-batch-codec.ts is the public face.
 */

export interface RecordHeader {
  key: string;
  value: Buffer | null;
}

export interface DecodedRecord {
  offset: number;
  timestampMs: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
  attributes: number;
}

const NULL_LENGTH = -1;

/** Makes the caller's record object from a decoded record's fields (one object per record, no copy). */
export type RecordFactory<T> = (offset: number, timestampMs: number, key: Buffer | null, value: Buffer | null, headers: RecordHeader[], attributes: number) => T;

export const makeDecodedRecord: RecordFactory<DecodedRecord> = (offset, timestampMs, key, value, headers, attributes) => ({ offset, timestampMs, key, value, headers, attributes });

/**
 * Decodes exactly header.recordCount records that must fill `records` exactly. Every length is checked
 * against the end of its own record, so a bad length cannot read into the next record or past the batch.
 */
export function decodeRecords(records: Buffer, header: BatchHeader, logAppendTimeMs: number | undefined): DecodedRecord[] {
  return decodeRecordsWith(records, header, logAppendTimeMs, makeDecodedRecord);
}

/**
 * decodeRecords making each record with `make`: a reader that wants its own record shape (the
 * consumer's, with topic and partition) gets one object per record instead of two. Keys, values and
 * header values are views into `records`.
 */
export function decodeRecordsWith<T>(records: Buffer, header: BatchHeader, logAppendTimeMs: number | undefined, make: RecordFactory<T>): T[] {
  const decoded: T[] = new Array(header.recordCount);
  let pos = 0;
  for (let i = 0; i < header.recordCount; i++) {
    const length = readVarint(records, pos);
    if (length < MIN_RECORD_BODY_BYTES) throw corrupt(i, `length ${length} is below the minimum`);
    pos = varintCursor.nextPosition;
    const end = pos + length;
    if (end > records.length) throw corrupt(i, 'runs past the end of the records');

    const attributes = records.readInt8(pos++);
    const timestampDelta = readVarlong(records, pos, end);
    const offsetDelta = readVarint(records, varintCursor.nextPosition, end);
    pos = varintCursor.nextPosition;
    const timestampMs = logAppendTimeMs ?? header.baseTimestampMs + timestampDelta;
    if (!Number.isSafeInteger(timestampMs)) throw corrupt(i, 'has a timestamp outside the safe integer range');
    const offset = header.baseOffset + offsetDelta;
    if (!Number.isSafeInteger(offset) || offset < 0) throw corrupt(i, `has an invalid offset ${offset}`);

    const key = readNullableBytes(records, pos, end, i, 'key');
    const value = readNullableBytes(records, varintCursor.nextPosition, end, i, 'value');
    const headerCount = readVarint(records, varintCursor.nextPosition, end);
    if (headerCount < 0) throw corrupt(i, `has a negative header count ${headerCount}`);
    pos = varintCursor.nextPosition;
    const headers: RecordHeader[] = [];
    for (let h = 0; h < headerCount; h++) {
      const headerKey = readNullableBytes(records, pos, end, i, 'header key');
      // Kafka rejects a null header key: only header values are nullable.
      if (headerKey === null) throw corrupt(i, 'has a header with a null key');
      const headerValue = readNullableBytes(records, varintCursor.nextPosition, end, i, 'header value');
      headers.push({ key: headerKey.toString('utf8'), value: headerValue });
      pos = varintCursor.nextPosition;
    }
    if (pos !== end) throw corrupt(i, `has ${end - pos} bytes after its last field`);
    decoded[i] = make(offset, timestampMs, key, value, headers, attributes);
  }
  if (pos !== records.length) {
    throw new CorruptBatchError(`${records.length - pos} bytes follow the ${header.recordCount} records of the batch`);
  }
  return decoded;
}

/** A nullable byte field: the bytes (a view) or null; leaves the position after it in varintCursor. */
function readNullableBytes(buf: Buffer, position: number, end: number, recordIndex: number, field: string): Buffer | null {
  const length = readVarint(buf, position, end);
  if (length === NULL_LENGTH) return null;
  if (length < 0) throw corrupt(recordIndex, `has ${field} length ${length}`);
  const bytesStart = varintCursor.nextPosition;
  const bytesEnd = bytesStart + length;
  if (bytesEnd > end) throw corrupt(recordIndex, `has a ${field} that runs past the end of the record`);
  varintCursor.nextPosition = bytesEnd;
  return buf.subarray(bytesStart, bytesEnd);
}

function corrupt(recordIndex: number, problem: string): CorruptBatchError {
  return new CorruptBatchError(`record ${recordIndex} ${problem}`);
}
