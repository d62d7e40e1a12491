import type { QueueGroupConfig as QueueGroupConfigProto, QueueGroupConfig__Output } from '../generated/strata/v1/QueueGroupConfig.js';
import { InvalidArgumentError } from '../core/errors.js';
import type { DescribeQueueGroupResponse } from '../generated/strata/v1/DescribeQueueGroupResponse.js';
import type { QueueDepth as QueueDepthProto } from '../generated/strata/v1/QueueDepth.js';
import type { QueuePartitionDescription as QueuePartitionDescriptionProto } from '../generated/strata/v1/QueuePartitionDescription.js';
import type { StartPosition__Output } from '../generated/strata/v1/StartPosition.js';
import type { QueueAnswer, QueueDepth, QueueGroupDescription, QueuePartitionDescription, QueueRecordRef, QueueResetTarget } from '../queues/queue-coordinator-api.js';
import type { QueueAnswer__Output } from '../generated/strata/v1/QueueAnswer.js';
import type { QueueRecordRef__Output } from '../generated/strata/v1/QueueRecordRef.js';
import type { QueueGroupConfig } from '../queues/queue-group-config.js';
import { offsetFromProto } from './start-position.js';

const ORDERINGS = { QUEUE_ORDERING_NONE: 'none', QUEUE_ORDERING_KEY: 'key' } as const;
const DELIVERIES = { QUEUE_DELIVERY_GUARANTEE_AT_LEAST_ONCE: 'at-least-once', QUEUE_DELIVERY_GUARANTEE_AT_MOST_ONCE: 'at-most-once' } as const;
const STARTS = { START_POINT_EARLIEST: 'earliest', START_POINT_LATEST: 'latest' } as const;

/**
 * The fields a join or an alter sets: the wire's zero values (0, empty, UNSPECIFIED) mean "keep"
 * (the group's value, or the default for a new group), so they are left out. Values are not checked
 * here: the domain validates a configuration as a whole (queues/), the same for every caller.
 */
export function queueConfigFromProto(config: QueueGroupConfig__Output | null | undefined): Partial<QueueGroupConfig> {
  if (!config) return {};
  const out: Partial<QueueGroupConfig> = {};
  if (config.lockDurationMs !== 0) out.lockDurationMs = config.lockDurationMs;
  if (config.maxDeliveryAttempts !== 0) out.maxDeliveryAttempts = config.maxDeliveryAttempts;
  if (config.backoffBaseMs !== 0) out.backoffBaseMs = config.backoffBaseMs;
  if (config.backoffFactor !== 0) out.backoffFactor = config.backoffFactor;
  if (config.backoffMaxMs !== 0) out.backoffMaxMs = config.backoffMaxMs;
  if (config.backoffJitter !== 0) out.backoffJitter = config.backoffJitter;
  if (config.ordering in ORDERINGS) out.ordering = ORDERINGS[config.ordering as keyof typeof ORDERINGS];
  if (config.delivery in DELIVERIES) out.delivery = DELIVERIES[config.delivery as keyof typeof DELIVERIES];
  if (config.deadLetterTopicSuffix !== '') out.deadLetterTopicSuffix = config.deadLetterTopicSuffix;
  if (config.start in STARTS) out.start = STARTS[config.start as keyof typeof STARTS];
  return out;
}

/** A configuration in force, every field set. */
export function queueConfigToProto(config: QueueGroupConfig): QueueGroupConfigProto {
  return {
    lockDurationMs: config.lockDurationMs,
    maxDeliveryAttempts: config.maxDeliveryAttempts,
    backoffBaseMs: config.backoffBaseMs,
    backoffFactor: config.backoffFactor,
    backoffMaxMs: config.backoffMaxMs,
    backoffJitter: config.backoffJitter,
    ordering: config.ordering === 'key' ? 'QUEUE_ORDERING_KEY' : 'QUEUE_ORDERING_NONE',
    delivery: config.delivery === 'at-most-once' ? 'QUEUE_DELIVERY_GUARANTEE_AT_MOST_ONCE' : 'QUEUE_DELIVERY_GUARANTEE_AT_LEAST_ONCE',
    deadLetterTopicSuffix: config.deadLetterTopicSuffix,
    start: config.start === 'latest' ? 'START_POINT_LATEST' : 'START_POINT_EARLIEST',
  };
}

