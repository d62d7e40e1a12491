import { readBatchHeader } from '../format/record-batch.js';

/**
 * Records in a buffer of batches: the sum of their headers' counts. Never throws (it runs before a
 * produce request is answered): with `ack none` the request is answered before the batches are
 * validated, so a damaged buffer counts the records of the headers that could be read.
 */
export function recordCountOf(batches: Buffer): number {
  let count = 0;
  try {
    for (let position = 0; position < batches.length; ) {
      const header = readBatchHeader(batches, position);
      if (header.sizeBytes <= 0) break;
      count += header.recordCount;
      position += header.sizeBytes;
    }
  } catch {
    // A header that cannot be read ends the count.
  }
  return count;
}
