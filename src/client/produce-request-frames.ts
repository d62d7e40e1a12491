import { Buffer } from 'node:buffer';
import { AssertionError } from '../core/assert.js';
import { MAX_FREE_FRAME_BYTES } from '../core/limits.js';
import type { ProduceRequest } from '../generated/strata/v1/ProduceRequest.js';

/**
 * The client's serializer of ProduceRequest, and the buffers it writes into. A request of several
 * batches used to be concatenated into a new buffer, then encoded by protobufjs into another (each
 * 16 KiB or more, outside the JS heap), and their churn made the client collect often. This writes
 * the same fields, batches copied in one after another, into a reused buffer (fewer collections,
 * less client CPU per record: bench/history/2026-11-30-sessions-1-6.md, "Session 5"). grpc-js copies the message into its own frame before
 * sending it, so a buffer is free again once the server has answered the request: the Produce
 * pipeline gives it back then (recycleProduceFrame); anything else leaves it to the collector.
 *
 * Wire format (proto3, strata/v1/produce.proto), fields in number order, defaults omitted (protobufjs
 * writes an explicitly set 0; either decodes to the same request):
 *   0x08 varint request_id       (uint64; a safe integer here)
 *   0x12 varint length, topic    (UTF-8)
 *   0x18 varint partition        (uint32; omitted when 0)
 *   0x22 varint length, records  (the batches, one after another, as given)
 *   0x28 varint ack_level        (enum AckLevel; omitted when UNSPECIFIED)
 * A request outside this fast path (a Long or string id, records that are not a Buffer, an unknown
 * enum name, a topic with a lone surrogate, which protobufjs encodes its own way) goes to `fallback`,
 * protobufjs's own serializer. At most MAX_FREE_FRAME_BYTES of free buffers are kept for the process
 * (shared by its clients); when full, a buffer of another size makes room (sizes change with load).
 */
const ACK_LEVELS: Readonly<Record<string, number>> = { ACK_LEVEL_UNSPECIFIED: 0, ACK_LEVEL_NONE: 1, ACK_LEVEL_WRITTEN: 2, ACK_LEVEL_DURABLE: 3 };
/** Buffers are sized in steps of this, so that requests of similar size share them. */
const FRAME_STEP_BYTES = 16 * 1024;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

const free = new Map<number, Buffer[]>();
let freeBytes = 0;
/** Where a request object keeps the buffer its bytes were written into (until recycled). */
const FRAME = Symbol('strata.produceFrame');
type WithFrame = { [FRAME]?: Buffer | undefined };

function varintBytes(value: number): number {
  let bytes = 1;
  for (let rest = value; rest >= 0x80; rest = Math.floor(rest / 0x80)) bytes++;
  return bytes;
}

function writeVarint(buf: Buffer, position: number, value: number): number {
  let pos = position;
  let rest = value;
  while (rest >= 0x80) {
    buf[pos++] = (rest % 0x80) | 0x80;
    rest = Math.floor(rest / 0x80);
  }
  buf[pos++] = rest;
  return pos;
}

function takeFrame(sizeBytes: number): Buffer {
  const frameBytes = Math.ceil(sizeBytes / FRAME_STEP_BYTES) * FRAME_STEP_BYTES;
  const reused = free.get(frameBytes)?.pop();
  if (reused) {
    freeBytes -= frameBytes;
    return reused;
  }
  // Never a slice of Node's shared pool: the whole buffer is this request's alone.
  return Buffer.allocUnsafeSlow(frameBytes);
}

/**
 * A ProduceRequest whose records are several batches: the serializer writes them one after another,
 * and `records` concatenates them only if something else reads it (protobufjs, a test's fake stream).
 */
export class BatchesProduceRequest implements ProduceRequest {
  private concatenated: Buffer | undefined;

  constructor(
    readonly requestId: number,
    readonly topic: string,
    readonly partition: number,
    readonly batches: readonly Buffer[],
    readonly recordsBytes: number,
    readonly ackLevel: ProduceRequest['ackLevel'],
  ) {}

