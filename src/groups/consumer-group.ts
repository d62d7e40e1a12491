import { assert } from '../core/assert.js';
import type { GroupAssignment } from './assignors/partition-assignor.js';
import { GroupChurn } from './group-churn.js';
import { difference, equals, intersects, isEmpty, partitionKey, toPartitionSet, type PartitionSet } from './topic-partitions.js';

export interface ReconcileResult {
  /** The member's assignment (or epoch) changed. */
  hasChanged: boolean;
  /** The member let go of partitions: others may take them now. */
  hasReleased: boolean;
}

export interface GroupMember {
  memberId: string;
  instanceId: string | undefined;
  topics: string[];
  /** The epoch the member was last told; it reaches the group's target epoch with its target. */
  memberEpoch: number;
  /** Partitions the coordinator has given this member and not yet seen it release. */
  assigned: PartitionSet;
  lastHeartbeatMs: number;
  joinedAtMs: number;
  /** When its heartbeat stream broke, while no newer one carries its heartbeats. */
  streamLostAtMs: number | undefined;
  /** Set while the member is asked to release partitions it still reports owning. */
  revocationStartedMs: number | undefined;
  /** A static member that said it leaves for a moment (epoch -2): it keeps its partitions. */
  isAway: boolean;
  /** The principal it joined as (its group counts against that principal's max_groups while it lives). */
  principal?: string | undefined;
}

/**
 * One group's members, its target assignment and the reconciliation between them (KIP-848):
 * - the target assignment is what the assignor computed at `targetEpoch`;
 * - a member first releases what its target no longer holds (it reports `owned` without them), and
 *   only then gets what its target adds, and only partitions no other member still holds;
 * so no partition is ever given to two members, and members whose target did not change are
 * never asked to stop.
 * Invariant: every partition is in at most one member's `assigned` (the `owners` index).
 */
export class ConsumerGroup {
  readonly members = new Map<string, GroupMember>();
  readonly staticMembers = new Map<string, string>();
  /** Bumped by every change of membership or subscription. */
  groupEpoch = 0;
  /** The group epoch the current target was computed for; 0 before the first assignment. */
  targetEpoch = 0;
  target = new Map<string, PartitionSet>();
  /** When the coalesced recomputation of the target is due; undefined when none is pending. */
  rebalanceDueMs: number | undefined;
  lastRebalanceMs = Number.NEGATIVE_INFINITY;
  /** When the pending recomputation was first due: holding it back for dying members is bounded from there. */
  firstDueMs: number | undefined;
  /** When members protected from moves during churn are to be balanced after all (they are settled then). */
  recheckDueMs: number | undefined;
  readonly churn = new GroupChurn();
  /** Bumped by every offset reset before it is written: commits made before it are refused. */
  offsetsEpoch = 0;
  /**
   * The offsets epoch heartbeat answers carry: it catches up with offsetsEpoch only once the reset is
   * written. Announced earlier, a member answered during the write reloaded the old offsets, and the
   * announcement after the write carried the epoch it already had, so it never reloaded again.
   */
  announcedOffsetsEpoch = 0;
  /** The partition count of each subscribed topic the current target was computed with (absent: no such topic then). */
  partitionCounts = new Map<string, number>();
  private readonly owners = new Map<string, string>();

  constructor(readonly groupId: string) {}

  /**
   * Whether a topic of `topics` has a partition count other than the one the target was computed
   * with: created, deleted or grown since (KIP-848 recomputes on such metadata changes too).
   */
  hasTopicsChanged(topics: readonly string[], partitionCount: (topic: string) => number | undefined): boolean {
    for (const topic of topics) if (partitionCount(topic) !== this.partitionCounts.get(topic)) return true;
    return false;
  }

  get isEmpty(): boolean {
    return this.members.size === 0;
  }

  ownerOf(topic: string, partition: number): string | undefined {
    return this.owners.get(partitionKey(topic, partition));
  }

  addMember(member: GroupMember): void {
    assert(!this.members.has(member.memberId), 'member ids are unique');
    this.members.set(member.memberId, member);
    if (member.instanceId !== undefined) this.staticMembers.set(member.instanceId, member.memberId);
    for (const [topic, partitions] of member.assigned) for (const p of partitions) this.owners.set(partitionKey(topic, p), member.memberId);
  }

