/**
 * The limit on the groups a principal may hold (the max_groups quota), as the consumer-group and
 * queue-group coordinators see it. They know principals only as plain strings their members joined
 * with; server/ implements the port over the quotas (quotas/count-quotas.ts), one instance shared by
 * both coordinators so that consumer groups and queue groups count against the same limit.
 */
export interface GroupQuotaPort {
  /** `principal` starts to hold one more group: throws QuotaExceededError, counting nothing, when it may not. */
  acquireGroup(principal: string): void;
  /** `principal` no longer holds one of the groups it acquired. */
  releaseGroup(principal: string): void;
}

/**
 * Which principals hold which groups of one coordinator. A principal holds a group while at least one
 * of the group's live members joined as that principal: the first such member acquires the group from
 * the port (and may be refused), the last one to leave, expire or be replaced releases it. Committed
 * offsets alone hold nothing: an emptied group keeps its offsets and stops counting, so a principal
 * that stops heartbeating locks nobody out.
 *
 * Invariant: a (group, principal) pair is here exactly while the port counts it for that principal;
 * the member counts under it are the group's live members that joined as it. A member joined without
 * a principal (the coordinators used directly, without a server) counts for nobody.
 */
export class GroupHolders {
  /** groupId -> principal -> live members of the group that joined as the principal. */
  private readonly members = new Map<string, Map<string, number>>();

  constructor(private readonly port: GroupQuotaPort | undefined) {}

  /** Before a member joins as `principal`: throws QuotaExceededError (nothing counted) if that would be one group too many. */
  memberJoining(groupId: string, principal: string | undefined): void {
    if (principal === undefined || this.port === undefined) return;
    let principals = this.members.get(groupId);
    const count = principals?.get(principal) ?? 0;
    if (count === 0) this.port.acquireGroup(principal);
    if (!principals) this.members.set(groupId, (principals = new Map()));
    principals.set(principal, count + 1);
  }

  /** A member that joined as `principal` left, expired, was replaced or refused after memberJoining. */
  memberLeft(groupId: string, principal: string | undefined): void {
    if (principal === undefined || this.port === undefined) return;
    const principals = this.members.get(groupId);
    const count = principals?.get(principal) ?? 0;
    if (count === 0) return;
    if (count > 1) {
      principals!.set(principal, count - 1);
      return;
    }
    principals!.delete(principal);
    if (principals!.size === 0) this.members.delete(groupId);
    this.port.releaseGroup(principal);
  }

  /** The group is gone with its members (a queue group deleted): whoever held it no longer does. */
  groupGone(groupId: string): void {
    const principals = this.members.get(groupId);
    if (!principals || this.port === undefined) return;
    this.members.delete(groupId);
    for (const principal of principals.keys()) this.port.releaseGroup(principal);
  }

  /** The principals holding `groupId` now (for describe and tests). */
  holdersOf(groupId: string): string[] {
    return [...(this.members.get(groupId)?.keys() ?? [])].sort();
  }
}
