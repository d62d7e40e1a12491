import type { Clock, TimerHandle } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { ConsumptionReader } from './consumption-progress.js';
import { unconsumedRemoved } from './retention.js';

/** What removed the records: time/size retention, or overflow=drop-oldest. */
export type RemovalCause = 'retention' | 'drop-oldest';

/** Records some group had not consumed when they were removed, since this process started. */
export interface UnconsumedRemovalCount {
  kind: ConsumptionReader['kind'];
  groupId: string;
  topic: string;
  partition: number;
  records: number;
}

/**
 * Most group/topic/partition counters kept: past it, new keys are not counted (an error line says so
 * once), so a server with many short-lived groups cannot grow this without bound.
 */
export const MAX_UNCONSUMED_REMOVAL_COUNTERS = 100_000;

/** drop-oldest removes records on the produce path: its warnings are gathered and written at most this often per group. */
export const DROP_LOG_INTERVAL_MS = 10_000;

/**
 * Counts records removed before a group consumed them (time or size retention, overflow=drop-oldest),
 * per group, topic and partition, so that such removals are never silent. `totals()` is the accessor
 * a metric reads (`strata_retention_unconsumed_removed_records_total{group,topic}` sums partitions);
 * `logPending()` writes one warning line per group for what was removed since the last call (the
 * retention run calls it at its end; drop-oldest's are written by a timer, DROP_LOG_INTERVAL_MS later).
 * In memory: counts start at 0 with each process, as a metric counter does.
 */
export class UnconsumedRemovals {
  private readonly counts = new Map<string, UnconsumedRemovalCount>();
  /** Since the last logPending(): group -> topic/partition -> records, with the causes seen. */
  private readonly pending = new Map<string, { kind: ConsumptionReader['kind']; groupId: string; causes: Set<RemovalCause>; removed: Map<string, { topic: string; partition: number; records: number }> }>();
  private hasWarnedOfLimit = false;
  private logTimer: TimerHandle | undefined;
  private isClosed = false;

  constructor(
    private readonly logger: Logger,
    private readonly clock: Clock,
  ) {}

  /** As record(), for overflow=drop-oldest: the warning lines follow within DROP_LOG_INTERVAL_MS. */
  recordDrop(topic: string, partition: number, readers: readonly ConsumptionReader[], fromOffset: number, toOffset: number): void {
    this.record(topic, partition, readers, fromOffset, toOffset, 'drop-oldest');
    if (!this.hasPending || this.logTimer || this.isClosed) return;
    this.logTimer = this.clock.setTimeout(() => {
      this.logTimer = undefined;
      this.logPending();
    }, DROP_LOG_INTERVAL_MS);
  }

  /** Writes what is pending and stops the timer (the log manager closes). */
  close(): void {
    this.isClosed = true;
    this.logTimer?.cancel();
    this.logTimer = undefined;
    this.logPending();
  }

  /** The log start of topic/partition moved from `fromOffset` to `toOffset`: counts what each reader had not consumed. */
  record(topic: string, partition: number, readers: readonly ConsumptionReader[], fromOffset: number, toOffset: number, cause: RemovalCause): void {
    for (const { reader, records } of unconsumedRemoved(readers, fromOffset, toOffset)) {
      const key = `${reader.kind}\u0000${reader.groupId}\u0000${topic}\u0000${partition}`;
      const count = this.counts.get(key);
      if (count) count.records += records;
      else if (this.counts.size < MAX_UNCONSUMED_REMOVAL_COUNTERS) this.counts.set(key, { kind: reader.kind, groupId: reader.groupId, topic, partition, records });
      else if (!this.hasWarnedOfLimit) {
        this.hasWarnedOfLimit = true;
        this.logger.error({ limit: MAX_UNCONSUMED_REMOVAL_COUNTERS }, 'too many group/topic/partition counters of unconsumed removals: new ones are not counted (they are still logged)');
      }
      const groupKey = `${reader.kind}\u0000${reader.groupId}`;
      let group = this.pending.get(groupKey);
      if (!group) this.pending.set(groupKey, (group = { kind: reader.kind, groupId: reader.groupId, causes: new Set(), removed: new Map() }));
      group.causes.add(cause);
      const partitionKey = `${topic}\u0000${partition}`;
      const removed = group.removed.get(partitionKey);
      if (removed) removed.records += records;
      else group.removed.set(partitionKey, { topic, partition, records });
    }
  }

  /** Every counter, sorted by group kind, group, topic and partition. */
  totals(): UnconsumedRemovalCount[] {
    return [...this.counts.values()]
      .map((count) => ({ ...count }))
      .sort((a, b) => compare(a.kind, b.kind) || compare(a.groupId, b.groupId) || compare(a.topic, b.topic) || a.partition - b.partition);
  }

  /** Forgets the counters of a deleted topic (a topic created again under its name starts at 0). */
  forgetTopic(topic: string): void {
    for (const [key, count] of this.counts) if (count.topic === topic) this.counts.delete(key);
  }

  /** One warning line per group for what was removed unconsumed since the last call. */
  logPending(): void {
    for (const group of this.pending.values()) {
      const removed = [...group.removed.values()];
      const records = removed.reduce((total, r) => total + r.records, 0);
      this.logger.warn(
        { groupKind: group.kind, groupId: group.groupId, records, removed, causes: [...group.causes].sort() },
        `${group.kind === 'queue' ? 'queue' : 'consumer'} group '${group.groupId}' had not consumed ${records} records that ${[...group.causes].sort().join(' and ')} removed`,
      );
    }
    this.pending.clear();
  }

  get hasPending(): boolean {
    return this.pending.size > 0;
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
