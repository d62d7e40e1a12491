import { randomUUID } from 'node:crypto';
import type { Clock, TimerHandle } from '../core/clock.js';
import {
  FencedMemberEpochError,
  GroupMaxSizeReachedError,
  GroupNotEmptyError,
  InvalidArgumentError,
  UnknownMemberIdError,
} from '../core/errors.js';
import { MAX_GROUPS, MAX_MEMBERS_PER_GROUP } from '../core/limits.js';
import type { Logger } from '../core/logger.js';
import type { AssignorMember, PartitionAssignor } from './assignors/partition-assignor.js';
import { ConsumerGroup, type GroupMember } from './consumer-group.js';
import type { GroupConfig } from './group-config.js';
import { validateGroupId, validateInstanceId, validateMemberId, validateMemberTopics } from './heartbeat-fields.js';
import { countMoved, intersectWith, toPartitionSet, toSortedList, toSortedMap, type PartitionSet } from './topic-partitions.js';

/** What the coordinator needs to know of topics: it never imports the broker. */
export interface TopicsView {
  /** Partition count of a topic, or undefined if it does not exist. */
  partitionCount(topic: string): number | undefined;
}

export { validateGroupId } from './heartbeat-fields.js';

export const JOIN_EPOCH = 0;
export const LEAVE_EPOCH = -1;
export const STATIC_LEAVE_EPOCH = -2;

export interface HeartbeatRequest {
  groupId: string;
  memberId: string;
  instanceId?: string | undefined;
  memberEpoch: number;
  topics: readonly string[];
  owned: ReadonlyArray<{ topic: string; partitions: readonly number[] }>;
  idleMs: number;
}

export interface HeartbeatResponse {
  memberId: string;
  memberEpoch: number;
  heartbeatIntervalMs: number;
  assignment: Array<{ topic: string; partitions: number[] }>;
  offsetsEpoch: number;
}

/** Why a member left the group, for logs and tests. */
export type RemovalReason = 'left' | 'session-timeout' | 'processing-timeout' | 'revocation-timeout' | 'replaced';

export interface CoordinatorEvents {
  /** A member's assignment changed outside its own heartbeat: push it the new response. */
  onAssignmentChanged?(groupId: string, response: HeartbeatResponse): void;
  onMemberRemoved?(groupId: string, memberId: string, reason: RemovalReason): void;
  /** A new target assignment was computed. */
  onRebalance?(groupId: string, targetEpoch: number, moved: number): void;
}

/**
 * The group coordinator: every group's membership, target assignment and reconciliation, driven by
 * heartbeats and by its own timers (session, processing and revocation timeouts; the coalescing
 * window of rebalances). Deterministic: time comes from the injected clock, member ids from the
 * injected generator, and the assignor is pure, so a simulation replays exactly from a seed.
 *
 * Storm protection: membership changes only bump the group epoch and schedule one recomputation
 * after a window (initialRebalanceDelayMs for a new group, rebalanceDelayMs after), never sooner
 * than rebalanceDelayMs after the previous one; the sticky assignor moves only what balance needs;
 * a static member that comes back within the session timeout takes its partitions back without any
 * recomputation; and a slow revocation holds back only the partitions being revoked.
 */
export class GroupCoordinator {
  /**
   * Only groups with members: join adds a group with its first member, removeMember forgets one that
   * empties. Committed offsets are the offset store's, so a group with offsets and no members is
   * still listed and described from there (as Kafka lists an "Empty" group).
   */
  private readonly groups = new Map<string, ConsumerGroup>();
  private timer: TimerHandle | undefined;
  private timerDueMs = Number.POSITIVE_INFINITY;

  constructor(
    private readonly options: {
      clock: Clock;
      assignor: PartitionAssignor;
      topics: TopicsView;
      config: GroupConfig;
      logger: Logger;
      events?: CoordinatorEvents;
      newMemberId?: () => string;
    },
  ) {}

  get config(): GroupConfig {
    return this.options.config;
  }

