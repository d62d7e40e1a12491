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
export { StrataClient, DEFAULT_SERVER_ADDRESS } from './client/strata-client.js';
export type { StrataClientOptions, TopicDescription as TopicDescriptionMessage } from './client/strata-client.js';
export { Admin } from './client/admin.js';
export type { OffsetSpec } from './client/admin.js';
export { Producer } from './client/producer.js';
export type { ProducerOptions, ProducerRecord, RecordMetadata } from './client/producer.js';
export type { ConsumeOptions, ConsumedRecord } from './client/consume.js';
export { StrataClientError } from './client/client-error.js';
export { DefaultPartitioner } from './client/partitioner.js';
export type { Partitioner } from './client/partitioner.js';
export { murmur2, partitionForKey } from './client/murmur2.js';
export { startServer } from './server/bootstrap.js';
export type { RunningServer } from './server/bootstrap.js';
export { resolveServerConfig, DEFAULT_SERVER_CONFIG } from './server/server-config.js';
export type { ServerConfig } from './server/server-config.js';
