import { InvalidArgumentError, OffsetOutOfRangeError, PartitionNotFoundError, TopicNotFoundError } from '../core/errors.js';
import { isInternalTopic } from '../core/internal-topics.js';
import { MAX_GROUP_ID_LENGTH, MAX_QUEUE_IN_FLIGHT_PER_MEMBER, MAX_SUBSCRIBED_TOPICS_PER_MEMBER, MAX_TOPIC_NAME_LENGTH } from '../core/limits.js';
import { validateTopicName } from '../storage/topic-name.js';
import type { QueueJoinRequest, QueuePartitionView, QueueResetTarget, QueueTopicsView } from './queue-coordinator-api.js';
import type { QueueGroupConfig } from './queue-group-config.js';

/** A client id is a label for operators; this bounds what a member keeps of it. */
export const MAX_QUEUE_CLIENT_ID_LENGTH = 255;
const GROUP_ID_PATTERN = /^[a-zA-Z0-9._-]+$/;

/** Kafka's rule for group ids, as consumer groups have it: [a-zA-Z0-9._-]{1,249}. */
export function validateQueueGroupId(groupId: unknown): asserts groupId is string {
  if (typeof groupId !== 'string' || groupId.length === 0 || groupId.length > MAX_GROUP_ID_LENGTH || !GROUP_ID_PATTERN.test(groupId)) {
    throw new InvalidArgumentError(`queue group id must match [a-zA-Z0-9._-]{1,${MAX_GROUP_ID_LENGTH}}, got ${JSON.stringify(groupId)}`);
  }
}

/** Everything of a join but its config (checked against the group's): InvalidArgumentError, InvalidTopicNameError or TopicNotFoundError. */
export function checkJoinRequest(request: QueueJoinRequest, topics: QueueTopicsView): void {
  validateQueueGroupId(request.groupId);
  if (!Array.isArray(request.topics) || request.topics.length === 0) throw new InvalidArgumentError('a queue join names at least one topic');
  if (request.topics.length > MAX_SUBSCRIBED_TOPICS_PER_MEMBER) {
    throw new InvalidArgumentError(`a queue join names ${request.topics.length} topics; at most ${MAX_SUBSCRIBED_TOPICS_PER_MEMBER} are allowed`);
  }
  const seen = new Set<string>();
  for (const topic of request.topics) {
    validateTopicName(topic);
    if (isInternalTopic(topic)) throw new InvalidArgumentError(`'${topic}' is an internal topic: queue groups read client topics only`);
    if (seen.has(topic)) throw new InvalidArgumentError(`topic '${topic}' is named twice in a queue join`);
    seen.add(topic);
    if (topics.partitionCount(topic) === undefined) throw new TopicNotFoundError(topic);
  }
  const limit = request.inFlightLimit;
  if (!Number.isInteger(limit) || limit < 0 || limit > MAX_QUEUE_IN_FLIGHT_PER_MEMBER) {
    throw new InvalidArgumentError(`inFlightLimit must be an integer in [1, ${MAX_QUEUE_IN_FLIGHT_PER_MEMBER}] (0: the default), got ${String(limit)}`);
  }
  if (typeof request.clientId !== 'string' || request.clientId.length > MAX_QUEUE_CLIENT_ID_LENGTH) {
    throw new InvalidArgumentError(`clientId must be a string of at most ${MAX_QUEUE_CLIENT_ID_LENGTH} characters`);
  }
  if (typeof request.deliver !== 'function') throw new InvalidArgumentError('a queue join needs a deliver callback');
}

/** Each topic's dead-letter topic name must be a valid topic name (the suffix's alphabet is checked with the config). */
export function checkDeadLetterTopics(topics: readonly string[], config: QueueGroupConfig): void {
  for (const topic of topics) {
    const deadLetterTopic = topic + config.deadLetterTopicSuffix;
    if (deadLetterTopic.length > MAX_TOPIC_NAME_LENGTH) {
      throw new InvalidArgumentError(`the dead-letter topic of '${topic}' would be '${deadLetterTopic}', longer than ${MAX_TOPIC_NAME_LENGTH} characters: choose a shorter deadLetterTopicSuffix`);
    }
  }
}

/** The partitions a reset names (all when none), checked against the topic. */
export function checkResetPartitions(topic: string, partitions: readonly number[] | undefined, topics: QueueTopicsView): number[] {
  validateTopicName(topic);
  const count = topics.partitionCount(topic);
  if (count === undefined) throw new TopicNotFoundError(topic);
  if (partitions === undefined || partitions.length === 0) return Array.from({ length: count }, (_, i) => i);
  const chosen = new Set<number>();
  for (const partition of partitions) {
    if (!Number.isInteger(partition) || partition < 0) throw new InvalidArgumentError(`a partition must be an integer >= 0, got ${String(partition)}`);
    if (partition >= count) throw new PartitionNotFoundError(topic, partition, count);
    chosen.add(partition);
  }
  return [...chosen].sort((a, b) => a - b);
}

/** Where a reset puts a partition's start: within [logStartOffset, highWatermark]. */
export async function resetOffsetOf(to: QueueResetTarget, view: QueuePartitionView): Promise<number> {
  if (typeof to !== 'object' || to === null) throw new InvalidArgumentError('a reset needs a target: earliest, latest, an offset or a timestamp');
  if ('point' in to) {
    if (to.point === 'earliest') return view.logStartOffset;
    if (to.point === 'latest') return view.highWatermark;
    throw new InvalidArgumentError(`a reset point is 'earliest' or 'latest', got ${JSON.stringify(to.point)}`);
  }
  if ('offset' in to) {
    if (!Number.isSafeInteger(to.offset) || to.offset < 0) throw new InvalidArgumentError(`a reset offset must be an integer >= 0, got ${String(to.offset)}`);
    if (to.offset < view.logStartOffset || to.offset > view.highWatermark) throw new OffsetOutOfRangeError(to.offset, view.logStartOffset, view.highWatermark);
    return to.offset;
  }
  if ('timestampMs' in to) {
    if (!Number.isSafeInteger(to.timestampMs) || to.timestampMs < 0) throw new InvalidArgumentError(`a reset timestamp must be an integer >= 0 (ms), got ${String(to.timestampMs)}`);
    return (await view.startForTimestamp(to.timestampMs)).offset;
  }
  throw new InvalidArgumentError('a reset needs a target: earliest, latest, an offset or a timestamp');
}