  heartbeat(request: HeartbeatRequest): HeartbeatResponse {
    const nowMs = this.options.clock.nowMs();
    // Every field first: a refused heartbeat changes nothing.
    validateGroupId(request.groupId);
    validateMemberId(request.memberId);
    validateInstanceId(request.instanceId || undefined);
    validateMemberTopics(request.topics, request.owned);
    if (request.memberEpoch === JOIN_EPOCH) return this.join(request, nowMs);
    const group = this.groups.get(request.groupId);
    const member = group?.members.get(request.memberId);
    if (!group || !member) throw new UnknownMemberIdError(`group '${request.groupId}' has no member '${request.memberId}': rejoin with epoch 0`);
    if (request.memberEpoch === LEAVE_EPOCH) {
      this.removeMember(group, member.memberId, 'left', nowMs);
      return { memberId: member.memberId, memberEpoch: LEAVE_EPOCH, heartbeatIntervalMs: this.config.heartbeatIntervalMs, assignment: [], offsetsEpoch: group.offsetsEpoch };
    }
    member.lastHeartbeatMs = nowMs;
    if (request.memberEpoch === STATIC_LEAVE_EPOCH) {
      if (member.instanceId === undefined) throw new InvalidArgumentError('epoch -2 is for static members (with an instance id)');
      member.isAway = true;
      return { memberId: member.memberId, memberEpoch: STATIC_LEAVE_EPOCH, heartbeatIntervalMs: this.config.heartbeatIntervalMs, assignment: toSortedList(member.assigned), offsetsEpoch: group.offsetsEpoch };
    }
    if (request.memberEpoch > member.memberEpoch || request.memberEpoch < 0) {
      throw new FencedMemberEpochError(`member '${member.memberId}' sent epoch ${request.memberEpoch}; its epoch is ${member.memberEpoch}`);
    }
    if (request.idleMs > this.config.processingTimeoutMs) {
      this.removeMember(group, member.memberId, 'processing-timeout', nowMs);
      throw new UnknownMemberIdError(`member '${member.memberId}' did not ask for records for ${request.idleMs} ms: removed, rejoin with epoch 0`);
    }
    member.isAway = false;
    const isNewSubscription = !sameTopics(member.topics, request.topics);
    if (isNewSubscription) member.topics = normalizeTopics(request.topics);
    // So is a subscribed topic created, deleted or grown since the target was computed (as KIP-848).
    const isStale = isNewSubscription || (group.rebalanceDueMs === undefined && group.hasTopicsChanged(member.topics, this.options.topics.partitionCount));
    if (isStale) this.membershipChanged(group, nowMs);
    const { hasReleased } = group.reconcile(member.memberId, toPartitionSet(request.owned), nowMs);
    // Partitions this member just released may complete others' assignments.
    if (hasReleased) this.pushChangesToOthers(group, member.memberId, nowMs);
    if (member.revocationStartedMs !== undefined) this.scheduleTimerBy(member.revocationStartedMs + this.config.revocationTimeoutMs);
    return this.responseFor(group, member);
  }

  /**
   * Throws unless `memberId` is a live member of the group at an epoch it has reached, and has seen
   * the group's latest offset reset (fencing: a zombie, or a commit made before a reset, is refused).
   */
  validateMember(groupId: string, memberId: string, memberEpoch: number, offsetsEpoch: number): void {
    validateMemberId(memberId);
    const group = this.groups.get(groupId);
    const member = group?.members.get(memberId);
    if (!group || !member) throw new UnknownMemberIdError(`group '${groupId}' has no member '${memberId}'`);
    if (memberEpoch > member.memberEpoch || memberEpoch < 0) {
      throw new FencedMemberEpochError(`member '${memberId}' used epoch ${memberEpoch}; its epoch is ${member.memberEpoch}`);
    }
    if (offsetsEpoch !== group.offsetsEpoch) {
      throw new FencedMemberEpochError(`member '${memberId}' committed at offsets epoch ${offsetsEpoch}, before the group's offsets were reset (epoch ${group.offsetsEpoch})`);
    }
  }

  /** Throws unless every partition is held by `memberId`: nobody commits for a partition it lost. */
  validateOwnership(groupId: string, memberId: string, partitions: ReadonlyArray<{ topic: string; partition: number }>): void {
    const group = this.groups.get(groupId);
    for (const { topic, partition } of partitions) {
      const owner = group?.ownerOf(topic, partition);
      if (owner !== memberId) {
        throw new FencedMemberEpochError(`member '${memberId}' does not hold ${topic}/${partition}${owner ? ' (another member does)' : ''}: its commit is refused`);
      }
    }
  }

