import { Buffer, isUtf8 } from 'node:buffer';
import { CorruptBatchError, InvalidMessageIdError } from '../core/errors.js';
import { MAX_BATCH_BYTES_LIMIT, MAX_MESSAGE_ID_BYTES } from '../core/limits.js';
import { gunzipRecords, maxInflatedRecordsBytes } from './compressed-records.js';
import { RecordBatchBuilder } from './record-batch-builder.js';
import { decodeRecordBatch } from './record-batch-codec.js';
import { CompressionCodec, RECORDS_POSITION } from './record-batch-layout.js';
import type { BatchHeader } from './record-batch.js';
import { readVarint, readVarlong, varintCursor } from './varint.js';

/**
 * The record header that names a record for duplicate detection (a topic's `dedupe.window.ms`): its
 * value is the id, 1 to MAX_MESSAGE_ID_BYTES bytes of UTF-8, at most once per record. Elsewhere it is
 * an ordinary header.
 */
export const MESSAGE_ID_HEADER = 'strata-message-id';
const MESSAGE_ID_HEADER_BYTES = Buffer.from(MESSAGE_ID_HEADER, 'utf8');

export interface ReadMessageIdsOptions {
  /** The topic's max.message.bytes: bounds what a gzip batch may inflate to. Default: the hard limit. */
  maxBatchBytes?: number;
  /**
   * What a bad id does: 'throw' InvalidMessageIdError (a produce request), or 'skip' it as if the
   * record had none (records read back from the log at startup, maybe written before dedupe was on).
   */
  onInvalid?: 'throw' | 'skip';
}

/**
 * The message id of every record of `batches` (concatenated, already validated: validateBatches),
 * in order across the batches, undefined for a record without one. Reads the records' framing and
 * header keys only; keys and values are skipped, and an id's string is made only for the records
 * that carry one. A gzip batch is inflated again (validation inflated it once to check its framing).
 */
export function readMessageIds(batches: Buffer, headers: readonly BatchHeader[], options: ReadMessageIdsOptions = {}): (string | undefined)[] {
  const ids: (string | undefined)[] = [];
  const maxInflatedBytes = maxInflatedRecordsBytes(options.maxBatchBytes ?? MAX_BATCH_BYTES_LIMIT);
  let position = 0;
  for (const header of headers) {
    const area = batches.subarray(position + RECORDS_POSITION, position + header.sizeBytes);
    const records = header.compression === CompressionCodec.gzip ? gunzipRecords(area, position, maxInflatedBytes) : area;
    readIdsOfRecords(records, header.recordCount, position, options.onInvalid ?? 'throw', ids);
    position += header.sizeBytes;
  }
  return ids;
}

function readIdsOfRecords(records: Buffer, recordCount: number, batchPosition: number, onInvalid: 'throw' | 'skip', ids: (string | undefined)[]): void {
  let pos = 0;
  for (let i = 0; i < recordCount; i++) {
    const length = readVarint(records, pos);
    pos = varintCursor.nextPosition;
    const end = pos + length;
    if (length < 0 || end > records.length) throw corrupt(batchPosition, i, 'runs past the end of its batch');
    pos += 1; // attributes
    readVarlong(records, pos, end); // timestamp delta
    readVarint(records, varintCursor.nextPosition, end); // offset delta
    pos = skipNullable(records, varintCursor.nextPosition, end, batchPosition, i); // key
    pos = skipNullable(records, pos, end, batchPosition, i); // value
    const headerCount = readVarint(records, pos, end);
    pos = varintCursor.nextPosition;
    if (headerCount < 0) throw corrupt(batchPosition, i, `has a negative header count ${headerCount}`);
    let id: string | undefined;
    let problem: string | undefined;
    for (let h = 0; h < headerCount; h++) {
      const keyLength = readVarint(records, pos, end);
      const keyStart = varintCursor.nextPosition;
      if (keyLength < 0 || keyStart + keyLength > end) throw corrupt(batchPosition, i, 'has a header key past its end');
      const isIdHeader = keyLength === MESSAGE_ID_HEADER_BYTES.length && records.compare(MESSAGE_ID_HEADER_BYTES, 0, keyLength, keyStart, keyStart + keyLength) === 0;
      const valueLength = readVarint(records, keyStart + keyLength, end);
      const valueStart = varintCursor.nextPosition;
      if (valueStart + Math.max(0, valueLength) > end) throw corrupt(batchPosition, i, 'has a header value past its end');
      pos = valueStart + Math.max(0, valueLength);
      if (!isIdHeader || problem !== undefined) continue;
      if (id !== undefined) problem = `has the ${MESSAGE_ID_HEADER} header twice`;
      else if (valueLength <= 0) problem = `has an empty ${MESSAGE_ID_HEADER} header`;
      else if (valueLength > MAX_MESSAGE_ID_BYTES) problem = `has a ${MESSAGE_ID_HEADER} of ${valueLength} bytes, more than ${MAX_MESSAGE_ID_BYTES}`;
      else if (!isUtf8(records.subarray(valueStart, pos))) problem = `has a ${MESSAGE_ID_HEADER} that is not UTF-8`;
      else id = records.toString('utf8', valueStart, pos);
    }
    if (pos !== end) throw corrupt(batchPosition, i, `has ${end - pos} bytes after its last field`);
    if (problem !== undefined) {
      if (onInvalid === 'throw') throw new InvalidMessageIdError(`record ${i} of the batch at byte ${batchPosition} ${problem}; an id is 1 to ${MAX_MESSAGE_ID_BYTES} bytes of UTF-8, once per record`);
      id = undefined;
    }
    ids.push(id);
  }
}