/** proto QueueDepth (the domain's `skipped` has no field on the wire yet). */
export function queueDepthToProto(depth: QueueDepth): QueueDepthProto {
  return {
    depth: depth.depth,
    inFlight: depth.inFlight,
    waitingForRetry: depth.waitingForRetry,
    oldestUnacknowledgedAgeMs: depth.oldestUnacknowledgedAgeMs,
    deadLetterDepth: depth.deadLetterDepth,
    deadLettered: depth.deadLettered,
    redeliveries: depth.redeliveries,
  };
}

export function queuePartitionToProto(partition: QueuePartitionDescription): QueuePartitionDescriptionProto {
  return {
    topic: partition.topic,
    partition: partition.partition,
    startOffset: partition.startOffset,
    highWatermark: partition.highWatermark,
    depth: queueDepthToProto(partition.depth),
    deadLetterTopic: partition.deadLetterTopic,
  };
}

export function queueGroupToProto(description: QueueGroupDescription): DescribeQueueGroupResponse {
  return {
    groupId: description.groupId,
    config: queueConfigToProto(description.config),
    members: description.members.map((m) => ({ memberId: m.memberId, clientId: m.clientId, topics: m.topics, inFlight: m.inFlight, inFlightLimit: m.inFlightLimit })),
    partitions: description.partitions.map(queuePartitionToProto),
    total: queueDepthToProto(description.total),
  };
}

/** ResetQueueGroup's `to`: an offset, a timestamp or a point; a request without one is refused. */
export function queueResetTargetFromProto(to: StartPosition__Output | null | undefined): QueueResetTarget {
  switch (to?.position) {
    case 'offset':
      return { offset: offsetFromProto(to.offset, 'to.offset') };
    case 'timestampMs':
      if (!Number.isSafeInteger(to.timestampMs)) throw new InvalidArgumentError('to.timestamp_ms must be an integer');
      return { timestampMs: to.timestampMs! };
    case 'point':
      if (to.point === 'START_POINT_EARLIEST') return { point: 'earliest' };
      if (to.point === 'START_POINT_LATEST') return { point: 'latest' };
      throw new InvalidArgumentError('to.point must be START_POINT_EARLIEST or START_POINT_LATEST');
    default:
      throw new InvalidArgumentError('to is required: an offset, a timestamp_ms or a point (earliest, latest)');
  }
}

const ANSWER_TYPES = { QUEUE_ANSWER_TYPE_ACK: 'ack', QUEUE_ANSWER_TYPE_RELEASE: 'release', QUEUE_ANSWER_TYPE_REJECT: 'reject' } as const;

/** A record reference as sent; an offset no log can have is INVALID_ARGUMENT. */
export function refFromProto(record: QueueRecordRef__Output): QueueRecordRef {
  return { topic: record.topic, partition: record.partition, offset: offsetFromProto(record.offset, 'offset') };
}

/** An answer as sent; an unknown type is INVALID_ARGUMENT. */
export function answerFromProto(answer: QueueAnswer__Output): QueueAnswer {
  const type = ANSWER_TYPES[answer.type as keyof typeof ANSWER_TYPES];
  if (type === undefined) throw new InvalidArgumentError(`answer type must be ACK, RELEASE or REJECT, got ${String(answer.type)}`);
  return { ...refFromProto(answer), type, ...(answer.delayMs !== 0 ? { delayMs: answer.delayMs } : {}), ...(answer.reason !== '' ? { reason: answer.reason } : {}) };
}
