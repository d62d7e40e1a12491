import type { ConsumerGroup } from './consumer-group.js';
import type { GroupConfig } from './group-config.js';
import { toSortedList } from './topic-partitions.js';

export interface MemberDescription {
  memberId: string;
  instanceId: string;
  memberEpoch: number;
  topics: string[];
  assignment: Array<{ topic: string; partitions: number[] }>;
  lastHeartbeatAgeMs: number;
  /** Earlier joins of its static instance id in the last 5 minutes (restarts); 0 for a dynamic member. */
  recentRejoins: number;
  /** Its heartbeat stream broke and no other carries its heartbeats yet. */
  isStreamLost: boolean;
}

export interface FencedMemberDescription {
  memberId: string;
  instanceId: string;
  byMemberId: string;
  fencedAgeMs: number;
  /** Heartbeats and commits refused since: above 0, two processes share the instance id. */
  refusedCount: number;
}

export interface GroupDescription {
  groupId: string;
  groupEpoch: number;
  members: MemberDescription[];
  /** Members fenced in the last 5 minutes by a newer holder of their instance id, newest first. */
  fencedMembers: FencedMemberDescription[];
  /** The coalescing window a join waits now (stretched while the group churns). */
  rebalanceWindowMs: number;
  /** Joins of the last 5 minutes whose member is gone again (see GroupChurn). */
  recentChurn: number;
}

/** What an operator sees of a live group (`groups describe`): membership, health and churn. */
export function describeConsumerGroup(group: ConsumerGroup, nowMs: number, config: GroupConfig): GroupDescription {
  const isPresent = (id: string) => group.members.has(id);
  return {
    groupId: group.groupId,
    groupEpoch: group.groupEpoch,
    members: [...group.members.values()]
      .sort((a, b) => (a.memberId < b.memberId ? -1 : 1))
      .map((m) => ({
        memberId: m.memberId,
        instanceId: m.instanceId ?? '',
        memberEpoch: m.memberEpoch,
        topics: [...m.topics],
        assignment: toSortedList(m.assigned),
        lastHeartbeatAgeMs: Math.max(0, nowMs - m.lastHeartbeatMs),
        recentRejoins: group.churn.rejoinsOf(nowMs, m.instanceId, m.memberId),
        isStreamLost: m.streamLostAtMs !== undefined,
      })),
    fencedMembers: group.churn.recentFences(nowMs).map((f) => ({ memberId: f.memberId, instanceId: f.instanceId, byMemberId: f.byMemberId, fencedAgeMs: Math.max(0, nowMs - f.fencedAtMs), refusedCount: f.refusedCount })),
    rebalanceWindowMs: group.churn.windowMs(nowMs, isPresent, config.rebalanceDelayMs, Math.max(config.maxRebalanceDelayMs, config.rebalanceDelayMs)),
    recentChurn: group.churn.churn(nowMs, isPresent),
  };
}
