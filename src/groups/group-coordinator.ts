import { randomUUID } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import {
  FencedMemberEpochError,
  GroupMaxSizeReachedError,
  GroupNotEmptyError,
  InvalidArgumentError,
  UnknownMemberIdError,
} from '../core/errors.js';
import { MAX_GROUPS, MAX_MEMBERS_PER_GROUP } from '../core/limits.js';
import type { Logger } from '../core/logger.js';
import type { PartitionAssignor } from './assignors/partition-assignor.js';
import { ConsumerGroup, type GroupMember } from './consumer-group.js';
import type { GroupConfig } from './group-config.js';
import { DeadlineTimer } from '../core/deadline-timer.js';
import { GroupHolders, type GroupQuotaPort } from '../core/group-holders.js';
import { describeConsumerGroup, type GroupDescription } from './group-description.js';
import { fenceReplacedMember, refuseIfFenced } from './instance-fencing.js';
import { assignorInput, holdDeadlineMs, protectStableMembers, removalDeadlineMs } from './rebalance-plan.js';
import { validateGroupId, validateInstanceId, validateMemberId, validateMemberTopics } from './heartbeat-fields.js';
import { JOIN_EPOCH, LEAVE_EPOCH, STATIC_LEAVE_EPOCH, type HeartbeatRequest, type HeartbeatResponse } from './heartbeat-request.js';
import type { CoordinatorEvents, RemovalReason } from './coordinator-events.js';
import type { TopicsView } from './topics-view.js';
import { countMoved, intersectWith, normalizeTopics, sameTopics, toPartitionSet, toSortedList } from './topic-partitions.js';

export { validateGroupId } from './heartbeat-fields.js';
export { JOIN_EPOCH, LEAVE_EPOCH, STATIC_LEAVE_EPOCH, type HeartbeatRequest, type HeartbeatResponse } from './heartbeat-request.js';
export type { CoordinatorEvents, RemovalReason } from './coordinator-events.js';

/** Joins that did not stay (in the last 5 minutes) from which new members are kept from taking settled members' partitions. */
export const PROTECTION_MIN_CHURN = 2;

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
 *
 * Failure and storms (issue 13). A dynamic member whose heartbeat stream broke (the server saw it)
 * and did not come back within streamLostGraceMs is removed then, not after the session timeout. A
 * recomputation that would take partitions from healthy members is held back while a dying member
 * (stream lost, or session about to end) is about to be removed, so a member that joins meanwhile
 * takes the freed partitions, not others' (rebalance-plan.ts). While members keep joining and dying
 * (churn, see group-churn.ts) joins wait a window that doubles per unstuck join (up to
 * maxRebalanceDelayMs), and members that joined within the last session timeout get no partitions
 * taken from members that were there before them. A static instance id joined again while its holder
 * lives fences the holder with FENCED_INSTANCE_ID: it is told so on every later heartbeat and commit
 * (not UNKNOWN_MEMBER_ID, which would make it rejoin and fence the other in turn).
 */
export class GroupCoordinator {
  /**
   * Only groups with members: join adds a group with its first member, removeMember forgets one that
   * empties. Committed offsets are the offset store's, so a group with offsets and no members is
   * still listed and described from there (as Kafka lists an "Empty" group).
   */
  private readonly groups = new Map<string, ConsumerGroup>();
  private readonly deadlines: DeadlineTimer;
  private readonly holders: GroupHolders;

