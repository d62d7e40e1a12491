import type { QueueGroupConfig } from '../../src/queues/queue-group-config.js';
import type { QueueStateChange } from '../../src/queues/queue-state-changes.js';

type Snapshot = Extract<QueueStateChange, { type: 'snapshot' }>;
type TrackedRecord = [state: 'available' | 'acquired' | 'done', deliveryCount: number, deadlineMs: number, memberId: string, lastError: string];

interface PartitionState {
  groupId: string;
  topic: string;
  partition: number;
  startOffset: number;
  records: Map<number, TrackedRecord>;
  counters: { deadLettered: number; redeliveries: number };
}

/**
 * A stand-in for the coordinator's state, for the store's tests: applies QueueStateChanges the way
 * queue-state-changes.ts describes them (simply: no windows, no timers) and gives the snapshot a
 * compaction asks for. Two models that applied the same history dump equal.
 */
export class QueueStateModel {
  readonly configs = new Map<string, QueueGroupConfig>();
  private readonly partitions = new Map<string, PartitionState>();

  apply = (change: QueueStateChange): void => {
    switch (change.type) {
      case 'config':
        this.configs.set(change.groupId, change.config);
        return;
      case 'delete':
        this.configs.delete(change.groupId);
        for (const [id, p] of this.partitions) if (p.groupId === change.groupId) this.partitions.delete(id);
        return;
      case 'forget-topic':
        for (const [id, p] of this.partitions) if (p.groupId === change.groupId && p.topic === change.topic) this.partitions.delete(id);
        return;
      case 'snapshot':
        this.partitions.set(idOf(change), {
          ...change,
          records: new Map(change.records.map(([offset, ...rest]) => [offset, rest])),
          counters: { ...change.counters },
        });
        return;
      case 'reset': {
        const p = this.partitionOf(change);
        p.startOffset = change.startOffset;
        p.records.clear();
        return;
      }
    }
    const p = this.partitionOf(change);
    change.offsets.forEach((offset, i) => {
      const [state, count, deadlineMs, memberId, lastError] = p.records.get(offset) ?? ['available', 0, 0, '', ''];
      if (change.type === 'acquire') p.records.set(offset, ['acquired', count + 1, change.lockDeadlineMs, change.memberId, lastError]);
      else if (change.type === 'extend') p.records.set(offset, [state, count, change.lockDeadlineMs, memberId, lastError]);
      else if (change.type === 'release') {
        p.records.set(offset, ['available', count, change.eligibleAtMs[i]!, '', change.reason ?? lastError]);
        p.counters.redeliveries++;
      } else {
        p.records.set(offset, ['done', count, deadlineMs, memberId, lastError]);
        if (change.type === 'archive') p.counters.deadLettered++;
      }
    });
    while (p.records.get(p.startOffset)?.[0] === 'done') p.records.delete(p.startOffset++);
  };

  /** What compaction keeps of a group: its config and a snapshot per partition (empty: no such group). */
  snapshotOf = (groupId: string): QueueStateChange[] => {
    const config = this.configs.get(groupId);
    const changes: QueueStateChange[] = config ? [{ type: 'config', groupId, config, atMs: 1 }] : [];
    for (const p of this.partitions.values()) {
      if (p.groupId !== groupId) continue;
      const records = [...p.records].sort(([a], [b]) => a - b).map(([offset, rest]): Snapshot['records'][number] => [offset, ...rest]);
      changes.push({ type: 'snapshot', groupId, topic: p.topic, partition: p.partition, startOffset: p.startOffset, records, counters: { ...p.counters }, atMs: 1 });
    }
    return changes;
  };

  groupIds(): string[] {
    return [...new Set([...this.configs.keys(), ...[...this.partitions.values()].map((p) => p.groupId)])].sort();
  }

  /** Everything, in a stable order, to compare two models. */
  dump(): unknown {
    return this.groupIds().map((groupId) => this.snapshotOf(groupId).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))));
  }

  private partitionOf(at: { groupId: string; topic: string; partition: number }): PartitionState {
    let p = this.partitions.get(idOf(at));
    if (!p) this.partitions.set(idOf(at), (p = { groupId: at.groupId, topic: at.topic, partition: at.partition, startOffset: 0, records: new Map(), counters: { deadLettered: 0, redeliveries: 0 } }));
    return p;
  }
}

const idOf = (at: { groupId: string; topic: string; partition: number }): string => `${at.groupId}\u0000${at.topic}\u0000${at.partition}`;
