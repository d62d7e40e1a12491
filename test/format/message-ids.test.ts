import { describe, expect, it } from 'vitest';
import { InvalidMessageIdError } from '../../src/core/errors.js';
import { MAX_MESSAGE_ID_BYTES } from '../../src/core/limits.js';
import { MESSAGE_ID_HEADER, messageIdAt, readMessageIds, rebuildBatchKeeping } from '../../src/format/message-ids.js';
import { decodeRecordBatch, encodeRecordBatch, type RecordInput } from '../../src/format/record-batch-codec.js';
import { validateBatch, validateBatches } from '../../src/format/record-batch.js';

const rec = (value: string, id?: string | Buffer): RecordInput => ({
  key: `k-${value}`,
  value,
  timestampMs: 1_700_000_000_000 + value.length,
  headers: id === undefined ? [{ key: 'other', value: Buffer.from('x') }] : [{ key: 'other', value: null }, { key: MESSAGE_ID_HEADER, value: Buffer.from(id) }],
});

describe('message ids in record batches', () => {
  it('pins the header name and the id bound', () => {
    expect(MESSAGE_ID_HEADER).toBe('strata-message-id');
    expect(MAX_MESSAGE_ID_BYTES).toBe(200);
  });

  it('reads the id of every record across plain and gzip batches, in request order, and none for records without one', () => {
    const request = Buffer.concat([
      encodeRecordBatch([rec('a', 'id-a'), rec('b'), rec('c', 'é-ü')]),
      encodeRecordBatch([rec('d', 'id-d'), rec('e')], { compression: 'gzip' }),
      encodeRecordBatch([rec('f', 'x'.repeat(MAX_MESSAGE_ID_BYTES))]),
    ]);
    const ids = readMessageIds(request, validateBatches(request, { maxBatchBytes: 1024 * 1024 }));
    expect(ids.count).toBe(6);
    expect(Array.from({ length: ids.count }, (_, i) => messageIdAt(ids, i))).toEqual(['id-a', undefined, 'é-ü', 'id-d', undefined, 'x'.repeat(MAX_MESSAGE_ID_BYTES)]);
    // Plain batches' ids are read where they are: the same bytes, not copies.
    const onlyPlain = encodeRecordBatch([rec('a', 'id-a')]);
    expect(readMessageIds(onlyPlain, validateBatches(onlyPlain, { maxBatchBytes: 1024 * 1024 })).bytes).toBe(onlyPlain);
  });

  it('refuses a bad id with InvalidMessageIdError, or skips it when asked', () => {
    const bad: Array<[string, RecordInput]> = [
      ['empty', rec('v', '')],
      ['too long', rec('v', 'x'.repeat(MAX_MESSAGE_ID_BYTES + 1))],
      ['not UTF-8', rec('v', Buffer.from([0xc3, 0x28]))],
      ['twice', { value: 'v', headers: [{ key: MESSAGE_ID_HEADER, value: Buffer.from('a') }, { key: MESSAGE_ID_HEADER, value: Buffer.from('b') }] }],
      ['null', { value: 'v', headers: [{ key: MESSAGE_ID_HEADER, value: null }] }],
    ];
    for (const [what, record] of bad) {
      const batch = encodeRecordBatch([rec('good', 'good'), record]);
      const headers = validateBatches(batch, { maxBatchBytes: 1024 * 1024 });
      expect(() => readMessageIds(batch, headers), what).toThrow(InvalidMessageIdError);
      const skipped = readMessageIds(batch, headers, { onInvalid: 'skip' });
      expect([messageIdAt(skipped, 0), messageIdAt(skipped, 1)], what).toEqual(['good', undefined]);
    }
  });

  it('rebuilds a batch without some records: codec, producer id and epoch, records and headers kept, the last sequence unchanged', () => {
    for (const compression of ['none', 'gzip'] as const) {
      const batch = encodeRecordBatch([rec('a', 'a'), rec('b', 'b'), rec('c'), rec('d', 'd')], { compression, producerId: 42, producerEpoch: 3, baseSequence: 10 });
      const header = validateBatch(batch, 0, { maxBatchBytes: 1024 * 1024 });
      const rebuilt = rebuildBatchKeeping(batch, 0, header, (i) => i !== 1 && i !== 0, 1024 * 1024);
      expect(rebuilt).toHaveLength(1);
      const { header: newHeader, records } = decodeRecordBatch(rebuilt[0]!);
      expect(newHeader).toMatchObject({ compression: compression === 'gzip' ? 1 : 0, producerId: 42, producerEpoch: 3, recordCount: 2, baseSequence: 12, lastOffsetDelta: 1 });
      expect(newHeader.baseSequence + newHeader.lastOffsetDelta).toBe(header.baseSequence + header.lastOffsetDelta);
      expect(records.map((r) => [r.offset, r.value!.toString(), r.key!.toString(), r.timestampMs])).toEqual([
        [0, 'c', 'k-c', 1_700_000_000_001],
        [1, 'd', 'k-d', 1_700_000_000_001],
      ]);
      expect(records[1]!.headers).toEqual([
        { key: 'other', value: null },
        { key: MESSAGE_ID_HEADER, value: Buffer.from('d') },
      ]);
    }
  });

  it('keeps base sequence -1 for a batch without a producer id', () => {
    const batch = encodeRecordBatch([rec('a', 'a'), rec('b', 'b')]);
    const header = validateBatch(batch, 0, { maxBatchBytes: 1024 * 1024 });
    const [rebuilt] = rebuildBatchKeeping(batch, 0, header, (i) => i === 1, 1024 * 1024);
    expect(decodeRecordBatch(rebuilt!).header).toMatchObject({ producerId: -1, baseSequence: -1, recordCount: 1 });
  });
});
