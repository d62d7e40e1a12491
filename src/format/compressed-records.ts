import { gunzipSync } from 'node:zlib';
import { BatchTooLargeError, CorruptBatchError } from '../core/errors.js';
import { MAX_BATCH_BYTES_LIMIT } from '../core/limits.js';

/**
 * The largest records area a gzip batch of at most `maxBatchBytes` (a topic's max.message.bytes) may
 * inflate to: four times the limit. Without a bound, a few kilobytes of crafted gzip could make a
 * reader allocate gigabytes, and the server, which inflates every gzip batch it takes to check its
 * records, block for as long; the encoder keeps to the same bound, so anything we encode the server
 * takes and we can decode.
 */
export function maxInflatedRecordsBytes(maxBatchBytes: number): number {
  return 4 * maxBatchBytes;
}

/** The bound for any topic (at the hard batch limit): what a reader inflates at most. */
export const MAX_DECOMPRESSED_RECORDS_BYTES = maxInflatedRecordsBytes(MAX_BATCH_BYTES_LIMIT);

/** The records area of a gzip batch, inflated up to `maxOutputBytes` (a bound against gzip bombs). */
export function gunzipRecords(compressed: Buffer, batchPosition: number, maxOutputBytes = MAX_DECOMPRESSED_RECORDS_BYTES): Buffer {
  try {
    return gunzipSync(compressed, { maxOutputLength: maxOutputBytes });
  } catch (cause) {
    // Inflating past the bound is a batch too large for this limit, not a damaged one.
    if ((cause as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new BatchTooLargeError(maxOutputBytes + 1, maxOutputBytes, `batch at byte ${batchPosition} inflates to more than ${maxOutputBytes} bytes of records, the most its limit allows`);
    }
    throw new CorruptBatchError(`batch at byte ${batchPosition} has records that do not gunzip`, { cause });
  }
}
