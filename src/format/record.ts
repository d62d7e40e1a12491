import { CorruptBatchError, InvalidArgumentError } from '../core/errors.js';
import type { BatchHeader } from './record-batch.js';
import { MIN_RECORD_BODY_BYTES } from './record-batch-layout.js';
import { decodeVarint, decodeVarlong, encodeVarint, encodeVarlong, sizeOfVarint, sizeOfVarlong } from './varint.js';

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

/**
 * Decodes exactly header.recordCount records that must fill `records` exactly. Every length is checked
 * against the end of its own record, so a bad length cannot read into the next record or past the batch.
 */
export function decodeRecords(
  records: Buffer,
  header: BatchHeader,
  logAppendTimeMs: number | undefined,
): DecodedRecord[] {
  const decoded: DecodedRecord[] = [];
  let pos = 0;
  for (let i = 0; i < header.recordCount; i++) {
    const length = decodeVarint(records, pos);
    if (length.value < MIN_RECORD_BODY_BYTES) throw corrupt(i, `length ${length.value} is below the minimum`);
    const end = length.nextPosition + length.value;
    if (end > records.length) throw corrupt(i, 'runs past the end of the records');
    pos = length.nextPosition;

    const attributes = records.readInt8(pos++);
    const timestampDelta = decodeVarlong(records, pos, end);
    const offsetDelta = decodeVarint(records, timestampDelta.nextPosition, end);
    const timestampMs = logAppendTimeMs ?? header.baseTimestampMs + timestampDelta.value;
    if (!Number.isSafeInteger(timestampMs)) throw corrupt(i, 'has a timestamp outside the safe integer range');
    const offset = header.baseOffset + offsetDelta.value;
    if (!Number.isSafeInteger(offset) || offset < 0) throw corrupt(i, `has an invalid offset ${offset}`);

    const key = readNullableBytes(records, offsetDelta.nextPosition, end, i, 'key');
    const value = readNullableBytes(records, key.nextPosition, end, i, 'value');
    const headerCount = decodeVarint(records, value.nextPosition, end);
    if (headerCount.value < 0) throw corrupt(i, `has a negative header count ${headerCount.value}`);
    pos = headerCount.nextPosition;
    const headers: RecordHeader[] = [];
    for (let h = 0; h < headerCount.value; h++) {
      const headerKey = readNullableBytes(records, pos, end, i, 'header key');
      // Kafka rejects a null header key: only header values are nullable.
      if (headerKey.bytes === null) throw corrupt(i, 'has a header with a null key');
      const headerValue = readNullableBytes(records, headerKey.nextPosition, end, i, 'header value');
      headers.push({ key: headerKey.bytes.toString('utf8'), value: headerValue.bytes });
      pos = headerValue.nextPosition;
    }
    if (pos !== end) throw corrupt(i, `has ${end - pos} bytes after its last field`);
    decoded.push({ offset, timestampMs, key: key.bytes, value: value.bytes, headers, attributes });
  }
  if (pos !== records.length) {
    throw new CorruptBatchError(`${records.length - pos} bytes follow the ${header.recordCount} records of the batch`);
  }
  return decoded;
}

function readNullableBytes(
  buf: Buffer,
  position: number,
  end: number,
  recordIndex: number,
  field: string,
): { bytes: Buffer | null; nextPosition: number } {
  const length = decodeVarint(buf, position, end);
  if (length.value === NULL_LENGTH) return { bytes: null, nextPosition: length.nextPosition };
  if (length.value < 0) throw corrupt(recordIndex, `has ${field} length ${length.value}`);
  const bytesEnd = length.nextPosition + length.value;
  if (bytesEnd > end) throw corrupt(recordIndex, `has a ${field} that runs past the end of the record`);
  return { bytes: buf.subarray(length.nextPosition, bytesEnd), nextPosition: bytesEnd };
}

function corrupt(recordIndex: number, problem: string): CorruptBatchError {
  return new CorruptBatchError(`record ${recordIndex} ${problem}`);
}
