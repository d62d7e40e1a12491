import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BatchTooLargeError, CorruptBatchError, InvalidArgumentError, UnsupportedBatchTypeError, UnsupportedCompressionError } from '../../src/core/errors.js';
import {
  ATTRIBUTES_POSITION,
  BASE_TIMESTAMP_POSITION,
  BATCH_LENGTH_POSITION,
  CompressionCodec,
  LAST_OFFSET_DELTA_POSITION,
  MAGIC_POSITION,
  RECORD_COUNT_POSITION,
  RECORDS_POSITION,
  TIMESTAMP_TYPE_FLAG,
  decodeRecordBatch,
  encodeRecordBatch,
  lastOffsetOf,
  patchBaseOffset,
  restampProducerState,
  validateBatch,
  validateBatches,
} from '../../src/format/index.js';
import { RecordBatchBuilder } from '../../src/format/record-batch-builder.js';
import {
  encodeOptionsArb,
  expectRejected,
  expectedRecords,
  LIMITS,
  NOW_MS,
  recordsArb,
  resealCrc,
  sampleBatch,
  withClock,
} from './batch-fixtures.js';



describe('encode / decode round trip', () => {
  it('decodes exactly what was encoded, and validateBatch accepts it', () => {
    fc.assert(
      fc.property(recordsArb, encodeOptionsArb, (records, options) => {
        const batch = encodeRecordBatch(records, withClock(options));
        const header = validateBatch(batch, 0, LIMITS);
        const decoded = decodeRecordBatch(batch);
        expect(decoded.header).toEqual(header);
        expect(decoded.records).toEqual(expectedRecords(records, options, NOW_MS));

        const timestamps = decoded.records.map((record) => record.timestampMs);
        expect(header.sizeBytes).toBe(batch.length);
        expect(header.recordCount).toBe(records.length);
        expect(lastOffsetOf(header)).toBe((options.baseOffset ?? 0) + records.length - 1);
        expect(header.baseTimestampMs).toBe(timestamps[0]);
        expect(header.maxTimestampMs).toBe(Math.max(...timestamps));
        expect(header.compression).toBe(CompressionCodec[options.compression ?? 'none']);
        expect(header.producerId).toBe(options.producerId);
        expect(header.producerEpoch).toBe(options.producerEpoch);
        expect(header.baseSequence).toBe(options.baseSequence);
        expect(header.partitionLeaderEpoch).toBe(options.partitionLeaderEpoch);
      }),
      { numRuns: 300 },
    );
  });

  it('uses Kafka Java producer defaults and reads the clock once', () => {
    let clockReads = 0;
    const batch = encodeRecordBatch([{ value: 'a' }, { value: 'b' }], { nowMs: () => NOW_MS + clockReads++ });
    expect(clockReads).toBe(1);
    const { header, records } = decodeRecordBatch(batch);
    expect(header).toMatchObject({ baseOffset: 0, producerId: -1, producerEpoch: -1, baseSequence: -1 });
    expect(header.partitionLeaderEpoch).toBe(-1);
    expect(records.map((record) => record.timestampMs)).toEqual([NOW_MS, NOW_MS]);
  });

  it('refuses an empty batch and bad options', () => {
    expect(() => encodeRecordBatch([])).toThrow(InvalidArgumentError);
    expect(() => encodeRecordBatch([{ value: 'x' }], { baseOffset: -1 })).toThrow(InvalidArgumentError);
    expect(() => encodeRecordBatch([{ value: 'x' }], { producerEpoch: 0x8000 })).toThrow(InvalidArgumentError);
    expect(() => encodeRecordBatch([{ value: 'x', timestampMs: 1.5 }])).toThrow(InvalidArgumentError);
  });

  it('gives log-append-time batches the broker time (maxTimestamp) on every record', () => {
    const batch = sampleBatch('none');
    batch.writeInt16BE(batch.readInt16BE(ATTRIBUTES_POSITION) | TIMESTAMP_TYPE_FLAG, ATTRIBUTES_POSITION);
    resealCrc(batch);
    const { header, records } = decodeRecordBatch(batch);
    expect(records.map((record) => record.timestampMs)).toEqual([1_500_000, 1_500_000, 1_500_000]);
    expect(header.maxTimestampMs).toBe(1_500_000);
  });
});

