// The package's root entry is the client library: explicit named exports only. It loads no server,
// storage, broker or group-coordinator code (test/architecture/package-entries.test.ts); what embeds a
// server is the `./server` subpath (src/server-entry.ts).
export { ManualClock, systemClock } from './core/clock.js';
export type { Clock, TimerHandle } from './core/clock.js';
// One class per failure (core/error-registry.ts makes a server's code into its class).
export {
  StrataError,
  InvalidArgumentError,
  InvalidTopicNameError,
  InvalidConfigError,
  CorruptBatchError,
  InternalTopicError,
  UnsupportedCompressionError,
  UnsupportedBatchTypeError,
  BatchTooLargeError,
  TopicNotFoundError,
  PartitionNotFoundError,
  TopicAlreadyExistsError,
  OffsetOutOfRangeError,
  TooManyOpenFilesError,
  StorageFailedError,
  DataLossError,
  ShuttingDownError,
  LogClosedError,
  DataDirLockedError,
  PortInUseError,
  TooManyPendingAppendsError,
  OutOfOrderSequenceError,
  UnknownProducerError,
  DuplicateSequenceError,
  ProducerFencedError,
  TooManyProducersError,
  FencedMemberEpochError,
  FencedInstanceIdError,
  UnknownMemberIdError,
  GroupNotFoundError,
  GroupNotEmptyError,
  QueueRecordNotAcquiredError,
  QueueGroupNotFoundError,
  QueueGroupNotEmptyError,
  GroupMaxSizeReachedError,
  SlowReaderError,
  TooManyRequestsError,
  PartitionLimitReachedError,
  MemoryBudgetExhaustedError,
  TooManyConnectionsError,
  TooManyStreamsError,
  PartitionOverflowError,
  InvalidMessageIdError,
  RecordValidationFailedError,
} from './core/errors.js';
export type { StrataErrorOptions } from './core/errors.js';
export { encodeRecordBatch, decodeRecordBatch, iterateBatches } from './format/record-batch-codec.js';
export type { RecordInput, DecodedRecord, RecordHeader, EncodeBatchOptions } from './format/record-batch-codec.js';
export { validateBatch, validateBatches, readBatchHeader } from './format/record-batch.js';
export { MESSAGE_ID_HEADER } from './format/message-ids.js';
export type { BatchHeader, ValidateOptions } from './format/record-batch.js';
export { StrataClient, DEFAULT_SERVER_ADDRESS, type DecodingGroupConsumer, type DeserializerOptions } from './client/strata-client.js';
export type { StrataClientOptions, StrataTlsOptions, TopicDescription as TopicDescriptionMessage } from './client/strata-client.js';
export { Admin } from './client/admin.js';
export { AclAdmin, type AclRuleSpec, type AclRule, type AclChangeResult } from './client/acl-admin.js';
export type { BearerTokenSource } from './client/bearer-token.js';
export { SchemaAdmin } from './client/schema-admin.js';
export { QuotaAdmin, QUOTA_NAMES, DEFAULT_QUOTA_ENTITY, type QuotaName, type QuotaEntry, type QuotaChangeResult, type ResolvedQuota } from './client/quota-admin.js';
export type { SchemaCompatibility, SchemaReferenceSpec, SchemaSpec, SchemaType, SchemaVersionInfo, SchemaVersionSpec } from './client/schema-admin.js';
export { schemaSerializer, TopicNameStrategy, RecordNameStrategy, TopicRecordNameStrategy } from './client/schema-serializer.js';
export type { Serializer, SerializationContext, SubjectNameStrategy, SchemaSerializerOptions } from './client/schema-serializer.js';
export { schemaDeserializer } from './client/schema-deserializer.js';
export type { Deserializer, DeserializationContext, SchemaDeserializerOptions } from './client/schema-deserializer.js';
export type { SchemaRegistryClient, SchemaFormatName } from './client/schema-codec.js';
export { SCHEMA_MAGIC_BYTE, SCHEMA_FRAME_HEADER_BYTES } from './format/schema-framing.js';
export { SerializingProducer, type SerializedProducerRecord, type ProducerSerializers } from './client/serializing-producer.js';
export type { DeserializedRecord, RecordDeserializers } from './client/deserializing-records.js';
export { RecordSerializationError, MissingSchemaFramingError, UnknownSchemaIdError, RecordDeserializationError, type SerdeRecordLocation } from './core/errors.js';
export type {
  OffsetSpec,
  OffsetResetSpec,
  ResetOffsetsOptions,
  ResetOffsetsResult,
  OffsetChange,
  TopicDescription,
  PartitionDescription,
  TopicSummary,
  AlterTopicConfigOptions,
  AlterTopicConfigResult,
  TopicConfigChange,
  PartitionOffset,
  GroupSummary,
  GroupDescription,
  GroupMemberDescription,
  FencedMemberDescription,
  PartitionLag,
  QueueGroupSummary,
  QueueGroupDescription,
  QueueMemberDescription,
  QueuePartitionDescription,
  QueueDepth,
  QueueResetSpec,
  PurgeBefore,
  PurgeRecordsOptions,
  PurgeRecordsResult,
  PartitionPurgeResult,
} from './client/admin.js';
export { QueueConsumer } from './client/queue-consumer.js';
export type { QueueConsumerOptions, QueueLogger, ProcessOptions, QueueHandler } from './client/queue-consumer.js';
export { QueueMessage } from './client/queue-message.js';
export type { ReleaseOptions, QueueMessageSession } from './client/queue-message.js';
export type { QueueOptions, QueueGroupConfigOptions, QueueGroupConfigValues } from './client/queue-options.js';
export { Producer } from './client/producer.js';
export type { ProducerOptions, ProducerRecord, RecordMetadata } from './client/producer.js';
export type { ConsumeOptions, ConsumedRecord } from './client/consume.js';
export { GroupConsumer } from './client/group-consumer.js';
export type { GroupConsumerOptions, GroupConsumerLogger, TopicPartition, TopicPartitionOffset, CommitFailure, CommitTrigger } from './client/group-consumer.js';
export { StrataClientError, ServerUnreachableError, StreamEndedError, RequestTimeoutError, OutcomeUnknownError, ProducerClosedError } from './client/client-error.js';
export { NonRetriableError } from './client/non-retriable-error.js';
export { IdempotentConsumer, processedKeyOf, messageIdOf, MAX_MESSAGE_ID_BYTES } from './client/idempotent-consumer.js';
export type { ProcessedKeyStore, IdempotentConsumerOptions, RecordIdentity } from './client/idempotent-consumer.js';
export { MemoryProcessedKeyStore, DEFAULT_MAX_PROCESSED_KEYS, MAX_PROCESSED_KEYS } from './client/memory-processed-key-store.js';
export type { MemoryProcessedKeyStoreOptions } from './client/memory-processed-key-store.js';
export type { GroupFailurePolicyOptions, FailureBackoffOptions, RecordHandler, HandlerContext } from './client/group-failure-policy.js';
export { DefaultPartitioner } from './client/partitioner.js';
export type { Partitioner } from './client/partitioner.js';
export { murmur2, partitionForKey } from './client/murmur2.js';
