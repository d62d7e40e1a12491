import { gunzipSync } from 'node:zlib';
import { CorruptBatchError } from '../core/errors.js';
import { MAX_DECOMPRESSED_RECORDS_BYTES } from './record-batch-builder.js';

/** The records area of a gzip batch, inflated up to `maxOutputBytes` (a bound against gzip bombs). */
export function gunzipRecords(compressed: Buffer, batchPosition: number, maxOutputBytes = MAX_DECOMPRESSED_RECORDS_BYTES): Buffer {
  try {
    return gunzipSync(compressed, { maxOutputLength: maxOutputBytes });
  } catch (cause) {
    throw new CorruptBatchError(`batch at byte ${batchPosition} has records that do not gunzip`, { cause });
  }
}