  /** Removes a member; its partitions are free at once (they go out with the next reconciliation). */
  removeMember(memberId: string): GroupMember | undefined {
    const member = this.members.get(memberId);
    if (!member) return undefined;
    this.members.delete(memberId);
    if (member.instanceId !== undefined && this.staticMembers.get(member.instanceId) === memberId) this.staticMembers.delete(member.instanceId);
    for (const [topic, partitions] of member.assigned) for (const p of partitions) this.owners.delete(partitionKey(topic, p));
    this.target.delete(memberId);
    return member;
  }

  /**
   * A static member comes back under a new member id: it takes over the old one's partitions, target
   * and epoch, and the old id is fenced. Nobody else is touched.
   */
  replaceStaticMember(oldMemberId: string, newMember: Omit<GroupMember, 'assigned' | 'memberEpoch'>): GroupMember {
    const old = this.members.get(oldMemberId);
    assert(old !== undefined, 'the replaced member exists');
    const target = this.target.get(oldMemberId);
    this.removeMember(oldMemberId);
    const member: GroupMember = { ...newMember, assigned: old.assigned, memberEpoch: old.memberEpoch };
    this.addMember(member);
    if (target) this.target.set(member.memberId, target);
    return member;
  }

  /**
   * What a joining member already consumes and nobody else holds: it keeps those. After a restart of
   * the coordinator every member rejoins with what it owned, so the assignment carries over and the
   * sticky assignor starts from it; a member that was removed finds its partitions taken, and lets go.
   */
  freeClaims(topics: readonly string[], owned: ReadonlyArray<{ topic: string; partitions: readonly number[] }>, partitionCount: (topic: string) => number | undefined): PartitionSet {
    const claims: PartitionSet = new Map();
    for (const { topic, partitions } of owned) {
      const count = partitionCount(topic);
      if (count === undefined || !topics.includes(topic)) continue;
      for (const p of partitions) {
        if (!Number.isInteger(p) || p < 0 || p >= count || this.ownerOf(topic, p) !== undefined) continue;
        let set = claims.get(topic);
        if (!set) claims.set(topic, (set = new Set()));
        set.add(p);
      }
    }
    return claims;
  }

  setTarget(assignment: GroupAssignment, epoch: number): void {
    this.target = new Map([...assignment].map(([memberId, partitions]) => [memberId, toPartitionSet(partitions)]));
    this.targetEpoch = epoch;
  }

  /**
   * Moves a member one step towards its target, given what it reports owning. Revocation first: partitions its target dropped stay assigned until the
   * member no longer reports them; then free partitions of its target are added.
   */
  reconcile(memberId: string, owned: PartitionSet | undefined, nowMs: number): ReconcileResult {
    const member = this.members.get(memberId);
    assert(member !== undefined, 'reconcile of a known member');
    const target = this.target.get(memberId) ?? member.assigned;
    let hasChanged = false;
    let hasReleased = false;
    const toRevoke = difference(member.assigned, target);
    // Nothing (left) to revoke, for instance because a newer target gave the partitions back: no
    // revocation is pending, whatever was started before.
    if (isEmpty(toRevoke)) member.revocationStartedMs = undefined;
    else {
      if (owned !== undefined && !intersects(owned, toRevoke)) {
        for (const [topic, partitions] of toRevoke) {
          for (const p of partitions) {
            member.assigned.get(topic)!.delete(p);
            this.owners.delete(partitionKey(topic, p));
          }
          if (member.assigned.get(topic)!.size === 0) member.assigned.delete(topic);
        }
        member.revocationStartedMs = undefined;
        hasChanged = true;
        hasReleased = true;
      } else {
        member.revocationStartedMs ??= nowMs;
        return { hasChanged, hasReleased };
      }
    }
    for (const [topic, partitions] of difference(target, member.assigned)) {
      for (const p of partitions) {
        const key = partitionKey(topic, p);
        if (this.owners.has(key)) continue;
        this.owners.set(key, memberId);
        let set = member.assigned.get(topic);
        if (!set) member.assigned.set(topic, (set = new Set()));
        set.add(p);
        hasChanged = true;
      }
    }
    // Epochs only grow: a member that joined after the target was computed keeps its join epoch.
    if (equals(member.assigned, target) && this.targetEpoch > member.memberEpoch) {
      member.memberEpoch = this.targetEpoch;
      hasChanged = true;
    }
    return { hasChanged, hasReleased };
  }
}
