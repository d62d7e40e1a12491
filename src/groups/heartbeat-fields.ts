import { InvalidArgumentError } from '../core/errors.js';
import { MAX_GROUP_ID_LENGTH, MAX_INSTANCE_ID_LENGTH, MAX_MEMBER_ID_LENGTH, MAX_PARTITIONS, MAX_SUBSCRIBED_TOPICS_PER_MEMBER, QUOTED_CHARACTERS } from '../core/limits.js';
import { validateTopicName } from '../storage/topic-name.js';

/**
 * Checks of what a client sends about group membership. They run before the coordinator changes
 * anything: a member (with its subscription and instance id) is kept until it leaves, so an unbounded
 * field would let one client grow the server's memory for good.
 */

const ID_PATTERN = /^[a-zA-Z0-9._-]+$/;

export function validateGroupId(groupId: string): void {
  if (typeof groupId !== 'string' || groupId.length === 0 || groupId.length > MAX_GROUP_ID_LENGTH || !ID_PATTERN.test(groupId)) {
    throw new InvalidArgumentError(`group id must match [a-zA-Z0-9._-]{1,${MAX_GROUP_ID_LENGTH}}, got ${quoted(groupId)}`);
  }
}

/** A member id as a client sends it back; empty when it joins. */
export function validateMemberId(memberId: string): void {
  if (typeof memberId !== 'string' || memberId.length > MAX_MEMBER_ID_LENGTH) {
    throw new InvalidArgumentError(`member id must be at most ${MAX_MEMBER_ID_LENGTH} characters, got ${quoted(memberId)}`);
  }
}

/** An instance id, when the member is static (Kafka's rule for group.instance.id). */
export function validateInstanceId(instanceId: string | undefined): void {
  if (instanceId === undefined) return;
  if (typeof instanceId !== 'string' || instanceId.length > MAX_INSTANCE_ID_LENGTH || !ID_PATTERN.test(instanceId)) {
    throw new InvalidArgumentError(`instance id must match [a-zA-Z0-9._-]{1,${MAX_INSTANCE_ID_LENGTH}}, got ${quoted(instanceId)}`);
  }
}

/** A subscription, and what the member reports owning: names a topic could have, in bounded numbers. */
export function validateMemberTopics(topics: readonly string[], owned: ReadonlyArray<{ topic: string; partitions: readonly number[] }>): void {
  if (topics.length > MAX_SUBSCRIBED_TOPICS_PER_MEMBER) {
    throw new InvalidArgumentError(`a member may subscribe to at most ${MAX_SUBSCRIBED_TOPICS_PER_MEMBER} topics, got ${topics.length}`);
  }
  for (const topic of topics) validateTopicName(topic);
  // A member owns only partitions of topics it was given, so never more topics than it may subscribe to.
  if (owned.length > MAX_SUBSCRIBED_TOPICS_PER_MEMBER) {
    throw new InvalidArgumentError(`a member may report at most ${MAX_SUBSCRIBED_TOPICS_PER_MEMBER} owned topics, got ${owned.length}`);
  }
  for (const { topic, partitions } of owned) {
    validateTopicName(topic);
    if (partitions.length > MAX_PARTITIONS) throw new InvalidArgumentError(`a topic has at most ${MAX_PARTITIONS} partitions; the member reports owning ${partitions.length} of '${topic}'`);
  }
}

function quoted(value: unknown): string {
  const text = String(value);
  return text.length <= QUOTED_CHARACTERS ? `'${text}'` : `'${text.slice(0, QUOTED_CHARACTERS)}…' (${text.length} characters)`;
}
