import { describe, expect, it } from 'vitest';
import { encodeRecordBatch } from '../../src/format/record-batch-codec.js';
import { validateBatches } from '../../src/format/record-batch.js';
import { visitRecordFields } from '../../src/format/record-fields.js';

type Seen = [number, string | null, string | null];

function fieldsOf(batches: Buffer): Seen[] {
  const headers = validateBatches(batches, { maxBatchBytes: 1024 * 1024 });
  const seen: Seen[] = [];
  visitRecordFields(batches, headers, (index, buf, keyStart, keyLength, valueStart, valueLength) => {
    seen.push([index, keyLength < 0 ? null : buf.toString('utf8', keyStart, keyStart + keyLength), valueLength < 0 ? null : buf.toString('utf8', valueStart, valueStart + valueLength)]);
  });
  return seen;
}

describe('visitRecordFields', () => {
  it('shows every record key and value in place, indexed across plain and gzip batches, nulls as -1, headers skipped', () => {
    const plain = encodeRecordBatch([
      { key: 'k0', value: 'v0', headers: { trace: 'x'.repeat(300) } },
      { key: null, value: '' },
    ]);
    const zipped = encodeRecordBatch(
      [
        { key: 'k2', value: null },
        { value: 'v3', headers: { a: 'b', c: Buffer.alloc(0) } },
      ],
      { compression: 'gzip' },
    );
    expect(fieldsOf(Buffer.concat([plain, zipped, plain]))).toEqual([
      [0, 'k0', 'v0'],
      [1, null, ''],
      [2, 'k2', null],
      [3, null, 'v3'],
      [4, 'k0', 'v0'],
      [5, null, ''],
    ]);
  });

  it('hands out views of the request itself for plain batches (no copy)', () => {
    const batches = encodeRecordBatch([{ value: 'payload' }]);
    const headers = validateBatches(batches, { maxBatchBytes: 1024 * 1024 });
    let seenBuffer: Buffer | undefined;
    visitRecordFields(batches, headers, (_index, buf) => (seenBuffer = buf));
    expect(seenBuffer).toBe(batches);
  });
});
