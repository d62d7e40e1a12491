// The module's Buffer, not the global one: globalThis.Buffer is an accessor in Node 20, a getter call
// per use (2 % of the producer's time, with isBytes another 2 %, in a CPU profile of keyed sendBatch()).
import { Buffer } from 'node:buffer';
import { InvalidArgumentError } from '../core/errors.js';
import { MAX_MESSAGE_ID_BYTES } from '../core/limits.js';
import { MESSAGE_ID_HEADER } from '../format/message-ids.js';
import type { RecordHeader } from '../format/record.js';
import { ProducerClosedError } from './client-error.js';

export interface ProducerRecord {
  key?: Buffer | string | null;
  value: Buffer | string | null;
  /** An object (kafkajs's shape), or Kafka's ordered list, which may repeat a key or hold a null value (a consumed record's headers as they are). */
  headers?: Record<string, string | Buffer> | readonly RecordHeader[];
  /** The record's create time in ms since the epoch; default: when send() is called. */
  timestampMs?: number;
  /** The same, as the issue and kafkajs name it: a Date, or ms as a number or a decimal string. */
  timestamp?: Date | number | string | null;
  /** Overrides the partitioner. */
  partition?: number;
  /**
   * Sets the `strata-message-id` header (1 to 200 bytes of UTF-8): on a topic with
   * `dedupe.window.ms`, a record whose id was appended to its partition within the window is not
   * written again, and its result says `duplicate: true` with the original's offset. Give the same
   * record the same id every time it is sent (an order number, an event id), and send it to the same
   * partition (a key, or `partition`): ids are remembered per partition.
   */
  messageId?: string;
}