  constructor(
    private readonly options: {
      clock: Clock;
      assignor: PartitionAssignor;
      topics: TopicsView;
      config: GroupConfig;
      logger: Logger;
      events?: CoordinatorEvents;
      newMemberId?: () => string;
      /** max_groups: a join as a principal that would hold one group too many is refused (QUOTA_EXCEEDED). */
      groupQuota?: GroupQuotaPort;
    },
  ) {
    this.deadlines = new DeadlineTimer(options.clock, () => this.tick());
    this.holders = new GroupHolders(options.groupQuota);
  }

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
    if (!group || !member) {
      if (group) refuseIfFenced(group, request.memberId, this.options.logger);
      throw new UnknownMemberIdError(`group '${request.groupId}' has no member '${request.memberId}': rejoin with epoch 0`);
    }
    member.streamLostAtMs = undefined;
    if (request.memberEpoch === LEAVE_EPOCH) {
      group.churn.recordCleanLeave(member.memberId);
      this.removeMember(group, member.memberId, 'left', nowMs);
      return { memberId: member.memberId, memberEpoch: LEAVE_EPOCH, heartbeatIntervalMs: this.config.heartbeatIntervalMs, assignment: [], offsetsEpoch: group.announcedOffsetsEpoch };
    }
    member.lastHeartbeatMs = nowMs;
    if (request.memberEpoch === STATIC_LEAVE_EPOCH) {
      if (member.instanceId === undefined) throw new InvalidArgumentError('epoch -2 is for static members (with an instance id)');
      member.isAway = true;
      return { memberId: member.memberId, memberEpoch: STATIC_LEAVE_EPOCH, heartbeatIntervalMs: this.config.heartbeatIntervalMs, assignment: toSortedList(member.assigned), offsetsEpoch: group.announcedOffsetsEpoch };
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
    if (isStale) this.membershipChanged(group, nowMs, 'other');
    const { hasReleased } = group.reconcile(member.memberId, toPartitionSet(request.owned), nowMs);
    // Partitions this member just released may complete others' assignments.
    if (hasReleased) this.pushChangesToOthers(group, member.memberId, nowMs);
    if (member.revocationStartedMs !== undefined) this.deadlines.fireBy(member.revocationStartedMs + this.config.revocationTimeoutMs);
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
    if (!group || !member) {
      if (group) refuseIfFenced(group, memberId, this.options.logger);
      throw new UnknownMemberIdError(`group '${groupId}' has no member '${memberId}'`);
    }
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

  /**
   * Before an offset reset is written: commits of the group's live members made before it are refused.
   * Returns the reset's offsets epoch, for notifyOffsetsReset (undefined: the group has no members).
   */
  fenceOffsets(groupId: string): number | undefined {
    const group = this.groups.get(groupId);
    if (group) return ++group.offsetsEpoch;
    return undefined;
  }

  /**
   * After the reset is written (or failed to be: the members reload what is there): every live member
   * is told to reload its offsets (the new epoch). `offsetsEpoch` is the one fenceOffsets gave this
   * reset: a later reset still being written is not announced with it (its members would reload the
   * offsets from before it, and see no new epoch once it is written).
   */
  notifyOffsetsReset(groupId: string, offsetsEpoch?: number): void {
    const group = this.groups.get(groupId);
    if (!group) return;
    const written = offsetsEpoch === undefined ? group.offsetsEpoch : Math.min(offsetsEpoch, group.offsetsEpoch);
    group.announcedOffsetsEpoch = Math.max(group.announcedOffsetsEpoch, written);
    for (const member of group.members.values()) this.options.events?.onAssignmentChanged?.(groupId, this.responseFor(group, member));
  }

  listGroups(): Array<{ groupId: string; memberCount: number; groupEpoch: number }> {
    return [...this.groups.values()]
      .map((g) => ({ groupId: g.groupId, memberCount: g.members.size, groupEpoch: g.groupEpoch }))
      .sort((a, b) => (a.groupId < b.groupId ? -1 : 1));
  }

  describeGroup(groupId: string): GroupDescription | undefined {
    const group = this.groups.get(groupId);
    return group && describeConsumerGroup(group, this.options.clock.nowMs(), this.config);
  }

  /**
   * The member's heartbeat stream broke and no newer stream carries its heartbeats. A dynamic member
   * is removed after streamLostGraceMs unless it heartbeats again; a static one keeps its session.
   */
  streamLost(groupId: string, memberId: string): void {
    const member = this.groups.get(groupId)?.members.get(memberId);
    if (!member || member.streamLostAtMs !== undefined) return;
    member.streamLostAtMs = this.options.clock.nowMs();
    if (member.instanceId === undefined) this.deadlines.fireBy(member.streamLostAtMs + this.streamLostGraceMs);
  }

  /** How long a dynamic member's lost stream may stay lost before the member is removed. */
  get streamLostGraceMs(): number {
    return Math.min(this.config.streamLostGraceMs, this.config.sessionTimeoutMs);
  }

  /** Groups with a member subscribed to `topic` now (they read it, committed offsets or not). */
  groupsSubscribedTo(topic: string): string[] {
    const out: string[] = [];
    for (const group of this.groups.values()) {
      for (const member of group.members.values()) {
        if (member.topics.includes(topic)) {
          out.push(group.groupId);
          break;
        }
      }
    }
    return out;
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

  /** The principals that hold the group now (max_groups): those its live members joined as. */
  holdersOf(groupId: string): string[] {
    return this.holders.holdersOf(groupId);
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
        else if (member.instanceId === undefined && member.streamLostAtMs !== undefined && nowMs - member.streamLostAtMs >= this.streamLostGraceMs) {
          this.removeMember(group, member.memberId, 'stream-lost', nowMs);
        } else if (member.revocationStartedMs !== undefined && nowMs - member.revocationStartedMs >= config.revocationTimeoutMs) {
          this.removeMember(group, member.memberId, 'revocation-timeout', nowMs);
        }
      }
      if (!this.groups.has(group.groupId)) continue;
      if (group.recheckDueMs !== undefined && nowMs >= group.recheckDueMs) {
        group.recheckDueMs = undefined;
        this.membershipChanged(group, nowMs, 'other');
      }
      if (group.rebalanceDueMs !== undefined && nowMs >= group.rebalanceDueMs) this.rebalance(group, nowMs);
    }
    this.scheduleTimer();
  }

