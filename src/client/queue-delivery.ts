import { status as grpcStatus } from '@grpc/grpc-js';
import { CorruptBatchError } from '../core/errors.js';
import { decodeRecordBatchWith, iterateBatches } from '../format/record-batch-codec.js';
import type { RecordHeader } from '../format/record.js';
import type { QueueDelivery__Output } from '../generated/strata/v1/QueueDelivery.js';
import { errorOfCode } from './client-error.js';
import { QueueMessage, type QueueMessageSession } from './queue-message.js';

interface DecodedFields {
  offset: number;
  timestampMs: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
}

const decodedFields = (offset: number, timestampMs: number, key: Buffer | null, value: Buffer | null, headers: RecordHeader[]): DecodedFields => ({ offset, timestampMs, key, value, headers });

/**
 * The messages of one delivery, in the order the server listed them: its batches are whole stored
 * batches, of which only the listed offsets are this member's (the others are skipped; batches
 * without a listed offset are not decoded at all). A listed offset missing from the batches, or a
 * batch that does not decode, is DATA_LOSS (non-retriable): a record is never handed out under a
 * wrong offset, nor silently dropped while its lock runs.
 */
export function messagesOf(delivery: QueueDelivery__Output, session: QueueMessageSession): QueueMessage[] {
  const { topic, partition } = delivery;
  const wanted = new Map<number, DecodedFields | undefined>();
  for (const record of delivery.records) wanted.set(record.offset, undefined);
  const sortedOffsets = [...wanted.keys()].sort((a, b) => a - b);
  try {
    for (const { position, header } of iterateBatches(delivery.batches)) {
      const lastOffset = header.baseOffset + header.lastOffsetDelta;
      const first = sortedOffsets[firstAtOrAbove(sortedOffsets, header.baseOffset)];
      if (first === undefined || first > lastOffset) continue;
      for (const record of decodeRecordBatchWith(delivery.batches, position, decodedFields).records) {
        if (wanted.has(record.offset)) wanted.set(record.offset, record);
      }
    }
  } catch (error) {
    if (!(error instanceof CorruptBatchError)) throw error;
    throw errorOfCode('DATA_LOSS', `queue delivery of ${topic}/${partition}: a batch does not decode: ${error.message}`, grpcStatus.DATA_LOSS, false, { cause: error });
  }
  return delivery.records.map(({ offset, deliveryCount, lockDeadlineMs }) => {
    const record = wanted.get(offset);
    if (!record) {
      throw errorOfCode('DATA_LOSS', `queue delivery of ${topic}/${partition}: offset ${offset} was delivered but is in none of its batches`, grpcStatus.DATA_LOSS, false);
    }
    return new QueueMessage(topic, partition, offset, record.timestampMs, record.key, record.value, record.headers, deliveryCount, lockDeadlineMs, session);
  });
}

/** The index of the first of `sorted` at or above `offset` (its length when none is). */
function firstAtOrAbove(sorted: readonly number[], offset: number): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (sorted[middle]! < offset) low = middle + 1;
    else high = middle;
  }
  return low;
}