  /** Before an offset reset is written: commits of the group's live members made before it are refused. */
  fenceOffsets(groupId: string): void {
    const group = this.groups.get(groupId);
    if (group) group.offsetsEpoch++;
  }

  /** After the reset is written: every live member is told to reload its offsets (the new epoch). */
  notifyOffsetsReset(groupId: string): void {
    const group = this.groups.get(groupId);
    if (!group) return;
    for (const member of group.members.values()) this.options.events?.onAssignmentChanged?.(groupId, this.responseFor(group, member));
  }

  listGroups(): Array<{ groupId: string; memberCount: number; groupEpoch: number }> {
    return [...this.groups.values()]
      .map((g) => ({ groupId: g.groupId, memberCount: g.members.size, groupEpoch: g.groupEpoch }))
      .sort((a, b) => (a.groupId < b.groupId ? -1 : 1));
  }

  describeGroup(groupId: string): { groupId: string; groupEpoch: number; members: Array<{ memberId: string; instanceId: string; memberEpoch: number; topics: string[]; assignment: Array<{ topic: string; partitions: number[] }> }> } | undefined {
    const group = this.groups.get(groupId);
    if (!group) return undefined;
    return {
      groupId,
      groupEpoch: group.groupEpoch,
      members: [...group.members.values()]
        .sort((a, b) => (a.memberId < b.memberId ? -1 : 1))
        .map((m) => ({ memberId: m.memberId, instanceId: m.instanceId ?? '', memberEpoch: m.memberEpoch, topics: [...m.topics], assignment: toSortedList(m.assigned) })),
    };
  }

  /** Owner of a partition in a group, if any. */
  ownerOf(groupId: string, topic: string, partition: number): string | undefined {
    return this.groups.get(groupId)?.ownerOf(topic, partition);
  }

  /** Removes an empty group's membership state; offsets are the caller's. */
  deleteGroup(groupId: string): void {
    const group = this.groups.get(groupId);
    if (group && !group.isEmpty) throw new GroupNotEmptyError(`group '${groupId}' has ${group.members.size} members`);
    this.groups.delete(groupId);
  }

  hasGroup(groupId: string): boolean {
    return this.groups.has(groupId);
  }

  /** Applies every deadline that has passed: timeouts first, then due recomputations. */
  tick(): void {
    const nowMs = this.options.clock.nowMs();
    const config = this.config;
    for (const group of [...this.groups.values()]) {
      for (const member of [...group.members.values()]) {
        if (nowMs - member.lastHeartbeatMs >= config.sessionTimeoutMs) this.removeMember(group, member.memberId, 'session-timeout', nowMs);
        else if (member.revocationStartedMs !== undefined && nowMs - member.revocationStartedMs >= config.revocationTimeoutMs) {
          this.removeMember(group, member.memberId, 'revocation-timeout', nowMs);
        }
      }
      if (group.rebalanceDueMs !== undefined && nowMs >= group.rebalanceDueMs) this.rebalance(group, nowMs);
    }
    this.scheduleTimer();
  }

