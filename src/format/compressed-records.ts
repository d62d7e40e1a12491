import { gunzipSync } from 'node:zlib';
import { BatchTooLargeError, CorruptBatchError } from '../core/errors.js';
import { MAX_DECOMPRESSED_RECORDS_BYTES } from './record-batch-builder.js';

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