  get records(): Buffer {
    this.concatenated ??= Buffer.concat(this.batches as Buffer[], this.recordsBytes);
    return this.concatenated;
  }
}

/** A serializer for the Produce method: the fast path above, else `fallback`. */
export function produceRequestSerializer(fallback: (request: ProduceRequest) => Buffer): (request: ProduceRequest) => Buffer {
  return (request) => {
    const batches = request instanceof BatchesProduceRequest ? request.batches : undefined;
    const { requestId, topic, partition = 0, ackLevel } = request;
    const records = batches ? undefined : request.records;
    const recordsBytes = batches ? (request as BatchesProduceRequest).recordsBytes : Buffer.isBuffer(records) ? records.length : -1;
    const ack = ackLevel === undefined ? 0 : typeof ackLevel === 'number' ? ackLevel : ACK_LEVELS[ackLevel];
    if (
      typeof requestId !== 'number' || !Number.isSafeInteger(requestId) || requestId < 0 ||
      typeof topic !== 'string' || LONE_SURROGATE.test(topic) || !Number.isInteger(partition) || partition < 0 || partition > 0xffff_ffff ||
      recordsBytes < 0 || ack === undefined || !Number.isInteger(ack) || ack < 0 || ack > 0x7f
    ) {
      return fallback(request);
    }
    const topicBytes = Buffer.byteLength(topic);
    const sizeBytes =
      1 + varintBytes(requestId) +
      1 + varintBytes(topicBytes) + topicBytes +
      (partition === 0 ? 0 : 1 + varintBytes(partition)) +
      1 + varintBytes(recordsBytes) + recordsBytes +
      (ack === 0 ? 0 : 2);
    const frame = takeFrame(sizeBytes);
    let pos = 0;
    frame[pos++] = 0x08;
    pos = writeVarint(frame, pos, requestId);
    frame[pos++] = 0x12;
    pos = writeVarint(frame, pos, topicBytes);
    pos += frame.write(topic, pos, 'utf8');
    if (partition !== 0) {
      frame[pos++] = 0x18;
      pos = writeVarint(frame, pos, partition);
    }
    frame[pos++] = 0x22;
    pos = writeVarint(frame, pos, recordsBytes);
    const recordsEnd = pos + recordsBytes;
    if (batches) {
      for (const batch of batches) {
        if (pos + batch.length > recordsEnd) throw new AssertionError(`batches of request ${requestId} exceed their ${recordsBytes} bytes`);
        pos += batch.copy(frame, pos);
      }
    } else pos += (records as Buffer).copy(frame, pos);
    if (pos !== recordsEnd) throw new AssertionError(`batches of request ${requestId} fill ${pos - recordsEnd + recordsBytes} of their ${recordsBytes} bytes`);
    if (ack !== 0) {
      frame[pos++] = 0x28;
      frame[pos++] = ack;
    }
    (request as WithFrame)[FRAME] = frame;
    return frame.subarray(0, pos);
  };
}

/**
 * Gives back the buffer `request` was written into. Only once the server answered the request: before
 * that grpc-js may not have copied it yet.
 */
export function recycleProduceFrame(request: object): void {
  const frame = (request as WithFrame)[FRAME];
  if (!frame) return;
  (request as WithFrame)[FRAME] = undefined;
  // Full: buffers of other sizes make room, largest share first (the load's sizes may have moved on).
  for (let evicted = 0; freeBytes + frame.length > MAX_FREE_FRAME_BYTES && evicted < 1024; evicted++) {
    if (!evictOther(frame.length)) return;
  }
  const list = free.get(frame.length);
  if (list) list.push(frame);
  else free.set(frame.length, [frame]);
  freeBytes += frame.length;
}

/** Drops one free buffer of the size holding the most bytes, other than `keepSize`; false if none. */
function evictOther(keepSize: number): boolean {
  let victim: Buffer[] | undefined;
  let victimBytes = 0;
  for (const [size, list] of free) {
    if (size !== keepSize && list.length * size > victimBytes) {
      victim = list;
      victimBytes = list.length * size;
    }
  }
  const dropped = victim?.pop();
  if (!dropped) return false;
  freeBytes -= dropped.length;
  return true;
}
