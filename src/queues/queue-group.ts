import { AssertionError, assert } from '../core/assert.js';
import type { DeadlineTimer } from '../core/deadline-timer.js';
import type { StrataError } from '../core/errors.js';
import { PartitionQueue, type PartitionQueueOwner } from './partition-queue.js';
import type { QueueDelivery } from './queue-coordinator-api.js';
import type { QueueGroupConfig } from './queue-group-config.js';
import type { QueueStateChange } from './queue-state-changes.js';
import type { HeldBatchLimits } from './window-batches.js';

export interface QueueMember {
  readonly memberId: string;
  readonly clientId: string;
  readonly topics: readonly string[];
  readonly inFlightLimit: number;
  readonly deliver: (delivery: QueueDelivery) => boolean | void;
  /** False while its stream's write buffer is full (flow control). */
  isReady: boolean;
  /** Records picked for it whose delivery was not handed to deliver() yet (at-most-once's bound). */
  undelivered: number;
  /** The principal it joined as (max_groups). */
  readonly principal?: string | undefined;
}

/**
 * A queue group: its configuration, its live members (not durable: a restart forgets them, and their
 * locks expire), and a PartitionQueue per topic partition it has state for. apply() is the one way
 * the durable state changes, live and at replay. How many records each member id holds is kept here
 * from the partitions' changes (members of an earlier run included, until their records come back).
 */
export class QueueGroup implements PartitionQueueOwner {
  readonly members = new Map<string, QueueMember>();
  /** A journal write failed: memory may be ahead of the log, so the group refuses everything until a restart replays it. */
  failure: StrataError | undefined;
  timer: DeadlineTimer | undefined;
  // The delivery pump: one run at a time; a request during a run makes it run again.
  isPumping = false;
  isPumpRequested = false;
  pumpRound = 0;
  /** High watermark listeners' unsubscribe functions, by partition key. */
  readonly listeners = new Map<string, () => void>();
  private readonly partitions = new Map<string, Map<number, PartitionQueue>>();
  private readonly heldCounts = new Map<string, number>();

  constructor(
    readonly groupId: string,
    public config: QueueGroupConfig,
    /** Bounds on the stored batches its windows hold for deliveries (none held without). */
    private readonly heldBatches?: HeldBatchLimits,
  ) {}

  held(memberId: string, delta: number): void {
    const count = (this.heldCounts.get(memberId) ?? 0) + delta;
    if (count < 0) throw new AssertionError(`member ${memberId} of queue group ${this.groupId} would hold ${count} records`);
    if (count === 0) this.heldCounts.delete(memberId);
    else this.heldCounts.set(memberId, count);
  }

  deadlineAt(deadlineMs: number): void {
    this.timer?.fireBy(deadlineMs);
  }

  /** Records `memberId` holds now (acquired, unanswered). */
  heldBy(memberId: string): number {
    return this.heldCounts.get(memberId) ?? 0;
  }

  partitionQueue(topic: string, partition: number): PartitionQueue | undefined {
    return this.partitions.get(topic)?.get(partition);
  }

  /** Every partition queue, by topic then partition. */
  partitionQueues(): PartitionQueue[] {
    const out: PartitionQueue[] = [];
    for (const topic of [...this.partitions.keys()].sort()) {
      const byPartition = this.partitions.get(topic)!;
      for (const partition of [...byPartition.keys()].sort((a, b) => a - b)) out.push(byPartition.get(partition)!);
    }
    return out;
  }

  /** Topics the group reads now or has state for, sorted. */
  topics(): string[] {
    const topics = new Set(this.partitions.keys());
    for (const member of this.members.values()) for (const topic of member.topics) topics.add(topic);
    return [...topics].sort();
  }

  /** Applies one durable change of this group ('delete' is the coordinator's: it drops the group). */
  apply(change: QueueStateChange): void {
    if (change.groupId !== this.groupId) throw new AssertionError(`change of group ${change.groupId} applied to ${this.groupId}`);
    switch (change.type) {
      case 'config': {
        const isReordered = change.config.ordering !== this.config.ordering;
        this.config = change.config;
        // Keys are read only for key-ordered groups: a new ordering reads the windows again.
        if (isReordered) for (const queue of this.partitionQueues()) queue.dropWindow();
        return;
      }
      case 'forget-topic': {
        const byPartition = this.partitions.get(change.topic);
        if (!byPartition) return;
        for (const queue of byPartition.values()) queue.clear(queue.startOffset);
        this.partitions.delete(change.topic);
        for (const [key, unsubscribe] of this.listeners) {
          if (key.startsWith(`${change.topic}\u0000`)) {
            unsubscribe();
            this.listeners.delete(key);
          }
        }
        return;
      }
      case 'delete':
        assert(false, 'a queue group is deleted by its coordinator');
        return;
      case 'reset':
      case 'snapshot': {
        let queue = this.partitionQueue(change.topic, change.partition);
        if (!queue) {
          queue = new PartitionQueue(change.topic, change.partition, change.startOffset, this, this.heldBatches);
          let byPartition = this.partitions.get(change.topic);
          if (!byPartition) this.partitions.set(change.topic, (byPartition = new Map()));
          byPartition.set(change.partition, queue);
        }
        queue.apply(change);
        return;
      }
      default: {
        const queue = this.partitionQueue(change.topic, change.partition);
        if (!queue) throw new AssertionError(`${change.type} in ${change.topic}-${change.partition} of queue group ${this.groupId}, which has no state there`);
        queue.apply(change);
      }
    }
  }

  /** The changes that rebuild this group's whole durable state: its config and a snapshot per partition. */
  snapshotChanges(atMs: number): QueueStateChange[] {
    return [
      { type: 'config', groupId: this.groupId, config: { ...this.config }, atMs },
      ...this.partitionQueues().map((queue) => queue.snapshot(this.groupId, atMs)),
    ];
  }

  /** Stops the timer and the high watermark listeners and lets go of held batches (the group is deleted, failed, or the coordinator closes). */
  stop(): void {
    this.timer?.cancel();
    for (const queue of this.partitionQueues()) queue.releaseHeldBatches();
    for (const unsubscribe of this.listeners.values()) unsubscribe();
    this.listeners.clear();
  }
}

export function partitionKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}
