import { createRequire } from 'node:module';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeRecordBatch,
  encodeRecordBatch,
  type RecordInput,
  validateBatch,
} from '../../src/format/index.js';
import { recordInputArb } from './batch-fixtures.js';

/**
 * Pins our encoder and decoder against a real Kafka client: kafkajs 2.2.4 writes RecordBatch v2 with
 * its own encoder, varints and CRC-32C implementation. Equal bytes here mean a kafkajs producer's
 * batch and ours are interchangeable; decoding in both directions means each reads the other.
 */

const require = createRequire(import.meta.url);

interface KafkajsEncoder {
  buffer: Buffer;
}
type KafkajsHeaders = Record<string, Buffer | string | (Buffer | string)[]>;
interface KafkajsRecordArgs {
  offsetDelta: number;
  timestampDelta: number;
  key: Buffer | string | null;
  value: Buffer | string | null;
  headers?: KafkajsHeaders;
}
interface KafkajsBatchArgs {
  compression: number;
  firstOffset: unknown;
  firstTimestamp: number;
  maxTimestamp: number;
  partitionLeaderEpoch: number;
  lastOffsetDelta: number;
  producerId: unknown;
  producerEpoch: number;
  firstSequence: number;
  records: KafkajsEncoder[];
}
interface KafkajsDecodedBatch {
  firstOffset: string;
  partitionLeaderEpoch: number;
  lastOffsetDelta: number;
  producerId: string;
  producerEpoch: number;
  firstSequence: number;
  records: {
    offset: string;
    timestamp: string;
    key: Buffer | null;
    value: Buffer | null;
    headers: Record<string, Buffer | null | (Buffer | null)[]>;
  }[];
}

// Deep imports: the RecordBatch encoder and decoder are not part of kafkajs's public API.
const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0/index.js') as {
  RecordBatch: (args: KafkajsBatchArgs) => Promise<KafkajsEncoder>;
};
const KafkajsRecord = require('kafkajs/src/protocol/recordBatch/record/v0/index.js') as (
  args: KafkajsRecordArgs,
) => KafkajsEncoder;
const decodeKafkajsBatch = require('kafkajs/src/protocol/recordBatch/v0/decoder.js') as (
  decoder: unknown,
) => Promise<KafkajsDecodedBatch>;
const KafkajsDecoder = require('kafkajs/src/protocol/decoder.js') as new (buf: Buffer) => unknown;
const Long = require('kafkajs/src/utils/long.js') as { fromValue(value: number): unknown };
const { Types: KafkajsCompression } = require('kafkajs/src/protocol/message/compression/index.js') as {
  Types: { None: number; GZIP: number };
};

interface PinnedBatch {
  records: {
    key: Buffer | string | null;
    value: Buffer | string | null;
    headers?: KafkajsHeaders;
    timestampMs: number;
  }[];
  baseOffset: number;
  partitionLeaderEpoch: number;
  producerId: number;
  producerEpoch: number;
  baseSequence: number;
}

async function encodeWithKafkajs(batch: PinnedBatch, compression: 'none' | 'gzip'): Promise<Buffer> {
  // kafkajs's producer does this in produce/v3/request.js: deltas from the first timestamp.
  const firstTimestamp = batch.records[0]!.timestampMs;
  const maxTimestamp = Math.max(...batch.records.map((record) => record.timestampMs));
  const records = batch.records.map((record, i) =>
    KafkajsRecord({
      offsetDelta: i,
      timestampDelta: record.timestampMs - firstTimestamp,
      key: record.key,
      value: record.value,
      ...(record.headers === undefined ? {} : { headers: record.headers }),
    }),
  );
  const encoder = await RecordBatch({
    compression: compression === 'gzip' ? KafkajsCompression.GZIP : KafkajsCompression.None,
    firstOffset: Long.fromValue(batch.baseOffset),
    firstTimestamp,
    maxTimestamp,
    partitionLeaderEpoch: batch.partitionLeaderEpoch,
    lastOffsetDelta: records.length - 1,
    producerId: Long.fromValue(batch.producerId),
    producerEpoch: batch.producerEpoch,
    firstSequence: batch.baseSequence,
    records,
  });
  return encoder.buffer;
}