function skipNullable(buf: Buffer, position: number, end: number, batchPosition: number, recordIndex: number): number {
  const length = readVarint(buf, position, end);
  const next = varintCursor.nextPosition + Math.max(0, length);
  if (next > end) throw corrupt(batchPosition, recordIndex, 'has a field past its end');
  return next;
}

function corrupt(batchPosition: number, recordIndex: number, problem: string): CorruptBatchError {
  return new CorruptBatchError(`record ${recordIndex} of the batch at byte ${batchPosition} ${problem}`);
}

/**
 * The batch at `position` re-encoded with only the records `keep` says yes to (at least one), with
 * its codec, producer id and epoch, and base sequences that end where the original's last sequence
 * ended (so a producer's sequence continues after it, also for state rebuilt from the log at
 * startup). Record timestamps, keys, values and headers are kept as they were; the offset deltas are
 * renumbered. More than one batch comes back only when the kept records, re-compressed, no longer fit
 * in one batch of `maxBatchBytes`.
 *
 * This is the one place the server re-encodes records (duplicate detection by message id): the
 * normal append path stores the producer's bytes as they are.
 */
export function rebuildBatchKeeping(buf: Buffer, position: number, header: BatchHeader, keep: (recordIndex: number) => boolean, maxBatchBytes: number): Buffer[] {
  const { records } = decodeRecordBatch(buf.subarray(position, position + header.sizeBytes));
  const compression = header.compression === CompressionCodec.gzip ? 'gzip' : 'none';
  const builders: RecordBatchBuilder[] = [];
  let builder: RecordBatchBuilder | undefined;
  records.forEach((record, index) => {
    if (!keep(index)) return;
    if (!builder || !builder.tryAppend(record.timestampMs, record.key, record.value, record.headers)) {
      builder = new RecordBatchBuilder(MAX_BATCH_BYTES_LIMIT, { compression, maxBatchBytes, initialBytes: header.sizeBytes });
      builders.push(builder);
      // A record alone in a new builder either fits or throws BatchTooLargeError.
      builder.tryAppend(record.timestampMs, record.key, record.value, record.headers);
    }
  });
  const keptCount = builders.reduce((sum, b) => sum + b.recordCount, 0);
  if (keptCount === 0) throw new CorruptBatchError('a rebuilt batch needs at least one record');
  const hasSequence = header.producerId >= 0 && header.baseSequence >= 0;
  let baseSequence = header.baseSequence + header.lastOffsetDelta - keptCount + 1;
  return builders.map((b) => {
    const built = b.build({
      producerId: header.producerId,
      producerEpoch: header.producerEpoch,
      baseSequence: hasSequence ? baseSequence : -1,
      partitionLeaderEpoch: header.partitionLeaderEpoch,
    });
    baseSequence += b.recordCount;
    return built;
  });
}