  close(): void {
    this.deadlines.cancel();
  }

  private join(request: HeartbeatRequest, nowMs: number): HeartbeatResponse {
    // Everything that can refuse the join comes before the group exists: a refused join must leave
    // nothing behind, or refused joins of made-up groups would fill MAX_GROUPS for good.
    const topics = normalizeTopics(request.topics);
    if (topics.length === 0) throw new InvalidArgumentError('a member must subscribe to at least one topic');
    let group = this.groups.get(request.groupId);
    if (!group) {
      if (this.groups.size >= MAX_GROUPS) throw new GroupMaxSizeReachedError(`the server has ${MAX_GROUPS} consumer groups with members, the most it keeps (MAX_GROUPS): join an existing group, or retry when one empties`);
      group = new ConsumerGroup(request.groupId);
    }
    const instanceId = request.instanceId ? request.instanceId : undefined;
    const memberId = (this.options.newMemberId ?? randomUUID)();
    const fields = { memberId, instanceId, topics, lastHeartbeatMs: nowMs, joinedAtMs: nowMs, streamLostAtMs: undefined, revocationStartedMs: undefined, isAway: false, principal: request.principal };
    const previousId = instanceId !== undefined ? group.staticMembers.get(instanceId) : undefined;
    if (previousId === undefined && group.members.size >= MAX_MEMBERS_PER_GROUP) throw new GroupMaxSizeReachedError(`group '${group.groupId}' has ${MAX_MEMBERS_PER_GROUP} members`);
    // The last refusal (max_groups): past it nothing can throw, so nothing is counted for a refused join.
    this.holders.memberJoining(group.groupId, request.principal);
    let member: GroupMember;
    if (previousId !== undefined) {
      // Static membership: the same instance is back (after a restart or a -2 leave). It takes
      // over its predecessor's partitions; the predecessor, if still alive, is fenced.
      const previous = group.members.get(previousId)!;
      fenceReplacedMember({ group, previous, byMemberId: memberId, nowMs, heartbeatIntervalMs: this.config.heartbeatIntervalMs, logger: this.options.logger, events: this.options.events });
      member = group.replaceStaticMember(previousId, fields);
      this.holders.memberLeft(group.groupId, previous.principal);
      this.options.events?.onMemberRemoved?.(group.groupId, previousId, 'replaced');
      if (!sameTopics(topics, previous.topics)) this.membershipChanged(group, nowMs, 'join');
    } else {
      member = { ...fields, memberEpoch: 0, assigned: group.freeClaims(topics, request.owned, this.options.topics.partitionCount) };
      // Only now, with its first member, does a new group count against MAX_GROUPS.
      this.groups.set(group.groupId, group);
      group.addMember(member);
      this.membershipChanged(group, nowMs, 'join');
      member.memberEpoch = group.groupEpoch;
    }
    group.churn.recordJoin(nowMs, memberId, instanceId);
    const { hasReleased } = group.reconcile(memberId, toPartitionSet(request.owned), nowMs);
    // A static member back after a restart owns nothing yet: what it was asking to revoke is free.
    if (hasReleased) this.pushChangesToOthers(group, memberId, nowMs);
    this.deadlines.fireBy(nowMs + this.config.sessionTimeoutMs);
    if (member.revocationStartedMs !== undefined) this.deadlines.fireBy(member.revocationStartedMs + this.config.revocationTimeoutMs);
    return this.responseFor(group, member);
  }

  private removeMember(group: ConsumerGroup, memberId: string, reason: RemovalReason, nowMs: number): void {
    const removed = group.removeMember(memberId);
    if (!removed) return;
    this.holders.memberLeft(group.groupId, removed.principal);
    this.options.logger.info({ groupId: group.groupId, memberId, reason }, 'member removed from group');
    this.options.events?.onMemberRemoved?.(group.groupId, memberId, reason);
    if (group.isEmpty) {
      // An empty group holds nothing but counts against MAX_GROUPS: forget it (its offsets stay in
      // the offset store; a member that joins later starts a new group state from them).
      this.groups.delete(group.groupId);
      return;
    }
    this.membershipChanged(group, nowMs, 'other');
    // Its partitions are free now: members whose target holds them can take them at once.
    this.pushChangesToOthers(group, undefined, nowMs);
  }