/** kafkajs headers {k: [a, b]} mean two headers with key k; our list form says the same explicitly. */
function toOurHeaders(headers: KafkajsHeaders | undefined): RecordInput['headers'] {
  if (headers === undefined) return undefined;
  return Object.keys(headers).flatMap((key) => {
    const values = headers[key]!;
    return (Array.isArray(values) ? values : [values]).map((value) => ({
      key,
      value: typeof value === 'string' ? Buffer.from(value) : value,
    }));
  });
}

function encodeWithUs(batch: PinnedBatch, compression: 'none' | 'gzip'): Buffer {
  return encodeRecordBatch(
    batch.records.map((record) => ({
      key: record.key,
      value: record.value,
      headers: toOurHeaders(record.headers),
      timestampMs: record.timestampMs,
    })),
    {
      compression,
      baseOffset: batch.baseOffset,
      partitionLeaderEpoch: batch.partitionLeaderEpoch,
      producerId: batch.producerId,
      producerEpoch: batch.producerEpoch,
      baseSequence: batch.baseSequence,
    },
  );
}

const t0 = 1_700_000_000_000;
const pinned: PinnedBatch = {
  records: [
    {
      key: 'order-1',
      value: '{"total":12.5}',
      headers: { source: 'web', trace: Buffer.from([0xde, 0xad]) },
      timestampMs: t0,
    },
    { key: null, value: Buffer.from([0, 1, 2, 250, 255]), timestampMs: t0 + 1 },
    { key: Buffer.alloc(0), value: null, timestampMs: t0 - 3_600_000 }, // negative delta, empty key
    { key: 'k', value: 'x'.repeat(300), headers: { repeated: ['a', 'b'], empty: '' }, timestampMs: t0 + 2 ** 33 },
    { key: 'ünïcødé 🔑', value: 'välue', headers: { 'ключ': 'значение' }, timestampMs: t0 + 5 },
  ],
  baseOffset: 0,
  partitionLeaderEpoch: 0,
  producerId: 4711,
  producerEpoch: 3,
  baseSequence: 99,
};

