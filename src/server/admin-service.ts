import { type TopicDescription, topicConfigEntries, type TopicAdmin } from '../broker/topic-admin.js';
import { InvalidArgumentError } from '../core/errors.js';
import type { AdminServiceHandlers } from '../generated/strata/v1/AdminService.js';
import type { TopicDescription as TopicDescriptionProto } from '../generated/strata/v1/TopicDescription.js';
import type { GroupAdminHandlers } from './group-admin.js';
import { startPositionFromProto } from './start-position.js';
import { unary } from './unary.js';

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
    config: topicConfigEntries(description.config),
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
 * The Admin service: topics, partitions, offset look-ups (the wire around broker/TopicAdmin, which
 * holds their policies), and the operator's side of groups.
 */
export function createAdminService(topics: TopicAdmin, groupAdmin: GroupAdminHandlers): AdminServiceHandlers {
  return {
    ...groupAdmin,
    CreateTopic: unary(async (request) => ({ topic: topicDescriptionToProto(await topics.createTopic(request.topic, request.partitionCount, request.config)) })),
    DeleteTopic: unary(async (request) => {
      await topics.deleteTopic(request.topic);
      return {};
    }),
    ListTopics: unary(async () => ({ topics: topics.listTopics() })),
    DescribeTopic: unary(async (request) => ({ topic: topicDescriptionToProto(topics.describeTopic(request.topic)) })),
    CreatePartitions: unary(async (request) => ({ topic: topicDescriptionToProto(await topics.createPartitions(request.topic, request.partitionCount)) })),
    AlterTopicConfig: unary(async (request) => {
      const { topic, changes } = await topics.alterTopicConfig(request.topic, { set: request.set, delete: request.delete }, { validateOnly: request.validateOnly });
      return { topic: topicDescriptionToProto(topic), changes };
    }),
    ListOffsets: unary(async (request) => {
      const description = topics.describeTopic(request.topic);
      const partitions = request.partitions.length > 0 ? request.partitions : description.partitions.map((p) => p.partition);
      if (!request.position?.position) throw new InvalidArgumentError('position is required: an offset spec (earliest, latest or timestamp_ms)');
      const start = startPositionFromProto(request.position, { point: 'latest' });
      return { offsets: await topics.listOffsets(request.topic, partitions, start) };
    }),
    PurgeRecords: unary(async (request) => {
      const purges = request.partitions.map((p) => {
        if (p.before === undefined || (p.before === 'all' && !p.all)) throw new InvalidArgumentError(`partition ${p.partition}: say where the purge ends (before_offset, or all set to true)`);
        return { partition: p.partition, before: p.before === 'all' ? ('all' as const) : p.beforeOffset! };
      });
      const results = await topics.purgeRecords(request.topic, purges, { validateOnly: request.validateOnly });
      return { partitions: results, validatedOnly: request.validateOnly };
    }),
  };
}
