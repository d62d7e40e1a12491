/** Kafka RecordBatch v2: the public surface of the format module. */

// Every layout constant is public: tools and tests read batches with them.
export * from './record-batch-layout.js';
export {
  type DecodedVarint,
  decodeVarint,
  decodeVarlong,
  encodeVarint,
  encodeVarlong,
  MAX_VARINT_BYTES,
  MAX_VARLONG_BYTES,
  sizeOfVarint,
  sizeOfVarlong,
} from './varint.js';
export {
  type BatchHeader,
  lastOffsetOf,
  patchBaseOffset,
  readBatchHeader,
  readBatchSize,
  type ValidateOptions,
  validateBatch,
  validateBatches,
} from './record-batch.js';
export {
  type DecodedRecord,
  decodeRecordBatch,
  type EncodeBatchOptions,
  encodeRecordBatch,
  iterateBatches,
  MAX_DECOMPRESSED_RECORDS_BYTES,
  type RecordHeader,
  type RecordInput,
  restampProducerState,
} from './record-batch-codec.js';
export {
  encodeMessageIndexes,
  frameWithSchemaId,
  MAX_MESSAGE_INDEX_DEPTH,
  readMessageIndexes,
  SCHEMA_FRAME_HEADER_BYTES,
  SCHEMA_MAGIC_BYTE,
  schemaIdOf,
} from './schema-framing.js';