  close(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  private join(request: HeartbeatRequest, nowMs: number): HeartbeatResponse {
    // Everything that can refuse the join comes before the group exists: a refused join must leave
    // nothing behind, or refused joins of made-up groups would fill MAX_GROUPS for good.
    const topics = normalizeTopics(request.topics);
    if (topics.length === 0) throw new InvalidArgumentError('a member must subscribe to at least one topic');
    let group = this.groups.get(request.groupId);
    if (!group) {
      if (this.groups.size >= MAX_GROUPS) throw new GroupMaxSizeReachedError(`the server has ${MAX_GROUPS} groups`);
      group = new ConsumerGroup(request.groupId);
    }
    const instanceId = request.instanceId ? request.instanceId : undefined;
    const memberId = (this.options.newMemberId ?? randomUUID)();
    const fields = { memberId, instanceId, topics, lastHeartbeatMs: nowMs, revocationStartedMs: undefined, isAway: false };
    const previousId = instanceId !== undefined ? group.staticMembers.get(instanceId) : undefined;
    let member: GroupMember;
    if (previousId !== undefined) {
      // Static membership: the same instance is back (after a restart or a -2 leave). It takes
      // over its predecessor's partitions; the predecessor, if still alive, is fenced.
      const previousTopics = group.members.get(previousId)!.topics;
      member = group.replaceStaticMember(previousId, fields);
      this.options.events?.onMemberRemoved?.(group.groupId, previousId, 'replaced');
      if (!sameTopics(topics, previousTopics)) this.membershipChanged(group, nowMs);
    } else {
      if (group.members.size >= MAX_MEMBERS_PER_GROUP) throw new GroupMaxSizeReachedError(`group '${group.groupId}' has ${MAX_MEMBERS_PER_GROUP} members`);
      member = { ...fields, memberEpoch: 0, assigned: this.freeClaims(group, topics, request.owned) };
      // Only now, with its first member, does a new group count against MAX_GROUPS.
      this.groups.set(group.groupId, group);
      group.addMember(member);
      this.membershipChanged(group, nowMs);
      member.memberEpoch = group.groupEpoch;
    }
    const { hasReleased } = group.reconcile(memberId, toPartitionSet(request.owned), nowMs);
    // A static member back after a restart owns nothing yet: what it was asking to revoke is free.
    if (hasReleased) this.pushChangesToOthers(group, memberId, nowMs);
    this.scheduleTimerBy(nowMs + this.config.sessionTimeoutMs);
    if (member.revocationStartedMs !== undefined) this.scheduleTimerBy(member.revocationStartedMs + this.config.revocationTimeoutMs);
    return this.responseFor(group, member);
  }

  /**
   * What a joining member already consumes and nobody else holds: it keeps those. After a restart of
   * the coordinator every member rejoins with what it owned, so the assignment carries over and the
   * sticky assignor starts from it; a member that was removed finds its partitions taken, and lets go.
   */
  private freeClaims(group: ConsumerGroup, topics: readonly string[], owned: HeartbeatRequest['owned']): PartitionSet {
    const claims: PartitionSet = new Map();
    for (const { topic, partitions } of owned) {
      const count = this.options.topics.partitionCount(topic);
      if (count === undefined || !topics.includes(topic)) continue;
      for (const p of partitions) {
        if (!Number.isInteger(p) || p < 0 || p >= count || group.ownerOf(topic, p) !== undefined) continue;
        let set = claims.get(topic);
        if (!set) claims.set(topic, (set = new Set()));
        set.add(p);
      }
    }
    return claims;
  }

  private removeMember(group: ConsumerGroup, memberId: string, reason: RemovalReason, nowMs: number): void {
    if (!group.removeMember(memberId)) return;
    this.options.logger.info({ groupId: group.groupId, memberId, reason }, 'member removed from group');
    this.options.events?.onMemberRemoved?.(group.groupId, memberId, reason);
    if (group.isEmpty) {
      // An empty group holds nothing but counts against MAX_GROUPS: forget it (its offsets stay in
      // the offset store; a member that joins later starts a new group state from them).
      this.groups.delete(group.groupId);
      return;
    }
    this.membershipChanged(group, nowMs);
    // Its partitions are free now: members whose target holds them can take them at once.
    this.pushChangesToOthers(group, undefined, nowMs);
  }

  /** Bumps the group epoch and schedules one coalesced recomputation (never sooner than the window). */
  private membershipChanged(group: ConsumerGroup, nowMs: number): void {
    group.groupEpoch++;
    if (group.rebalanceDueMs !== undefined) return;
    const delayMs = group.targetEpoch === 0 ? this.config.initialRebalanceDelayMs : this.config.rebalanceDelayMs;
    group.rebalanceDueMs = Math.max(nowMs + delayMs, group.lastRebalanceMs + this.config.rebalanceDelayMs);
    this.scheduleTimerBy(group.rebalanceDueMs);
  }

  private rebalance(group: ConsumerGroup, nowMs: number): void {
    group.rebalanceDueMs = undefined;
    group.lastRebalanceMs = nowMs;
    const partitionCounts = new Map<string, number>();
    const members: AssignorMember[] = [];
    for (const member of group.members.values()) {
      for (const topic of member.topics) {
        const count = this.options.topics.partitionCount(topic);
        if (count !== undefined) partitionCounts.set(topic, count);
      }
      const previous = group.target.get(member.memberId) ?? member.assigned;
      members.push({ memberId: member.memberId, ...(member.instanceId !== undefined ? { instanceId: member.instanceId } : {}), topics: member.topics, previous: toSortedMap(previous) });
    }
    const before = group.target;
    group.partitionCounts = partitionCounts;
    group.setTarget(this.options.assignor.assign({ members, partitionCounts }), group.groupEpoch);
    this.options.events?.onRebalance?.(group.groupId, group.targetEpoch, countMoved(before, group.target));
    this.pushChangesToOthers(group, undefined, nowMs);
  }

  /** Reconciles every member but `except` with what it last reported, and pushes changed assignments. */
  private pushChangesToOthers(group: ConsumerGroup, except: string | undefined, nowMs: number): void {
    for (const member of group.members.values()) {
      if (member.memberId === except) continue;
      // Without a fresh report, assume it owns what it was given: only additions can happen here.
      const { hasChanged } = group.reconcile(member.memberId, undefined, nowMs);
      if (member.revocationStartedMs !== undefined) this.scheduleTimerBy(member.revocationStartedMs + this.config.revocationTimeoutMs);
      if (hasChanged || member.revocationStartedMs !== undefined) this.options.events?.onAssignmentChanged?.(group.groupId, this.responseFor(group, member));
    }
  }

  private responseFor(group: ConsumerGroup, member: GroupMember): HeartbeatResponse {
    const target = group.target.get(member.memberId);
    // During a revocation, the member is told its assignment without the partitions to let go.
    const assignment = target ? intersectWith(member.assigned, target) : member.assigned;
    return { memberId: member.memberId, memberEpoch: member.memberEpoch, heartbeatIntervalMs: this.config.heartbeatIntervalMs, assignment: toSortedList(assignment), offsetsEpoch: group.offsetsEpoch };
  }

  /**
   * Makes sure the timer fires no later than `dueMs`. A heartbeat only pushes its own deadlines later,
   * so it never needs the full scan below: a timer that fires early finds nothing due and re-arms.
   */
  private scheduleTimerBy(dueMs: number): void {
    if (dueMs >= this.timerDueMs && this.timer) return;
    this.timer?.cancel();
    this.timerDueMs = dueMs;
    this.timer = this.options.clock.setTimeout(() => {
      this.timer = undefined;
      this.timerDueMs = Number.POSITIVE_INFINITY;
      this.tick();
    }, Math.max(0, dueMs - this.options.clock.nowMs()));
  }

  /** Re-arms the timer for the earliest deadline of all groups (a full scan: after tick and changes). */
  private scheduleTimer(): void {
    let dueMs = Number.POSITIVE_INFINITY;
    const config = this.config;
    for (const group of this.groups.values()) {
      if (group.rebalanceDueMs !== undefined) dueMs = Math.min(dueMs, group.rebalanceDueMs);
      for (const member of group.members.values()) {
        dueMs = Math.min(dueMs, member.lastHeartbeatMs + config.sessionTimeoutMs);
        if (member.revocationStartedMs !== undefined) dueMs = Math.min(dueMs, member.revocationStartedMs + config.revocationTimeoutMs);
      }
    }
    if (dueMs === this.timerDueMs && this.timer) return;
    this.timer?.cancel();
    this.timer = undefined;
    this.timerDueMs = dueMs;
    if (dueMs === Number.POSITIVE_INFINITY) return;
    this.timer = this.options.clock.setTimeout(() => {
      this.timer = undefined;
      this.timerDueMs = Number.POSITIVE_INFINITY;
      this.tick();
    }, Math.max(0, dueMs - this.options.clock.nowMs()));
  }
}

function normalizeTopics(topics: readonly string[]): string[] {
  return [...new Set(topics)].sort();
}

function sameTopics(a: readonly string[], b: readonly string[]): boolean {
  const x = normalizeTopics(a);
  const y = normalizeTopics(b);
  return x.length === y.length && x.every((t, i) => t === y[i]);
}
