import { readBatchHeader } from '../format/record-batch.js';

/** Records in a buffer of whole, validated batches (the broker took it): the sum of their headers' counts. */
export function recordCountOf(batches: Buffer): number {
  let count = 0;
  for (let position = 0; position < batches.length; ) {
    const header = readBatchHeader(batches, position);
    count += header.recordCount;
    position += header.sizeBytes;
  }
  return count;
}
