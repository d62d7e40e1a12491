/**
 * Kafka's RecordBatch v2 (magic 2), byte for byte, as drawn in the javadoc of Kafka's
 * DefaultRecordBatch. Every multi-byte integer in the batch header is big-endian. Strata stores and
 * serves batches as producers sent them (only baseOffset and partitionLeaderEpoch are rewritten), so
 * this layout is the on-disk format as well as the wire format, and any Kafka client can read what we
 * serve. For client authors in other languages, docs/protocol.md describes it with what the server accepts.
 *
 *   position  size  field
 *   --------  ----  -----------------------------------------------------------------------------
 *          0     8  baseOffset            int64   offset of the first record (patched by the broker)
 *          8     4  batchLength           int32   bytes AFTER this field (total = 12 + batchLength)
 *         12     4  partitionLeaderEpoch  int32   stamped -1 by the broker (STORED_PARTITION_LEADER_EPOCH)
 *         16     1  magic                 int8    always 2 for this format
 *         17     4  crc                   uint32  CRC-32C of bytes [21, end of batch)
 *         21     2  attributes            int16   bits 0-2 compression codec (0 none, 1 gzip,
 *                                                 2 snappy, 3 lz4, 4 zstd); bit 3 timestamp type
 *                                                 (0 create time, 1 log-append time); bit 4
 *                                                 transactional; bit 5 control; others unused
 *         23     4  lastOffsetDelta       int32   offset of the last record minus baseOffset
 *         27     8  baseTimestamp         int64   ms; timestamp of the first record
 *         35     8  maxTimestamp          int64   ms; largest timestamp in the batch
 *         43     8  producerId            int64   -1 when the producer is not idempotent
 *         51     2  producerEpoch         int16   -1 when the producer is not idempotent
 *         53     4  baseSequence          int32   -1 when the producer is not idempotent
 *         57     4  recordCount           int32   number of records that follow
 *         61     -  records               recordCount records; when the codec is not none, this
 *                                                 whole area is one compressed blob
 *
 * The CRC starts at attributes (21) rather than at 0 so that the broker can assign baseOffset and
 * stamp partitionLeaderEpoch without recomputing a checksum over the whole batch: those two fields
 * and batchLength and magic sit before the CRC. batchLength is protected indirectly: a wrong length
 * moves the end of the CRC-covered range or of the buffer, and magic is checked on its own.
 *
 * What the CRC does not cover, Strata checks on every read of a stored batch and at every start
 * (src/storage/batch-header-check.ts), since a flipped bit there passes the CRC:
 *   baseOffset            must continue the batch before it (or equal the offset-index entry or the
 *                         segment's base offset a walk starts from): a wrong one would serve records
 *                         under wrong offsets, or make a replay skip or stop early;
 *   batchLength           61 .. MAX_BATCH_BYTES_LIMIT and within the segment's written bytes; a wrong
 *                         but plausible length is caught where the next header should start (its
 *                         baseOffset does not continue) or by the CRC, which then covers other bytes;
 *   partitionLeaderEpoch  Strata has no leader epochs: the broker stamps NO_PARTITION_LEADER_EPOCH (-1)
 *                         on every batch it appends, whatever the producer wrote. Reads accept -1 and
 *                         0 (what kafkajs writes, kept by Strata versions that stored the producer's
 *                         value): any one-byte change of either is neither, so it is caught. Batches
 *                         stored by an earlier version from a producer that set another epoch are
 *                         refused as damaged;
 *   magic                 2;
 *   lastOffsetDelta       recordCount - 1 (covered by the CRC, checked here too because every read
 *                         computes the next offset from it before any CRC is checked).
 * A mismatch is DATA_LOSS naming the partition, segment file and byte position, on read and at start.
 *
 * Each record (all varints are zigzag-encoded, Protocol Buffers style):
 *
 *   length           varint   bytes of the record after this field
 *   attributes       int8     unused, 0
 *   timestampDelta   varlong  timestamp minus the batch's baseTimestamp (may be negative)
 *   offsetDelta      varint   offset minus the batch's baseOffset
 *   keyLength        varint   -1 for a null key
 *   key              bytes
 *   valueLength      varint   -1 for a null value
 *   value            bytes
 *   headerCount      varint
 *   headers          headerCount times:
 *     headerKeyLength    varint   never null
 *     headerKey          utf8
 *     headerValueLength  varint   -1 for a null value
 *     headerValue        bytes
 */

export const BASE_OFFSET_POSITION = 0;
export const BATCH_LENGTH_POSITION = 8;
export const PARTITION_LEADER_EPOCH_POSITION = 12;
export const MAGIC_POSITION = 16;
export const CRC_POSITION = 17;
export const ATTRIBUTES_POSITION = 21;
export const LAST_OFFSET_DELTA_POSITION = 23;
export const BASE_TIMESTAMP_POSITION = 27;
export const MAX_TIMESTAMP_POSITION = 35;
export const PRODUCER_ID_POSITION = 43;
export const PRODUCER_EPOCH_POSITION = 51;
export const BASE_SEQUENCE_POSITION = 53;
export const RECORD_COUNT_POSITION = 57;
export const RECORDS_POSITION = 61;

/** Bytes before the first record; also the smallest possible batch (one with no record bytes). */
export const BATCH_HEADER_BYTES = 61;
/** baseOffset + batchLength: the bytes that batchLength does not count. */
export const LOG_OVERHEAD_BYTES = 12;
/** The smallest batchLength a well-formed header can carry. */
export const MIN_BATCH_LENGTH_BYTES = BATCH_HEADER_BYTES - LOG_OVERHEAD_BYTES;

export const MAGIC_V2 = 2;

/** Kafka's NO_PARTITION_LEADER_EPOCH: what the broker stamps on every batch it stores (see above). */
export const STORED_PARTITION_LEADER_EPOCH = -1;
/** Also accepted in stored batches: kafkajs writes 0, and earlier versions kept the producer's value. */
export const LEGACY_PARTITION_LEADER_EPOCH = 0;

export const COMPRESSION_CODEC_MASK = 0x07;
export const CompressionCodec = {
  none: 0,
  gzip: 1,
  snappy: 2,
  lz4: 3,
  zstd: 4,
} as const;
export type CompressionCodecName = keyof typeof CompressionCodec;
export type CompressionCodecId = (typeof CompressionCodec)[CompressionCodecName];
/** Codec ids above this are not defined by Kafka; a batch carrying one is corrupt. */
export const MAX_COMPRESSION_CODEC_ID = CompressionCodec.zstd;

export const TIMESTAMP_TYPE_FLAG = 0x08;
export const TRANSACTIONAL_FLAG = 0x10;
export const CONTROL_FLAG = 0x20;

/**
 * attributes, timestampDelta, offsetDelta, keyLength, valueLength and headerCount each take at least
 * one byte, so a record body shorter than this cannot be well formed.
 */
export const MIN_RECORD_BODY_BYTES = 6;