describe('kafkajs RecordBatch v2 compatibility', () => {
  it('kafkajs starts its batch at baseOffset and counts batchLength from partitionLeaderEpoch', async () => {
    const theirs = await encodeWithKafkajs(pinned, 'none');
    expect(theirs.readInt32BE(8)).toBe(theirs.length - 12);
    expect(theirs.readInt8(16)).toBe(2);
  });

  it('encodes byte for byte what kafkajs encodes (uncompressed)', async () => {
    const theirs = await encodeWithKafkajs(pinned, 'none');
    const ours = encodeWithUs(pinned, 'none');
    expect(ours.toString('hex')).toBe(theirs.toString('hex'));
  });

  it('encodes byte for byte what kafkajs encodes (gzip: both use zlib defaults, mtime 0)', async () => {
    const theirs = await encodeWithKafkajs(pinned, 'gzip');
    const ours = encodeWithUs(pinned, 'gzip');
    expect(ours.toString('hex')).toBe(theirs.toString('hex'));
  });

  it('matches kafkajs byte for byte on random records and producer fields', async () => {
    // kafkajs cannot encode a null header value (it takes Buffer.byteLength(null)), so header values
    // here are never null; our own round-trip tests cover null header values.
    const kafkajsHeaders = fc.dictionary(
      fc.string({ unit: 'grapheme', maxLength: 8 }),
      fc.oneof(fc.string({ maxLength: 8 }), fc.uint8Array({ maxLength: 16 }).map((a) => Buffer.from(a))),
      { maxKeys: 3 },
    );
    const batchArb = fc.record({
      records: fc.array(
        fc.record({
          key: recordInputArb.map((record) => record.key ?? null),
          value: recordInputArb.map((record) => record.value),
          headers: fc.option(kafkajsHeaders, { nil: undefined }),
          timestampMs: fc.integer({ min: 0, max: 4_000_000_000_000 }),
        }),
        { minLength: 1, maxLength: 6 },
      ),
      baseOffset: fc.integer({ min: 0, max: 2 ** 50 }),
      partitionLeaderEpoch: fc.integer({ min: -1, max: 0x7fff_ffff }),
      producerId: fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 2 ** 50 })),
      producerEpoch: fc.integer({ min: -1, max: 0x7fff }),
      baseSequence: fc.integer({ min: -1, max: 0x7fff_ffff }),
    });
    await fc.assert(
      fc.asyncProperty(batchArb, fc.constantFrom('none' as const, 'gzip' as const), async (batch, compression) => {
        const theirs = await encodeWithKafkajs(batch, compression);
        expect(encodeWithUs(batch, compression).toString('hex')).toBe(theirs.toString('hex'));
      }),
      { numRuns: 150 },
    );
  });

  it.each(['none', 'gzip'] as const)('validates and decodes a kafkajs %s batch', async (compression) => {
    const theirs = await encodeWithKafkajs(pinned, compression);
    const header = validateBatch(theirs, 0, { maxBatchBytes: 1 << 20 });
    expect(header).toMatchObject({ producerId: 4711, producerEpoch: 3, baseSequence: 99, recordCount: 5 });
    const { records } = decodeRecordBatch(theirs);
    expect(records.map((record) => record.timestampMs)).toEqual(pinned.records.map((record) => record.timestampMs));
    expect(records.map((record) => record.key?.toString() ?? null)).toEqual(
      pinned.records.map((record) => (record.key === null ? null : record.key.toString())),
    );
    expect(records[1]!.value).toEqual(Buffer.from([0, 1, 2, 250, 255]));
    expect(records[2]!.value).toBeNull();
    expect(records[3]!.headers).toEqual([
      { key: 'repeated', value: Buffer.from('a') },
      { key: 'repeated', value: Buffer.from('b') },
      { key: 'empty', value: Buffer.alloc(0) },
    ]);
    expect(records[4]!.headers).toEqual([{ key: 'ключ', value: Buffer.from('значение') }]);
  });

  it.each(['none', 'gzip'] as const)('kafkajs decodes our %s batch', async (compression) => {
    const ours = encodeWithUs({ ...pinned, baseOffset: 1000, partitionLeaderEpoch: 7 }, compression);
    const decoded = await decodeKafkajsBatch(new KafkajsDecoder(ours));
    expect(decoded).toMatchObject({
      firstOffset: '1000',
      partitionLeaderEpoch: 7,
      lastOffsetDelta: 4,
      producerId: '4711',
      producerEpoch: 3,
      firstSequence: 99,
    });
    expect(decoded.records.map((record) => record.offset)).toEqual(['1000', '1001', '1002', '1003', '1004']);
    expect(decoded.records.map((record) => record.timestamp)).toEqual(
      pinned.records.map((record) => String(record.timestampMs)),
    );
    expect(decoded.records[0]!.key).toEqual(Buffer.from('order-1'));
    expect(decoded.records[1]!.key).toBeNull();
    expect(decoded.records[2]!.value).toBeNull();
    expect(decoded.records[3]!.value).toEqual(Buffer.from('x'.repeat(300)));
    expect(decoded.records[3]!.headers).toEqual({
      repeated: [Buffer.from('a'), Buffer.from('b')],
      empty: Buffer.alloc(0),
    });
  });

  it('kafkajs reads our null header values as null', async () => {
    const ours = encodeRecordBatch([{ value: 'v', headers: [{ key: 'gone', value: null }], timestampMs: t0 }]);
    const decoded = await decodeKafkajsBatch(new KafkajsDecoder(ours));
    expect(decoded.records[0]!.headers).toEqual({ gone: null });
  });
});
