import { encodeRecordBatch, decodeRecordBatch, iterateBatches } from '../../src/format/record-batch-codec.js';

/** A batch of `recordCount` records whose values name their position, so reads can be checked. */
export function makeBatch(label: string, recordCount = 1, options: { timestampMs?: number; valueBytes?: number } = {}): Buffer {
  const records = [];
  for (let i = 0; i < recordCount; i++) {
    const value = `${label}#${i}`.padEnd(options.valueBytes ?? 0, '.');
    records.push({ key: `k-${label}`, value, timestampMs: options.timestampMs ?? 1_700_000_000_000 });
  }
  return encodeRecordBatch(records);
}

/** Every record in a buffer of concatenated batches, as (offset, value) pairs. */
export function decodeAll(batches: Buffer): Array<{ offset: number; value: string; timestampMs: number }> {
  const out = [];
  for (const { position } of iterateBatches(batches)) {
    for (const record of decodeRecordBatch(batches, position).records) {
      out.push({ offset: record.offset, value: record.value?.toString('utf8') ?? '', timestampMs: record.timestampMs });
    }
  }
  return out;
}
