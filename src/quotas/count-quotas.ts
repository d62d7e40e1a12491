import { QuotaExceededError } from '../core/errors.js';
import type { GroupQuotaPort } from '../core/group-holders.js';
import type { QuotaSource } from './principal-quotas.js';

/** The quotas enforced by counting what a principal holds, and refusing one more. */
export const COUNT_QUOTA_KEYS = ['max_groups', 'max_connections', 'max_streams'] as const;
export type CountQuotaKey = (typeof COUNT_QUOTA_KEYS)[number];

/** What the refusal says each count is, for its message. */
const WHAT: Record<CountQuotaKey, string> = {
  max_groups: 'consumer groups and queue groups (held while a live member joined as it)',
  max_connections: 'connections',
  max_streams: 'streaming calls',
};

const HOW_TO_RELEASE: Record<CountQuotaKey, string> = {
  max_groups: 'leave a group, or join one it already holds',
  max_connections: 'close a connection, or share one among more calls',
  max_streams: 'end a stream, or retry when one ends',
};

/**
 * How many groups, connections and streams each principal holds, against its max_groups,
 * max_connections and max_streams (resolved by the QuotaSource at each acquisition, so a changed quota
 * applies to the next one; what is held beyond a lowered quota is kept, not taken away).
 *
 * acquire() counts one more or throws QuotaExceededError (QUOTA_EXCEEDED, RESOURCE_EXHAUSTED) counting
 * nothing; each successful acquire is matched by one release(). Counts are kept only for principals
 * holding something, so the maps are bounded by what is open: connections and streams by the
 * server's caps, groups by MAX_GROUPS + MAX_QUEUE_GROUPS.
 *
 * It is the group coordinators' GroupQuotaPort (one instance for both: consumer groups and queue
 * groups count against one limit), and the server's connection and stream gate counts through it.
 */
export class CountQuotas implements GroupQuotaPort {
  private readonly held: Record<CountQuotaKey, Map<string, number>> = { max_groups: new Map(), max_connections: new Map(), max_streams: new Map() };
  private readonly refusals: Record<CountQuotaKey, number> = { max_groups: 0, max_connections: 0, max_streams: 0 };

  constructor(
    private readonly source: QuotaSource,
    private readonly onRefusal: (key: CountQuotaKey, principal: string) => void = () => undefined,
  ) {}

  acquire(key: CountQuotaKey, principal: string): void {
    const counts = this.held[key];
    const count = counts.get(principal) ?? 0;
    const limit = this.source.quotasFor(principal)[key];
    if (limit !== null && count >= limit) {
      this.refusals[key]++;
      this.onRefusal(key, principal);
      throw new QuotaExceededError(`${principal} holds ${count} ${WHAT[key]}, as many as its ${key} quota (${limit}) allows: ${HOW_TO_RELEASE[key]}`);
    }
    counts.set(principal, count + 1);
  }

  release(key: CountQuotaKey, principal: string): void {
    const counts = this.held[key];
    const count = counts.get(principal) ?? 0;
    if (count <= 1) counts.delete(principal);
    else counts.set(principal, count - 1);
  }

  acquireGroup(principal: string): void {
    this.acquire('max_groups', principal);
  }

  releaseGroup(principal: string): void {
    this.release('max_groups', principal);
  }

  heldBy(key: CountQuotaKey, principal: string): number {
    return this.held[key].get(principal) ?? 0;
  }

  /** Refusals of `key` since the server started. */
  refusalCount(key: CountQuotaKey): number {
    return this.refusals[key];
  }

  /**
   * The `limit` principals holding the most of `key` (ties by name), and the sum held by all the
   * others: bounded however many principals there are (for gauges).
   */
  topHolders(key: CountQuotaKey, limit: number): { top: Array<{ principal: string; count: number }>; otherCount: number } {
    const all = [...this.held[key]].map(([principal, count]) => ({ principal, count }));
    all.sort((a, b) => b.count - a.count || (a.principal < b.principal ? -1 : a.principal > b.principal ? 1 : 0));
    const top = all.slice(0, limit);
    const otherCount = all.slice(limit).reduce((sum, entry) => sum + entry.count, 0);
    return { top, otherCount };
  }
}
