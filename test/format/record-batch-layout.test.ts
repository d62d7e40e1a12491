import { crc32c } from '@node-rs/crc32';
import { describe, expect, it } from 'vitest';
import {
  ATTRIBUTES_POSITION,
  BASE_OFFSET_POSITION,
  BASE_SEQUENCE_POSITION,
  BASE_TIMESTAMP_POSITION,
  BATCH_HEADER_BYTES,
  BATCH_LENGTH_POSITION,
  COMPRESSION_CODEC_MASK,
  CONTROL_FLAG,
  CRC_POSITION,
  CompressionCodec,
  LAST_OFFSET_DELTA_POSITION,
  LOG_OVERHEAD_BYTES,
  MAGIC_POSITION,
  MAGIC_V2,
  MAX_TIMESTAMP_POSITION,
  PARTITION_LEADER_EPOCH_POSITION,
  PRODUCER_EPOCH_POSITION,
  PRODUCER_ID_POSITION,
  RECORD_COUNT_POSITION,
  RECORDS_POSITION,
  TIMESTAMP_TYPE_FLAG,
  TRANSACTIONAL_FLAG,
  encodeRecordBatch,
  readBatchHeader,
  validateBatch,
} from '../../src/format/index.js';

describe('RecordBatch v2 layout constants', () => {
  it('pins every field position, as in Kafka DefaultRecordBatch', () => {
    expect({
      BASE_OFFSET_POSITION,
      BATCH_LENGTH_POSITION,
      PARTITION_LEADER_EPOCH_POSITION,
      MAGIC_POSITION,
      CRC_POSITION,
      ATTRIBUTES_POSITION,
      LAST_OFFSET_DELTA_POSITION,
      BASE_TIMESTAMP_POSITION,
      MAX_TIMESTAMP_POSITION,
      PRODUCER_ID_POSITION,
      PRODUCER_EPOCH_POSITION,
      BASE_SEQUENCE_POSITION,
      RECORD_COUNT_POSITION,
      RECORDS_POSITION,
    }).toEqual({
      BASE_OFFSET_POSITION: 0,
      BATCH_LENGTH_POSITION: 8,
      PARTITION_LEADER_EPOCH_POSITION: 12,
      MAGIC_POSITION: 16,
      CRC_POSITION: 17,
      ATTRIBUTES_POSITION: 21,
      LAST_OFFSET_DELTA_POSITION: 23,
      BASE_TIMESTAMP_POSITION: 27,
      MAX_TIMESTAMP_POSITION: 35,
      PRODUCER_ID_POSITION: 43,
      PRODUCER_EPOCH_POSITION: 51,
      BASE_SEQUENCE_POSITION: 53,
      RECORD_COUNT_POSITION: 57,
      RECORDS_POSITION: 61,
    });
  });

  it('has positions that follow from the field sizes', () => {
    // Each field starts where the previous one ends: int64, int32, int32, int8, uint32, int16, int32,
    // int64, int64, int64, int16, int32, int32.
    const sizes = [8, 4, 4, 1, 4, 2, 4, 8, 8, 8, 2, 4, 4];
    const positions = [
      BASE_OFFSET_POSITION,
      BATCH_LENGTH_POSITION,
      PARTITION_LEADER_EPOCH_POSITION,
      MAGIC_POSITION,
      CRC_POSITION,
      ATTRIBUTES_POSITION,
      LAST_OFFSET_DELTA_POSITION,
      BASE_TIMESTAMP_POSITION,
      MAX_TIMESTAMP_POSITION,
      PRODUCER_ID_POSITION,
      PRODUCER_EPOCH_POSITION,
      BASE_SEQUENCE_POSITION,
      RECORD_COUNT_POSITION,
    ];
    positions.forEach((position, i) => {
      const next = i + 1 < positions.length ? positions[i + 1]! : RECORDS_POSITION;
      expect(next - position).toBe(sizes[i]);
    });
  });

  it('pins header size, overhead, magic, codecs and flags', () => {
    expect(BATCH_HEADER_BYTES).toBe(61);
    expect(LOG_OVERHEAD_BYTES).toBe(12);
    expect(MAGIC_V2).toBe(2);
    expect(COMPRESSION_CODEC_MASK).toBe(0x07);
    expect(CompressionCodec).toEqual({ none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 });
    expect(TIMESTAMP_TYPE_FLAG).toBe(0x08);
    expect(TRANSACTIONAL_FLAG).toBe(0x10);
    expect(CONTROL_FLAG).toBe(0x20);
  });
});