describe('validateBatch rejects damage', () => {
  it('rejects every truncation of a batch', () => {
    fc.assert(
      fc.property(recordsArb, encodeOptionsArb, (records, options) => {
        const batch = encodeRecordBatch(records, withClock(options));
        for (let cut = 0; cut < batch.length; cut++) {
          expect(() => validateBatch(batch.subarray(0, cut), 0, LIMITS)).toThrow(CorruptBatchError);
        }
      }),
      { numRuns: 40 },
    );
  });

  // Bytes 0-7 (baseOffset) and 12-15 (partitionLeaderEpoch) sit before the CRC on purpose: Kafka's
  // broker assigns the offset and stamps the leader epoch on every batch it appends, and keeping those
  // fields outside the checksum lets it do so without recomputing a CRC over the whole batch. So a flip
  // there is not detectable, and the tests below start at byte 8. The length (8-11) is not covered
  // either, but a wrong length moves the end of the batch: truncated, too large, or a CRC over the
  // wrong range. CRC-32C detects every burst of up to 32 bits, so a single changed byte anywhere from
  // the CRC field on is always caught, not merely with high probability.
  const checkedPositions = (size: number) =>
    Array.from({ length: size }, (_, i) => i).filter((i) => i >= BATCH_LENGTH_POSITION && (i < 12 || i > 15));

  it.each(['none', 'gzip'] as const)('detects every single-byte flip (all 255 masks) in a %s batch', (compression) => {
    const batch = sampleBatch(compression);
    for (const position of checkedPositions(batch.length)) {
      for (let mask = 1; mask <= 255; mask++) {
        const damaged = Buffer.from(batch);
        damaged[position]! ^= mask;
        // A length flipped to a huge size is a truncated batch, not a too large one.
        expectRejected(() => validateBatch(damaged, 0, LIMITS));
      }
    }
  });

  it('detects a random single-byte flip in random batches', () => {
    fc.assert(
      fc.property(
        recordsArb,
        encodeOptionsArb,
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (records, options, seed, mask) => {
          const batch = encodeRecordBatch(records, withClock(options));
          const positions = checkedPositions(batch.length);
          const position = positions[seed % positions.length]!;
          batch[position]! ^= mask;
          expectRejected(() => validateBatch(batch, 0, LIMITS), position < 12);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('leaves the batch valid when the broker-owned fields change (outside the CRC by design)', () => {
    const batch = sampleBatch('none');
    batch.writeInt32BE(12345, 12); // partitionLeaderEpoch
    batch[7]! ^= 0x10; // low byte of baseOffset
    expect(validateBatch(batch, 0, LIMITS).partitionLeaderEpoch).toBe(12345);
  });

  it('rejects a wrong recordCount even when the CRC is recomputed (record walk)', () => {
    const batch = sampleBatch('none');
    for (const count of [2, 4]) {
      const damaged = Buffer.from(batch);
      damaged.writeInt32BE(count, RECORD_COUNT_POSITION);
      damaged.writeInt32BE(count - 1, LAST_OFFSET_DELTA_POSITION);
      resealCrc(damaged);
      expect(() => validateBatch(damaged, 0, LIMITS)).toThrow(CorruptBatchError);
    }
  });

  it('rejects a wrong count in a compressed batch when decoding it (validate cannot walk it)', () => {
    const batch = sampleBatch('gzip');
    batch.writeInt32BE(4, RECORD_COUNT_POSITION);
    batch.writeInt32BE(3, LAST_OFFSET_DELTA_POSITION);
    resealCrc(batch);
    expect(validateBatch(batch, 0, LIMITS).recordCount).toBe(4);
    expect(() => decodeRecordBatch(batch)).toThrow(CorruptBatchError);
  });

  it('rejects a record length below the smallest possible record', () => {
    const batch = encodeRecordBatch([{ value: 'a', timestampMs: 5 }]);
    for (const bodyBytes of [0, 5]) {
      const short = Buffer.concat([
        batch.subarray(0, RECORDS_POSITION),
        Buffer.from([bodyBytes << 1]),
        Buffer.alloc(bodyBytes),
      ]);
      short.writeInt32BE(short.length - 12, BATCH_LENGTH_POSITION);
      resealCrc(short);
      expect(() => validateBatch(short, 0, LIMITS)).toThrow(/below the minimum/);
    }
  });

  it('rejects bad counts, offsets, codecs and timestamps behind a valid CRC', () => {
    const edits: [string, (b: Buffer) => void][] = [
      ['lastOffsetDelta != recordCount - 1', (b) => b.writeInt32BE(5, LAST_OFFSET_DELTA_POSITION)],
      [
        'recordCount 0',
        (b) => {
          b.writeInt32BE(0, RECORD_COUNT_POSITION);
          b.writeInt32BE(-1, LAST_OFFSET_DELTA_POSITION);
        },
      ],
      ['unknown codec 5', (b) => b.writeInt16BE(5, ATTRIBUTES_POSITION)],
      ['unknown codec 7', (b) => b.writeInt16BE(7, ATTRIBUTES_POSITION)],
      ['unsafe baseTimestamp', (b) => b.writeBigInt64BE(2n ** 60n, BASE_TIMESTAMP_POSITION)],
      ['negative baseOffset', (b) => b.writeBigInt64BE(-5n, 0)],
      ['magic 1', (b) => b.writeInt8(1, MAGIC_POSITION)],
    ];
    for (const [, edit] of edits) {
      const damaged = sampleBatch('none');
      edit(damaged);
      resealCrc(damaged);
      expect(() => validateBatch(damaged, 0, LIMITS)).toThrow(CorruptBatchError);
    }
  });

  it('reads snappy/lz4/zstd batches it cannot inflate (recovery keeps them), but decode refuses them', () => {
    const batch = sampleBatch('gzip');
    batch.writeInt16BE(CompressionCodec.zstd, ATTRIBUTES_POSITION);
    resealCrc(batch);
    expect(validateBatch(batch, 0, LIMITS).compression).toBe(CompressionCodec.zstd);
    expect(() => decodeRecordBatch(batch)).toThrow(/unsupported codec/);
  });
});

describe('validateBatches: what an append accepts', () => {
  const gzipWithRecordsArea = (recordsArea: Buffer, recordCount: number) => {
    const plain = sampleBatch('none');
    const batch = Buffer.concat([plain.subarray(0, RECORDS_POSITION), gzipSync(recordsArea)]);
    batch.writeInt32BE(batch.length - 12, BATCH_LENGTH_POSITION);
    batch.writeInt16BE(CompressionCodec.gzip, ATTRIBUTES_POSITION);
    batch.writeInt32BE(recordCount, RECORD_COUNT_POSITION);
    batch.writeInt32BE(recordCount - 1, LAST_OFFSET_DELTA_POSITION);
    resealCrc(batch);
    return batch;
  };

  it('takes plain and gzip batches', () => {
    expect(validateBatches(Buffer.concat([sampleBatch('none'), sampleBatch('gzip')]), LIMITS).map((h) => h.compression)).toEqual([CompressionCodec.none, CompressionCodec.gzip]);
  });

  it('refuses codecs its consumers cannot read (snappy, lz4, zstd) with UNSUPPORTED_COMPRESSION', () => {
    for (const codec of [CompressionCodec.snappy, CompressionCodec.lz4, CompressionCodec.zstd]) {
      const batch = sampleBatch('gzip');
      batch.writeInt16BE(codec, ATTRIBUTES_POSITION);
      resealCrc(batch);
      expect(() => validateBatches(batch, LIMITS), String(codec)).toThrow(UnsupportedCompressionError);
    }
  });

  it('inflates gzip records and walks them: garbage, a wrong count or trailing bytes are refused', () => {
    const plain = sampleBatch('none');
    const recordCount = plain.readInt32BE(RECORD_COUNT_POSITION);
    const recordsArea = plain.subarray(RECORDS_POSITION);
    expect(validateBatches(gzipWithRecordsArea(recordsArea, recordCount), LIMITS)[0]!.recordCount).toBe(recordCount);
    const garbage = gzipWithRecordsArea(recordsArea, recordCount);
    garbage.fill(0x55, RECORDS_POSITION + 10);
    resealCrc(garbage);
    for (const [what, batch] of [
      ['garbage instead of gzip', garbage],
      ['a count above the records', gzipWithRecordsArea(recordsArea, recordCount + 4)],
      ['a count below the records', gzipWithRecordsArea(recordsArea, recordCount - 1)],
      ['bytes after the last record', gzipWithRecordsArea(Buffer.concat([recordsArea, Buffer.from([0x02])]), recordCount)],
    ] as const) {
      expect(() => validateBatch(batch, 0, LIMITS), `${what}: the CRC and header alone pass`).not.toThrow();
      expect(() => validateBatches(batch, LIMITS), what).toThrow(CorruptBatchError);
    }
  });

  it('inflates at most four times the batch limit: a small batch of crafted gzip is refused, not inflated whole', () => {
    const limits = { maxBatchBytes: 64 * 1024 };
    // 300 KiB of zeros gzip to a few hundred bytes: well within the batch limit, over four times it inflated.
    const bomb = gzipWithRecordsArea(Buffer.alloc(300 * 1024), 1);
    expect(bomb.length).toBeLessThan(limits.maxBatchBytes);
    expect(() => validateBatches(bomb, limits)).toThrow(BatchTooLargeError);
    expect(() => validateBatches(bomb, limits)).toThrow(/inflates to more than 262144 bytes/);
    // The encoder keeps to the same bound for that limit: one record that compresses well may be up to
    // four times the limit, and the server takes what it builds.
    const single = new RecordBatchBuilder(16 * 1024 * 1024, { compression: 'gzip', maxBatchBytes: limits.maxBatchBytes });
    expect(single.tryAppend(NOW_MS, null, Buffer.alloc(3 * limits.maxBatchBytes))).toBe(true);
    expect(validateBatches(single.build(), limits)[0]!.recordCount).toBe(1);
    const tooMuch = new RecordBatchBuilder(16 * 1024 * 1024, { compression: 'gzip', maxBatchBytes: limits.maxBatchBytes });
    expect(() => tooMuch.tryAppend(NOW_MS, null, Buffer.alloc(4 * limits.maxBatchBytes))).toThrow(BatchTooLargeError);
  });

  it('fills a gzip batch only as far as its limit holds it compressed: records that do not compress still fit', () => {
    const maxBatchBytes = 8192;
    const builder = new RecordBatchBuilder(16 * 1024, { compression: 'gzip', maxBatchBytes });
    let count = 0;
    while (builder.tryAppend(NOW_MS, null, randomBytes(1000))) count++;
    expect(count).toBeGreaterThanOrEqual(7);
    const batch = builder.build();
    expect(batch.length).toBeLessThanOrEqual(maxBatchBytes);
    expect(validateBatches(batch, { maxBatchBytes })[0]!.recordCount).toBe(count);
  });
});

describe('decodeRecordBatch on damaged records behind a valid CRC', () => {
  it('rejects a record whose fields do not fill its length', () => {
    const batch = encodeRecordBatch([{ key: 'k', value: 'v', timestampMs: 5 }]);
    const bodyBytes = batch[RECORDS_POSITION]! >> 1; // one-byte zigzag length prefix
    const padded = Buffer.concat([
      batch.subarray(0, RECORDS_POSITION),
      Buffer.from([(bodyBytes + 1) << 1]),
      batch.subarray(RECORDS_POSITION + 1),
      Buffer.from([0]),
    ]);
    padded.writeInt32BE(padded.length - 12, BATCH_LENGTH_POSITION);
    resealCrc(padded);
    // The framing is consistent, so the cheap server-side check passes; only decoding sees it.
    expect(validateBatch(padded, 0, LIMITS).recordCount).toBe(1);
    expect(() => decodeRecordBatch(padded)).toThrow(/1 bytes after its last field/);
  });

  it('rejects bytes after the last record of a gzip batch (validate cannot see inside it)', () => {
    const plain = encodeRecordBatch([{ value: 'a', timestampMs: 5 }, { value: 'b', timestampMs: 6 }]);
    const recordsArea = Buffer.concat([plain.subarray(RECORDS_POSITION), Buffer.from([0x02])]);
    const batch = Buffer.concat([plain.subarray(0, RECORDS_POSITION), gzipSync(recordsArea)]);
    batch.writeInt32BE(batch.length - 12, BATCH_LENGTH_POSITION);
    batch.writeInt16BE(CompressionCodec.gzip, ATTRIBUTES_POSITION);
    resealCrc(batch);
    expect(validateBatch(batch, 0, LIMITS).recordCount).toBe(2);
    expect(() => decodeRecordBatch(batch)).toThrow(/1 bytes follow the 2 records/);
  });

  it('throws only CorruptBatchError, whatever the producer put in the records area', () => {
    fc.assert(
      fc.property(
        recordsArb,
        encodeOptionsArb,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }),
        (records, options, flips) => {
          const batch = encodeRecordBatch(records, withClock(options));
          const recordsBytes = batch.length - RECORDS_POSITION;
          for (const [seed, mask] of flips) batch[RECORDS_POSITION + (seed % recordsBytes)]! ^= mask;
          resealCrc(batch);
          try {
            decodeRecordBatch(batch);
          } catch (error) {
            expect(error).toBeInstanceOf(CorruptBatchError);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('size limit', () => {
  it('rejects an oversized batch with BatchTooLargeError', () => {
    const batch = sampleBatch('none');
    expect(validateBatch(batch, 0, { maxBatchBytes: batch.length }).sizeBytes).toBe(batch.length);
    expect(() => validateBatch(batch, 0, { maxBatchBytes: batch.length - 1 })).toThrow(BatchTooLargeError);
  });

  it('calls a batch too large only once its bytes are framed like one (whole, magic 2), and before its CRC', () => {
    // The length field of bytes that are not a batch is noise: as Kafka's broker, CORRUPT_BATCH.
    const prefix = Buffer.alloc(12, 0xee);
    prefix.writeInt32BE(500 * 1024 * 1024, BATCH_LENGTH_POSITION);
    expect(() => validateBatch(prefix, 0, LIMITS)).toThrow(CorruptBatchError);
    const wrongMagic = sampleBatch('none');
    wrongMagic[MAGIC_POSITION] = 1;
    expect(() => validateBatch(wrongMagic, 0, { maxBatchBytes: 100 })).toThrow(CorruptBatchError);
    const claimsMore = sampleBatch('none');
    claimsMore.writeInt32BE(500 * 1024 * 1024, BATCH_LENGTH_POSITION);
    expect(() => validateBatch(claimsMore, 0, LIMITS)).toThrow(/truncated/);
    // A whole batch of magic 2 over the limit is too large even with a bad CRC: the size costs less to check.
    const badCrc = sampleBatch('none');
    badCrc[30]! ^= 1;
    expect(() => validateBatch(badCrc, 0, { maxBatchBytes: 100 })).toThrow(BatchTooLargeError);
  });

  it('never answers bytes that are not a batch with BatchTooLargeError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 4096, size: 'max' }), (bytes) => {
        const garbage = Buffer.from(bytes);
        if (garbage.length > MAGIC_POSITION && garbage[MAGIC_POSITION] === 2) garbage[MAGIC_POSITION] = 3;
        expectRejected(() => validateBatches(garbage, { maxBatchBytes: 64 }));
      }),
      { numRuns: 500 },
    );
  });
});

describe('batch types', () => {
  it.each([
    ['transactional', 0x10, /transactional/],
    ['control', 0x20, /control batch/],
    ['transactional control', 0x30, /control batch/],
  ] as const)('refuses a %s batch on append with UnsupportedBatchTypeError, before inflating it', (_, flag, message) => {
    for (const compression of ['none', 'gzip'] as const) {
      const batch = sampleBatch(compression);
      batch.writeInt16BE(batch.readInt16BE(ATTRIBUTES_POSITION) | flag, ATTRIBUTES_POSITION);
      resealCrc(batch);
      // Framing and CRC are intact: it is the type, not the bytes, that the server refuses.
      expect(validateBatch(batch, 0, LIMITS).attributes & flag).toBe(flag);
      const appended = Buffer.concat([sampleBatch('none'), batch]);
      expect(() => validateBatches(appended, LIMITS)).toThrow(UnsupportedBatchTypeError);
      expect(() => validateBatches(appended, LIMITS)).toThrow(message);
    }
  });
});

describe('patchBaseOffset', () => {
  it('assigns offsets and keeps the batch valid', () => {
    fc.assert(
      fc.property(recordsArb, encodeOptionsArb, fc.integer({ min: 0, max: 2 ** 52 }), (records, options, offset) => {
        const batch = encodeRecordBatch(records, withClock(options));
        patchBaseOffset(batch, 0, offset);
        const header = validateBatch(batch, 0, LIMITS);
        expect(header.baseOffset).toBe(offset);
        expect(lastOffsetOf(header)).toBe(offset + records.length - 1);
        expect(decodeRecordBatch(batch).records.map((record) => record.offset)).toEqual(
          records.map((_, i) => offset + i),
        );
      }),
      { numRuns: 100 },
    );
  });

  it('patches a batch in the middle of a buffer without touching its neighbours', () => {
    const a = sampleBatch('none');
    const b = sampleBatch('gzip');
    const both = Buffer.concat([a, b]);
    patchBaseOffset(both, a.length, 1000);
    expect(both.subarray(0, a.length).equals(a)).toBe(true);
    expect(validateBatches(both, LIMITS).map((header) => header.baseOffset)).toEqual([42, 1000]);
  });
});

describe('restampProducerState', () => {
  it('gives the same bytes as encoding with the new epoch and sequence (the producer renumbers without records)', () => {
    fc.assert(
      fc.property(
        recordsArb,
        encodeOptionsArb,
        fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
        fc.integer({ min: -0x8000, max: 0x7fff }),
        fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
        (records, options, producerId, producerEpoch, baseSequence) => {
          const batch = encodeRecordBatch(records, withClock(options));
          restampProducerState(batch, producerId, producerEpoch, baseSequence);
          expect(batch.equals(encodeRecordBatch(records, withClock({ ...options, producerId, producerEpoch, baseSequence })))).toBe(true);
          const header = validateBatch(batch, 0, LIMITS);
          expect([header.producerId, header.producerEpoch, header.baseSequence]).toEqual([producerId, producerEpoch, baseSequence]);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('refuses an epoch or sequence outside its field and leaves the batch unchanged', () => {
    const batch = sampleBatch('none');
    const before = Buffer.from(batch);
    expect(() => restampProducerState(batch, 1, 0x8000, 0)).toThrow(InvalidArgumentError);
    expect(() => restampProducerState(batch, 1, 0, 2 ** 31)).toThrow(InvalidArgumentError);
    expect(() => restampProducerState(batch, 2 ** 53, 0, 0)).toThrow(InvalidArgumentError);
    expect(batch.equals(before)).toBe(true);
  });
});
