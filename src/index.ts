// The package's public surface: explicit named exports only.
export { ManualClock, systemClock } from './core/clock.js';
export type { Clock, TimerHandle } from './core/clock.js';
export {
  StrataError,
  InvalidArgumentError,
  InvalidTopicNameError,
  InvalidConfigError,
  CorruptBatchError,
  BatchTooLargeError,
  TopicNotFoundError,
  PartitionNotFoundError,
  TopicAlreadyExistsError,
  OffsetOutOfRangeError,
  StorageFailedError,
  DataLossError,
  ShuttingDownError,
  LogClosedError,
  DataDirLockedError,
  TooManyPendingAppendsError,
} from './core/errors.js';
export { encodeRecordBatch, decodeRecordBatch, iterateBatches } from './format/record-batch-codec.js';
export type { RecordInput, DecodedRecord, RecordHeader, EncodeBatchOptions } from './format/record-batch-codec.js';
export { validateBatch, validateBatches, readBatchHeader } from './format/record-batch.js';
export type { BatchHeader } from './format/record-batch.js';
export { LogManager } from './storage/log-manager.js';
export type { LogManagerOptions, TopicDescription, PartitionDescription } from './storage/log-manager.js';
export { PartitionLog } from './storage/partition-log.js';
export type { AppendResult, ReadResult, AckLevel } from './storage/partition-log.js';
export { DEFAULT_TOPIC_CONFIG, resolveTopicConfig } from './storage/topic-config.js';
export type { TopicConfig, FlushPolicy } from './storage/topic-config.js';
