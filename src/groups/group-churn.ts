import { MAX_REMEMBERED_FENCES, MAX_REMEMBERED_JOINS } from '../core/limits.js';

/** How far back joins count towards churn and rejoins (describe says "in the last 5 minutes"). */
export const CHURN_PERIOD_MS = 5 * 60_000;
/** The coalescing window doubles per unstuck join, at most this many times (then the bound caps it). */
const MAX_WINDOW_DOUBLINGS = 16;

interface JoinRecord {
  atMs: number;
  memberId: string;
  instanceId: string | undefined;
  /** It left on purpose (a leave, or a static member's -2 and return): not churn. */
  hasLeftCleanly: boolean;
}

export interface FencedMember {
  memberId: string;
  instanceId: string;
  /** The member that took the instance over. */
  byMemberId: string;
  fencedAtMs: number;
  /** Heartbeats and commits of the fenced member refused since: above 0, the old process is alive. */
  refusedCount: number;
}

/**
 * What a group remembers of its recent membership history, to tell a storm from ordinary changes and
 * to show it: the joins of the last CHURN_PERIOD_MS and the members fenced by a newer holder of their
 * static instance id. Both bounded (oldest forgotten first).
 *
 * Churn is the number of recent joins that did not stick: joins of the period whose member is gone
 * without having left on purpose (removed after its stream broke or its session ended, or replaced
 * by a restart of its static instance without a -2 leave). A rolling restart whose members leave
 * has none; a member that crashes and is restarted again and again adds one per restart. The coalescing
 * window of rebalances doubles per unit of churn (bounded), and shrinks again as the joins age out.
 */
export class GroupChurn {
  private readonly joins: JoinRecord[] = [];
  private readonly fenced = new Map<string, FencedMember>();

  recordJoin(atMs: number, memberId: string, instanceId: string | undefined): void {
    this.joins.push({ atMs, memberId, instanceId, hasLeftCleanly: false });
    if (this.joins.length > MAX_REMEMBERED_JOINS) this.joins.splice(0, this.joins.length - MAX_REMEMBERED_JOINS);
  }

  /** The member left on purpose: its join is not churn. */
  recordCleanLeave(memberId: string): void {
    for (let i = this.joins.length - 1; i >= 0; i--) {
      if (this.joins[i]!.memberId !== memberId) continue;
      this.joins[i]!.hasLeftCleanly = true;
      return;
    }
  }

  /** Joins of the period whose member is gone without having left on purpose. */
  churn(nowMs: number, isPresent: (memberId: string) => boolean): number {
    this.forgetBefore(nowMs - CHURN_PERIOD_MS);
    let count = 0;
    for (const join of this.joins) if (!join.hasLeftCleanly && !isPresent(join.memberId)) count++;
    return count;
  }

  /** The coalescing window: the base one, doubled per unit of churn, capped. */
  windowMs(nowMs: number, isPresent: (memberId: string) => boolean, baseMs: number, maxMs: number): number {
    const doublings = Math.min(this.churn(nowMs, isPresent), MAX_WINDOW_DOUBLINGS);
    return Math.max(baseMs, Math.min(maxMs, baseMs * 2 ** doublings));
  }

  /** Earlier joins of a static instance in the period (each is a restart of it), not counting `memberId`'s own. */
  rejoinsOf(nowMs: number, instanceId: string | undefined, memberId: string): number {
    if (instanceId === undefined) return 0;
    let count = 0;
    for (const join of this.joins) if (join.atMs >= nowMs - CHURN_PERIOD_MS && join.instanceId === instanceId && join.memberId !== memberId) count++;
    return count;
  }

  recordFence(fence: Omit<FencedMember, 'refusedCount'>): void {
    this.fenced.set(fence.memberId, { ...fence, refusedCount: 0 });
    while (this.fenced.size > MAX_REMEMBERED_FENCES) this.fenced.delete(this.fenced.keys().next().value!);
  }

  /** The fence of `memberId`, if it was fenced; each lookup is a refusal and is counted. */
  refuse(memberId: string): FencedMember | undefined {
    const fence = this.fenced.get(memberId);
    if (fence) fence.refusedCount++;
    return fence;
  }

  /** Fences of the period, newest first. */
  recentFences(nowMs: number): FencedMember[] {
    return [...this.fenced.values()].filter((f) => f.fencedAtMs >= nowMs - CHURN_PERIOD_MS).reverse();
  }

  private forgetBefore(cutoffMs: number): void {
    let stale = 0;
    while (stale < this.joins.length && this.joins[stale]!.atMs < cutoffMs) stale++;
    if (stale > 0) this.joins.splice(0, stale);
  }
}
