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
 * The message ids of a request's records, as bytes (no string per id): record i's id is
 * bytes[starts[i], starts[i] + lengths[i]), or none when starts[i] is -1.
 */
export interface MessageIds {
  readonly count: number;
  readonly bytes: Buffer;
  readonly starts: Int32Array;
  readonly lengths: Uint8Array;
}

/** Record i's id as a string, or undefined (for messages and tests). */
export function messageIdAt(ids: MessageIds, i: number): string | undefined {
  const start = ids.starts[i]!;
  return start < 0 ? undefined : ids.bytes.toString('utf8', start, start + ids.lengths[i]!);
}

/**
 * The message id of every record of `batches` (concatenated, already validated: validateBatches),
 * in order across the batches. Reads the records' framing and header keys only; keys and values are
 * skipped, and ids stay where they are: in `batches` itself for plain batches (no copy), in the
 * inflated records for gzip ones (inflated again: validation inflated them once to check framing).
 */
export function readMessageIds(batches: Buffer, headers: readonly BatchHeader[], options: ReadMessageIdsOptions = {}): MessageIds {
  let count = 0;
  for (const header of headers) count += header.recordCount;
  const starts = new Int32Array(count);
  const lengths = new Uint8Array(count);
  const maxInflatedBytes = maxInflatedRecordsBytes(options.maxBatchBytes ?? MAX_BATCH_BYTES_LIMIT);
  // Plain batches' ids stay in `batches`; inflated records follow it (or stand alone when every batch is gzip).
  const hasPlainBatch = headers.some((h) => h.compression !== CompressionCodec.gzip);
  const sources: Buffer[] = hasPlainBatch ? [batches] : [];
  let sourcesBytes = hasPlainBatch ? batches.length : 0;
  let position = 0;
  let record = 0;
  for (const header of headers) {
    const areaStart = position + RECORDS_POSITION;
    const area = batches.subarray(areaStart, position + header.sizeBytes);
    if (header.compression === CompressionCodec.gzip) {
      const inflated = gunzipRecords(area, position, maxInflatedBytes);
      readIdsOfRecords(inflated, sourcesBytes, header.recordCount, position, options.onInvalid ?? 'throw', starts, lengths, record);
      sources.push(inflated);
      sourcesBytes += inflated.length;
    } else {
      readIdsOfRecords(area, areaStart, header.recordCount, position, options.onInvalid ?? 'throw', starts, lengths, record);
    }
    record += header.recordCount;
    position += header.sizeBytes;
  }
  return { count, bytes: sources.length === 1 ? sources[0]! : Buffer.concat(sources, sourcesBytes), starts, lengths };
}

/** Fills starts/lengths from `first` on for the records of one batch; `base` is where `records` begins in the ids' bytes. */
function readIdsOfRecords(records: Buffer, base: number, recordCount: number, batchPosition: number, onInvalid: 'throw' | 'skip', starts: Int32Array, lengths: Uint8Array, first: number): void {
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
    let idStart = -1;
    let idLength = 0;
    let problem: string | undefined;
    for (let h = 0; h < headerCount; h++) {
      const keyLength = readVarint(records, pos, end);
      const keyStart = varintCursor.nextPosition;
      if (keyLength < 0 || keyStart + keyLength > end) throw corrupt(batchPosition, i, 'has a header key past its end');
      const isIdHeader = keyLength === MESSAGE_ID_HEADER_BYTES.length && isIdKey(records, keyStart);
      const valueLength = readVarint(records, keyStart + keyLength, end);
      const valueStart = varintCursor.nextPosition;
      if (valueStart + Math.max(0, valueLength) > end) throw corrupt(batchPosition, i, 'has a header value past its end');
      pos = valueStart + Math.max(0, valueLength);
      if (!isIdHeader || problem !== undefined) continue;
      if (idStart >= 0) problem = `has the ${MESSAGE_ID_HEADER} header twice`;
      else if (valueLength <= 0) problem = `has an empty ${MESSAGE_ID_HEADER} header`;
      else if (valueLength > MAX_MESSAGE_ID_BYTES) problem = `has a ${MESSAGE_ID_HEADER} of ${valueLength} bytes, more than ${MAX_MESSAGE_ID_BYTES}`;
      else if (!isAscii(records, valueStart, pos) && !isUtf8(records.subarray(valueStart, pos))) problem = `has a ${MESSAGE_ID_HEADER} that is not UTF-8`;
      else {
        idStart = valueStart;
        idLength = valueLength;
      }
    }
    if (pos !== end) throw corrupt(batchPosition, i, `has ${end - pos} bytes after its last field`);
    if (problem !== undefined) {
      if (onInvalid === 'throw') throw new InvalidMessageIdError(`record ${i} of the batch at byte ${batchPosition} ${problem}; an id is 1 to ${MAX_MESSAGE_ID_BYTES} bytes of UTF-8, once per record`);
      idStart = -1;
    }
    starts[first + i] = idStart < 0 ? -1 : base + idStart;
    lengths[first + i] = idStart < 0 ? 0 : idLength;
  }
}

/** Whether bytes[start, end) are all ASCII (then UTF-8 too), without a view object per id. */
function isAscii(bytes: Buffer, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (bytes[i]! >= 0x80) return false;
  return true;
}

/** Whether the header key at `position` is MESSAGE_ID_HEADER (its length already matched). */
function isIdKey(buf: Buffer, position: number): boolean {
  for (let i = 0; i < MESSAGE_ID_HEADER_BYTES.length; i++) if (buf[position + i] !== MESSAGE_ID_HEADER_BYTES[i]) return false;
  return true;
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