  /**
   * Bumps the group epoch and schedules one coalesced recomputation, never sooner than a window after
   * the previous one. A join waits the window stretched by churn (a crash-looping member does not
   * drive recomputations); anything else, a removal above all, waits only the base window: orphaned
   * partitions must move on.
   */
  private membershipChanged(group: ConsumerGroup, nowMs: number, cause: 'join' | 'other'): void {
    group.groupEpoch++;
    const baseMs = group.targetEpoch === 0 ? this.config.initialRebalanceDelayMs : this.config.rebalanceDelayMs;
    const windowMs = cause === 'join' && group.targetEpoch !== 0 ? this.windowMs(group, nowMs) : baseMs;
    const dueMs = Math.max(nowMs + windowMs, group.lastRebalanceMs + windowMs);
    if (group.rebalanceDueMs !== undefined && group.rebalanceDueMs <= dueMs) return;
    group.rebalanceDueMs = dueMs;
    group.firstDueMs = Math.min(group.firstDueMs ?? dueMs, dueMs);
    this.deadlines.fireBy(dueMs);
  }

  /** The coalescing window of joins now: the base one, stretched by churn (bounded). */
  private windowMs(group: ConsumerGroup, nowMs: number): number {
    const maxMs = Math.max(this.config.maxRebalanceDelayMs, this.config.rebalanceDelayMs);
    return group.churn.windowMs(nowMs, (id) => group.members.has(id), this.config.rebalanceDelayMs, maxMs);
  }

  private rebalance(group: ConsumerGroup, nowMs: number): void {
    const { members, partitionCounts } = assignorInput(group, this.options.topics);
    const before = group.target;
    let assignment = this.options.assignor.assign({ members, partitionCounts });
    const holdUntilMs = holdDeadlineMs(group, assignment, nowMs, this.config, this.streamLostGraceMs);
    if (holdUntilMs !== undefined) {
      // Recomputed then, once the dying member is removed (or back): its partitions pay for the join.
      group.rebalanceDueMs = holdUntilMs;
      this.deadlines.fireBy(holdUntilMs);
      return;
    }
    group.rebalanceDueMs = undefined;
    group.firstDueMs = undefined;
    group.lastRebalanceMs = nowMs;
    // One failure is not a loop: a member added to scale out after a single crash is balanced at once.
    if (group.churn.churn(nowMs, (id) => group.members.has(id)) >= PROTECTION_MIN_CHURN) {
      const protectedPlan = protectStableMembers(group, assignment, nowMs, this.config.sessionTimeoutMs);
      assignment = protectedPlan.assignment;
      if (protectedPlan.recheckAtMs !== undefined) group.recheckDueMs = Math.min(group.recheckDueMs ?? Number.POSITIVE_INFINITY, protectedPlan.recheckAtMs);
    }
    group.partitionCounts = partitionCounts;
    group.setTarget(assignment, group.groupEpoch);
    this.options.events?.onRebalance?.(group.groupId, group.targetEpoch, countMoved(before, group.target));
    this.pushChangesToOthers(group, undefined, nowMs);
  }

  /** Reconciles every member but `except` with what it last reported, and pushes changed assignments. */
  private pushChangesToOthers(group: ConsumerGroup, except: string | undefined, nowMs: number): void {
    for (const member of group.members.values()) {
      if (member.memberId === except) continue;
      // Without a fresh report, assume it owns what it was given: only additions can happen here.
      const { hasChanged } = group.reconcile(member.memberId, undefined, nowMs);
      if (member.revocationStartedMs !== undefined) this.deadlines.fireBy(member.revocationStartedMs + this.config.revocationTimeoutMs);
      if (hasChanged || member.revocationStartedMs !== undefined) this.options.events?.onAssignmentChanged?.(group.groupId, this.responseFor(group, member));
    }
  }

  private responseFor(group: ConsumerGroup, member: GroupMember): HeartbeatResponse {
    const target = group.target.get(member.memberId);
    // During a revocation, the member is told its assignment without the partitions to let go.
    const assignment = target ? intersectWith(member.assigned, target) : member.assigned;
    return { memberId: member.memberId, memberEpoch: member.memberEpoch, heartbeatIntervalMs: this.config.heartbeatIntervalMs, assignment: toSortedList(assignment), offsetsEpoch: group.announcedOffsetsEpoch };
  }

  /** Re-arms the timer for the earliest deadline of all groups (a full scan: after tick and changes). */
  private scheduleTimer(): void {
    let dueMs = Number.POSITIVE_INFINITY;
    const config = this.config;
    for (const group of this.groups.values()) {
      if (group.rebalanceDueMs !== undefined) dueMs = Math.min(dueMs, group.rebalanceDueMs);
      if (group.recheckDueMs !== undefined) dueMs = Math.min(dueMs, group.recheckDueMs);
      for (const member of group.members.values()) {
        dueMs = Math.min(dueMs, removalDeadlineMs(member, config, this.streamLostGraceMs));
        if (member.revocationStartedMs !== undefined) dueMs = Math.min(dueMs, member.revocationStartedMs + config.revocationTimeoutMs);
      }
    }
    this.deadlines.fireAt(dueMs);
  }
}