/** The record's headers with its messageId as the `strata-message-id` header (the same object without one). */
export function headersWithMessageId(record: ProducerRecord): ProducerRecord['headers'] {
  if (record.messageId === undefined) return record.headers;
  if (Array.isArray(record.headers)) return [...(record.headers as readonly RecordHeader[]), { key: MESSAGE_ID_HEADER, value: Buffer.from(record.messageId, 'utf8') }];
  return { ...(record.headers as Record<string, string | Buffer> | undefined), [MESSAGE_ID_HEADER]: record.messageId };
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function checkMessageId(record: ProducerRecord): void {
  const id = record.messageId;
  if (id === undefined) return;
  if (typeof id !== 'string' || LONE_SURROGATE.test(id)) throw new InvalidArgumentError('a record messageId must be a string (of well-formed UTF-16, so that it has a UTF-8 form)');
  const bytes = Buffer.byteLength(id, 'utf8');
  if (bytes < 1 || bytes > MAX_MESSAGE_ID_BYTES) throw new InvalidArgumentError(`a record messageId must be 1 to ${MAX_MESSAGE_ID_BYTES} bytes of UTF-8, not ${bytes}`);
  const headers = record.headers;
  const hasHeader = Array.isArray(headers) ? (headers as readonly RecordHeader[]).some((h) => h.key === MESSAGE_ID_HEADER) : headers !== undefined && Object.hasOwn(headers, MESSAGE_ID_HEADER);
  if (hasHeader) throw new InvalidArgumentError(`a record has both a messageId and a ${MESSAGE_ID_HEADER} header`);
}

/** Per-record bytes on top of key, value and headers in a batch (varints, attributes, deltas). */
const RECORD_OVERHEAD_BYTES = 20;

export function closedError(): ProducerClosedError {
  return new ProducerClosedError();
}

const isBytes = (v: unknown): v is Buffer | string => typeof v === 'string' || Buffer.isBuffer(v);

/**
 * Checks what encoding would refuse later, so that a bad record fails its own send() alone; returns
 * the key as bytes (the partitioner hashes bytes, and the batch takes them as they are).
 */
export function checkRecord(record: ProducerRecord): Buffer | null {
  if (record === null || typeof record !== 'object') throw new InvalidArgumentError('a record must be an object with a value');
  if (record.value !== null && !isBytes(record.value)) throw new InvalidArgumentError('a record value must be a string, a Buffer or null');
  if (record.key !== null && record.key !== undefined && !isBytes(record.key)) throw new InvalidArgumentError('a record key must be a string, a Buffer, null or undefined');
  if (record.timestampMs !== undefined && !isTimestampMs(record.timestampMs)) {
    throw new InvalidArgumentError(`a record timestamp must be a non-negative integer of ms, not ${String(record.timestampMs)}`);
  }
  // null is no timestamp, as kafkajs takes it (`timestamp || Date.now()`).
  if (record.timestamp !== undefined && record.timestamp !== null) {
    const timestampMs = msOf(record.timestamp);
    if (!isTimestampMs(timestampMs)) throw new InvalidArgumentError(`a record timestamp must be a Date or a non-negative integer of ms, not ${String(record.timestamp)}`);
    if (record.timestampMs !== undefined && record.timestampMs !== timestampMs) {
      throw new InvalidArgumentError(`a record has timestampMs ${record.timestampMs} and a different timestamp ${String(record.timestamp)}`);
    }
  }
  if (record.headers !== undefined) {
    if (record.headers === null || typeof record.headers !== 'object') throw new InvalidArgumentError('record headers must be an object of strings or Buffers');
    if (Array.isArray(record.headers)) {
      for (const header of record.headers as readonly RecordHeader[]) {
        if (header === null || typeof header !== 'object' || typeof header.key !== 'string' || (header.value !== null && !Buffer.isBuffer(header.value))) {
          throw new InvalidArgumentError('a record header list holds { key: string, value: Buffer | null } entries');
        }
      }
    } else for (const value of Object.values(record.headers)) {
      if (!isBytes(value)) throw new InvalidArgumentError('record header values must be strings or Buffers');
    }
  }
  checkMessageId(record);
  return record.key === null || record.key === undefined ? null : typeof record.key === 'string' ? Buffer.from(record.key) : record.key;
}

const isTimestampMs = (value: number): boolean => Number.isSafeInteger(value) && value >= 0;

/** The record's timestamp in ms (timestampMs, else timestamp), or `nowMs` when it has none. */
export function timestampOf(record: ProducerRecord, nowMs: number): number {
  if (record.timestampMs !== undefined) return record.timestampMs;
  return record.timestamp === undefined || record.timestamp === null ? nowMs : msOf(record.timestamp);
}

/** NaN when it is no time at all (Number() would make 0 of '', false or [], 1 of true). */
function msOf(timestamp: unknown): number {
  if (timestamp instanceof Date) return timestamp.getTime();
  if (typeof timestamp === 'number') return timestamp;
  return typeof timestamp === 'string' && /^\d+$/.test(timestamp) ? Number(timestamp) : NaN;
}

/** The first explicit partition of `records` outside the topic, if any. */
export function firstInvalidPartition(records: ReadonlyArray<{ partition?: number }>, partitionCount: number): number | undefined {
  for (const { partition } of records) {
    if (partition !== undefined && (!Number.isInteger(partition) || partition < 0 || partition >= partitionCount)) return partition;
  }
  return undefined;
}

export function outsideTopic(partition: number, topic: string, partitionCount: number): InvalidArgumentError {
  return new InvalidArgumentError(`partition ${partition} is outside 0..${partitionCount - 1} of topic '${topic}'`);
}

/** What a record counts against the producer's buffer (maxBufferedBytes) and batch limits. */
export function recordSizeBytes(key: Buffer | null, record: ProducerRecord): number {
  let size = RECORD_OVERHEAD_BYTES;
  if (key !== null) size += key.length;
  if (record.value !== null) size += Buffer.byteLength(record.value);
  if (Array.isArray(record.headers)) {
    for (const header of record.headers as readonly RecordHeader[]) size += Buffer.byteLength(header.key) + (header.value === null ? 0 : header.value.length) + 4;
  } else if (record.headers) {
    const headers = record.headers as Record<string, string | Buffer>;
    for (const name of Object.keys(headers)) size += Buffer.byteLength(name) + Buffer.byteLength(headers[name]!) + 4;
  }
  if (record.messageId !== undefined) size += MESSAGE_ID_HEADER.length + Buffer.byteLength(record.messageId) + 4;
  return size;
}