describe('RecordBatch v2 layout in an encoded batch', () => {
  // Distinctive values, so a field read at the wrong position cannot match by accident.
  const baseOffset = 0x01_0203_0405;
  const partitionLeaderEpoch = 0x0a0b0c0d;
  const producerId = 0x11_2233_4455;
  const producerEpoch = 0x1234;
  const baseSequence = 0x01020304;
  const firstTimestampMs = 1_700_000_000_123;
  const batch = encodeRecordBatch(
    [
      { key: 'k0', value: 'v0', timestampMs: firstTimestampMs },
      { key: null, value: 'v1', timestampMs: firstTimestampMs + 5_000 },
      { key: 'k2', value: null, timestampMs: firstTimestampMs - 7 },
    ],
    { baseOffset, partitionLeaderEpoch, producerId, producerEpoch, baseSequence },
  );

  it('holds each field at its pinned position', () => {
    expect(batch.readBigInt64BE(BASE_OFFSET_POSITION)).toBe(BigInt(baseOffset));
    expect(batch.readInt32BE(BATCH_LENGTH_POSITION)).toBe(batch.length - LOG_OVERHEAD_BYTES);
    expect(batch.readInt32BE(PARTITION_LEADER_EPOCH_POSITION)).toBe(partitionLeaderEpoch);
    expect(batch.readInt8(MAGIC_POSITION)).toBe(2);
    expect(batch.readUInt32BE(CRC_POSITION)).toBe(crc32c(batch.subarray(ATTRIBUTES_POSITION)));
    expect(batch.readInt16BE(ATTRIBUTES_POSITION)).toBe(0);
    expect(batch.readInt32BE(LAST_OFFSET_DELTA_POSITION)).toBe(2);
    // baseTimestamp is the first record's (Java producer behaviour), maxTimestamp the largest.
    expect(batch.readBigInt64BE(BASE_TIMESTAMP_POSITION)).toBe(BigInt(firstTimestampMs));
    expect(batch.readBigInt64BE(MAX_TIMESTAMP_POSITION)).toBe(BigInt(firstTimestampMs + 5_000));
    expect(batch.readBigInt64BE(PRODUCER_ID_POSITION)).toBe(BigInt(producerId));
    expect(batch.readInt16BE(PRODUCER_EPOCH_POSITION)).toBe(producerEpoch);
    expect(batch.readInt32BE(BASE_SEQUENCE_POSITION)).toBe(baseSequence);
    expect(batch.readInt32BE(RECORD_COUNT_POSITION)).toBe(3);
  });

  const hex = (text: string) => Buffer.from(text).toString('hex');

  it('starts the records right after the header, with record 0 laid out as documented', () => {
    // length 10 (zigzag 0x14), attributes 0, timestampDelta 0, offsetDelta 0, key 'k0' (len 2 -> 0x04),
    // value 'v0', headerCount 0.
    expect(batch.subarray(RECORDS_POSITION, RECORDS_POSITION + 11).toString('hex')).toBe(
      '14' + '00' + '00' + '00' + '04' + hex('k0') + '04' + hex('v0') + '00',
    );
  });

  it('reads back through readBatchHeader with the same values', () => {
    const header = readBatchHeader(batch);
    expect(header).toEqual({
      baseOffset,
      batchLengthBytes: batch.length - 12,
      sizeBytes: batch.length,
      partitionLeaderEpoch,
      magic: 2,
      crc: batch.readUInt32BE(CRC_POSITION),
      attributes: 0,
      compression: CompressionCodec.none,
      lastOffsetDelta: 2,
      baseTimestampMs: firstTimestampMs,
      maxTimestampMs: firstTimestampMs + 5_000,
      producerId,
      producerEpoch,
      baseSequence,
      recordCount: 3,
      isControl: false,
      isTransactional: false,
    });
  });

  it('maps the attribute flags to header fields', () => {
    const flagged = Buffer.from(batch);
    const attributes = CompressionCodec.none | TIMESTAMP_TYPE_FLAG | TRANSACTIONAL_FLAG | CONTROL_FLAG;
    flagged.writeInt16BE(attributes, ATTRIBUTES_POSITION);
    flagged.writeUInt32BE(crc32c(flagged.subarray(ATTRIBUTES_POSITION)), CRC_POSITION);
    const header = validateBatch(flagged, 0, { maxBatchBytes: 1 << 20 });
    expect(header.isControl).toBe(true);
    expect(header.isTransactional).toBe(true);
    expect(header.attributes & TIMESTAMP_TYPE_FLAG).toBe(TIMESTAMP_TYPE_FLAG);
    expect(header.compression).toBe(CompressionCodec.none);
  });
});
