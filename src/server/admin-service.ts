import { PRODUCER_IDS_TOPIC } from '../broker/producer-id-registry.js';
import type { Broker } from '../broker/broker.js';
import { InvalidArgumentError, InvalidConfigError } from '../core/errors.js';
import { OFFSETS_TOPIC } from '../groups/offset-store.js';
import type { AdminServiceHandlers } from '../generated/strata/v1/AdminService.js';
import type { TopicDescription as TopicDescriptionProto } from '../generated/strata/v1/TopicDescription.js';
import type { TopicDescription } from '../storage/log-manager.js';
import { resolveTopicConfig, TOPIC_CONFIG_KEYS, type TopicConfig } from '../storage/topic-config.js';
import type { GroupAdminHandlers } from './group-admin.js';
import { refuseInternalTopic } from './internal-topics.js';
import { startPositionFromProto } from './start-position.js';
import { unary } from './unary.js';

function effectiveConfig(config: TopicConfig): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, spec] of Object.entries(TOPIC_CONFIG_KEYS)) out[key] = String(config[spec.field]);
  return out;
}

const STATUS_NAMES = {
  online: 'PARTITION_STATUS_ONLINE',
  failed: 'PARTITION_STATUS_FAILED',
  'data-loss': 'PARTITION_STATUS_DATA_LOSS',
  'read-only': 'PARTITION_STATUS_READ_ONLY',
} as const;

export function topicDescriptionToProto(description: TopicDescription): TopicDescriptionProto {
  return {
    name: description.name,
    partitionCount: description.partitionCount,
    config: effectiveConfig(description.config),
    configOverrides: description.configOverrides,
    partitions: description.partitions.map((p) => ({
      partition: p.partition,
      status: STATUS_NAMES[p.status],
      logStartOffset: p.logStartOffset,
      logEndOffset: p.logEndOffset,
      highWatermark: p.highWatermark,
      sizeBytes: p.sizeBytes,
      segmentCount: p.segmentCount,
      error: p.error ?? '',
      statusSinceMs: p.sinceMs ?? 0,
    })),
  };
}

/**
 * The smallest segment.bytes a client may give a topic, as Kafka 4 has it: every segment keeps a file
 * open, and 1 KiB segments let one producer exhaust the server's descriptors with a few MB of records.
 * The storage engine takes smaller ones (its tests roll segments quickly); the API does not.
 */
export const MIN_SEGMENT_BYTES = 1024 * 1024;

/**
 * The Admin service: topics, partitions, offset look-ups, and the operator's side of groups.
 * `largestBatchBytes`: the largest max.message.bytes a new topic may have (what fits in a request);
 * `onTopicDeleted` runs after a topic is deleted (the offset store forgets its committed offsets).
 */
export function createAdminService(
  broker: Broker,
  groupAdmin: GroupAdminHandlers,
  largestBatchBytes: number,
  onTopicDeleted: (topic: string) => Promise<void> = async () => undefined,
): AdminServiceHandlers {
  const logs = broker.logs;
  return {
    ...groupAdmin,
    CreateTopic: unary(async (request) => {
      // Checked before anything is created; resolveTopicConfig throws for a bad value first.
      const { maxBatchBytes, segmentBytes } = resolveTopicConfig(request.config);
      if (maxBatchBytes > largestBatchBytes) {
        throw new InvalidConfigError(
          `max.message.bytes ${maxBatchBytes} is larger than the largest batch this server receives (${largestBatchBytes}): raise the server's maxRequestBytes first`,
        );
      }
      if (segmentBytes < MIN_SEGMENT_BYTES) {
        throw new InvalidConfigError(`segment.bytes ${segmentBytes} is below the server's minimum of ${MIN_SEGMENT_BYTES} (1 MiB): every segment keeps a file open`);
      }
      return { topic: topicDescriptionToProto(await logs.createTopic(request.topic, request.partitionCount, request.config)) };
    }),
    DeleteTopic: unary(async (request) => {
      refuseInternalTopic(request.topic, 'delete');
      await logs.deleteTopic(request.topic);
      // Groups' committed offsets of it go too (as in Kafka), so a topic created again starts at zero.
      await onTopicDeleted(request.topic);
      return {};
    }),
    // The internal topics are Strata's own bookkeeping: described on request, not listed.
    ListTopics: unary(async () => ({
      topics: logs
        .listTopics()
        .filter((name) => name !== OFFSETS_TOPIC && name !== PRODUCER_IDS_TOPIC)
        .map((name) => ({ name, partitionCount: logs.partitionCount(name) ?? 0 })),
    })),
    DescribeTopic: unary(async (request) => ({ topic: topicDescriptionToProto(logs.describeTopic(request.topic)) })),
    CreatePartitions: unary(async (request) => {
      refuseInternalTopic(request.topic, 'add partitions to');
      return { topic: topicDescriptionToProto(await logs.createPartitions(request.topic, request.partitionCount)) };
    }),
    ListOffsets: unary(async (request) => {
      const description = logs.describeTopic(request.topic);
      const partitions = request.partitions.length > 0 ? request.partitions : description.partitions.map((p) => p.partition);
      if (!request.position?.position) throw new InvalidArgumentError('position is required: an offset spec (earliest, latest or timestamp_ms)');
      const start = startPositionFromProto(request.position, { point: 'latest' });
      const offsets = [];
      for (const partition of partitions) {
        const log = logs.partition(request.topic, partition);
        if ('timestampMs' in start) {
          const found = await log.offsetForTimestamp(start.timestampMs);
          offsets.push({ partition, offset: found ?? log.highWatermark, found: found !== undefined });
        } else {
          offsets.push({ partition, offset: await broker.resolveStart(request.topic, partition, start), found: true });
        }
      }
      return { offsets };
    }),
  };
}
