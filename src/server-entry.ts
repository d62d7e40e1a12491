// The package's `./server` subpath (`import { startServer } from 'strata-log/server'`): what embeds a
// Strata server or its storage engine in another process. Explicit named exports only.
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
export { ManualClock, systemClock } from './core/clock.js';
export type { Clock, TimerHandle } from './core/clock.js';
export { LogManager } from './storage/log-manager.js';
export type { LogManagerOptions, TopicDescription, PartitionDescription } from './storage/log-manager.js';
export { PartitionLog } from './storage/partition-log.js';
export type { AppendResult, ReadResult, AckLevel } from './storage/partition-log.js';
export { DEFAULT_TOPIC_CONFIG, resolveTopicConfig } from './storage/topic-config.js';
export type { TopicConfig, FlushPolicy } from './storage/topic-config.js';
export { startServer } from './server/bootstrap.js';
export type { RunningServer } from './server/bootstrap.js';
export { resolveServerConfig, DEFAULT_SERVER_CONFIG } from './server/server-config.js';
export type { ServerConfig } from './server/server-config.js';
