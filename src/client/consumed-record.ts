import { status as grpcStatus } from '@grpc/grpc-js';
import { CorruptBatchError } from '../core/errors.js';
import { decodeRecordBatchWith, iterateBatches } from '../format/record-batch-codec.js';
import type { RecordFactory, RecordHeader } from '../format/record.js';
import type { SubscribeResponse__Output } from '../generated/strata/v1/SubscribeResponse.js';
import { errorOfCode, type StrataClientError } from './client-error.js';

/** A record as consume(), consumeBatches() and a group member hand it out. */
export interface ConsumedRecord {
  topic: string;
  partition: number;
  offset: number;
  timestampMs: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
}

/**
 * Decodes one response a batch at a time, skipping records of its first batch below the offset it
 * was read from (a fetch starts at the batch that holds that offset). The batches' offsets must run
 * without a gap from at or before that offset to the response's nextOffset, as the server checks too:
 * otherwise (a server that did not, or damage in transit the CRC does not cover) the records would be
 * handed out under wrong offsets, so it is a non-retriable DATA_LOSS instead.
 */
export function* batchesOf(topic: string, response: SubscribeResponse__Output): Generator<ConsumedRecord[]> {
  try {
    yield* checkedBatchesOf(topic, response);
  } catch (error) {
    // The server checked these bytes before it sent them: a batch that does not decode here (its CRC,
    // its records) is data lost on the way or missed there, not the CORRUPT_BATCH of a bad request,
    // and reading it again would not mend it.
    if (!(error instanceof CorruptBatchError)) throw error;
    throw errorOfCode('DATA_LOSS', `partition ${topic}/${response.partition}: a batch the server sent (read from offset ${response.fetchOffset}) does not decode: ${error.message}`, grpcStatus.DATA_LOSS, false, { cause: error });
  }
}

function* checkedBatchesOf(topic: string, response: SubscribeResponse__Output): Generator<ConsumedRecord[]> {
  const data = response.records;
  const { partition, fetchOffset } = response;
  // The consumer's record objects straight from the decoder: one object per record.
  const make: RecordFactory<ConsumedRecord> = (offset, timestampMs, key, value, headers) => ({ topic, partition, offset, timestampMs, key, value, headers });
  let expectedOffset: number | undefined;
  for (const { position, header } of iterateBatches(data)) {
    const isFirst = expectedOffset === undefined;
    const lastOffset = header.baseOffset + header.lastOffsetDelta;
    if (isFirst ? header.baseOffset > fetchOffset : header.baseOffset !== expectedOffset) {
      const expected = isFirst ? `one starting at or before offset ${fetchOffset}` : `one starting at ${expectedOffset}`;
      throw offsetMismatch(topic, partition, `a batch of offsets [${header.baseOffset}, ${lastOffset}] at byte ${position} of a response where the next batch is ${expected}`);
    }
    expectedOffset = lastOffset + 1;
    const records = decodeRecordBatchWith(data, position, make).records;
    if (records.length > 0 && records[0]!.offset < fetchOffset) {
      const kept = records.filter((record) => record.offset >= fetchOffset);
      if (kept.length > 0) yield kept;
    } else if (records.length > 0) {
      yield records;
    }
  }
  if (expectedOffset !== undefined && (response.nextOffset !== expectedOffset || expectedOffset <= fetchOffset)) {
    throw offsetMismatch(topic, partition, `a response read from offset ${fetchOffset} whose batches end before offset ${expectedOffset} but that says the next offset is ${response.nextOffset}`);
  }
}

function offsetMismatch(topic: string, partition: number, what: string): StrataClientError {
  return errorOfCode('DATA_LOSS', `partition ${topic}/${partition}: the server sent ${what}; its records are not handed out under wrong offsets`, grpcStatus.DATA_LOSS, false);
}
