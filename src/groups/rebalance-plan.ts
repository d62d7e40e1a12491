import type { AssignorMember, GroupAssignment } from './assignors/partition-assignor.js';
import type { ConsumerGroup, GroupMember } from './consumer-group.js';
import type { GroupConfig } from './group-config.js';
import type { TopicsView } from './topics-view.js';
import { partitionKey, toSortedMap, type PartitionSet } from './topic-partitions.js';

/**
 * Two rules the coordinator applies to an assignment the (pure) assignor computed, both functions of
 * the group's state and `nowMs` only, so a simulation replays them exactly.
 *
 * Hold: a member that is dying (its stream broke, or it has been silent for two heartbeat intervals
 * and its session ends soon) still holds partitions that will be free in a moment. A recomputation
 * that would take partitions from a healthy member now (to make room for a joiner, typically) waits
 * until the dying member's removal, at most max(streamLostGraceMs, heartbeatIntervalMs) after it was
 * first due: then the joiner takes the freed partitions and nobody else moves (the minimum).
 *
 * Protection: while the group churns (PROTECTION_MIN_CHURN joins that did not stay), a member that joined within the last session timeout is not
 * given partitions that members that joined before it hold; it gets what is free. A crash-looping member
 * then never takes work from stable ones (and never drags it into its restarts). It is balanced once
 * it has stayed a session timeout: the recheck the caller schedules.
 */

/**
 * What the assignor is given: every member with its subscription and what it had (its target, else
 * what it owns), and the partition count of every subscribed topic that exists.
 */
export function assignorInput(group: ConsumerGroup, topics: TopicsView): { members: AssignorMember[]; partitionCounts: Map<string, number> } {
  const partitionCounts = new Map<string, number>();
  const members: AssignorMember[] = [];
  for (const member of group.members.values()) {
    for (const topic of member.topics) {
      const count = topics.partitionCount(topic);
      if (count !== undefined) partitionCounts.set(topic, count);
    }
    const previous = group.target.get(member.memberId) ?? member.assigned;
    members.push({ memberId: member.memberId, ...(member.instanceId !== undefined ? { instanceId: member.instanceId } : {}), topics: member.topics, previous: toSortedMap(previous) });
  }
  return { members, partitionCounts };
}

/** When `member` is removed unless it heartbeats: its session end, or its stream's grace end (dynamic). */
export function removalDeadlineMs(member: GroupMember, config: GroupConfig, streamLostGraceMs: number): number {
  const sessionEndMs = member.lastHeartbeatMs + config.sessionTimeoutMs;
  if (member.instanceId === undefined && member.streamLostAtMs !== undefined) return Math.min(sessionEndMs, member.streamLostAtMs + streamLostGraceMs);
  return sessionEndMs;
}

/** The removal deadline of a member that looks dead, or undefined for a healthy one. */
function dyingDeadlineMs(member: GroupMember, nowMs: number, config: GroupConfig, streamLostGraceMs: number): number | undefined {
  const isStreamLost = member.instanceId === undefined && member.streamLostAtMs !== undefined;
  const isSilent = nowMs - member.lastHeartbeatMs >= 2 * config.heartbeatIntervalMs;
  return isStreamLost || isSilent ? removalDeadlineMs(member, config, streamLostGraceMs) : undefined;
}

/** Until when to hold the recomputation back, or undefined to apply it now. */
export function holdDeadlineMs(group: ConsumerGroup, assignment: GroupAssignment, nowMs: number, config: GroupConfig, streamLostGraceMs: number): number | undefined {
  const holdBoundMs = Math.max(streamLostGraceMs, config.heartbeatIntervalMs);
  const limitMs = (group.firstDueMs ?? nowMs) + holdBoundMs;
  const dying = new Set<string>();
  let earliestMs = Number.POSITIVE_INFINITY;
  for (const member of group.members.values()) {
    const deadlineMs = dyingDeadlineMs(member, nowMs, config, streamLostGraceMs);
    if (deadlineMs === undefined || deadlineMs <= nowMs || deadlineMs > limitMs) continue;
    dying.add(member.memberId);
    earliestMs = Math.min(earliestMs, deadlineMs);
  }
  if (dying.size === 0) return undefined;
  for (const member of group.members.values()) {
    if (dying.has(member.memberId)) continue;
    const after = assignment.get(member.memberId);
    for (const [topic, partitions] of group.target.get(member.memberId) ?? member.assigned) {
      const kept = after?.get(topic);
      for (const p of partitions) if (!kept?.includes(p)) return earliestMs;
    }
  }
  return undefined;
}

/**
 * The assignment with partitions that would move to a young member from one that joined before it
 * left where they were; and when the earliest young member that was refused something will be settled.
 */
export function protectStableMembers(group: ConsumerGroup, assignment: GroupAssignment, nowMs: number, stableAfterMs: number): { assignment: GroupAssignment; recheckAtMs: number | undefined } {
  const isYoung = (member: GroupMember) => nowMs - member.joinedAtMs < stableAfterMs;
  const previousOwner = new Map<string, GroupMember>();
  for (const member of group.members.values()) {
    for (const [topic, partitions] of group.target.get(member.memberId) ?? member.assigned) for (const p of partitions) previousOwner.set(partitionKey(topic, p), member);
  }
  const result: GroupAssignment = new Map([...assignment].map(([memberId, topics]) => [memberId, new Map([...topics].map(([t, ps]) => [t, [...ps]]))]));
  let recheckAtMs: number | undefined;
  for (const [memberId, topics] of assignment) {
    const member = group.members.get(memberId);
    if (!member || !isYoung(member)) continue;
    const before: PartitionSet = group.target.get(memberId) ?? member.assigned;
    for (const [topic, partitions] of topics) {
      for (const p of partitions) {
        if (before.get(topic)?.has(p)) continue;
        const owner = previousOwner.get(partitionKey(topic, p));
        if (!owner || owner.joinedAtMs >= member.joinedAtMs || !owner.topics.includes(topic)) continue;
        const mine = result.get(memberId)!.get(topic)!;
        mine.splice(mine.indexOf(p), 1);
        const theirs = result.get(owner.memberId)!;
        theirs.set(topic, [...(theirs.get(topic) ?? []), p].sort((a, b) => a - b));
        recheckAtMs = Math.min(recheckAtMs ?? Number.POSITIVE_INFINITY, member.joinedAtMs + stableAfterMs);
      }
      if (result.get(memberId)!.get(topic)!.length === 0) result.get(memberId)!.delete(topic);
    }
  }
  return { assignment: result, recheckAtMs };
}
