import type { GroupCoordinator } from '../groups/group-coordinator.js';
import type { OffsetStore } from '../groups/offset-store.js';
import type { QueueCoordinator } from '../queues/queue-coordinator.js';

/** storage's ConsumptionReader, by shape: server files other than bootstrap.ts do not import storage. */
export interface GroupProgress {
  kind: 'consumer' | 'queue';
  groupId: string;
  consumedBeforeOffset: number;
}

/**
 * Storage's consumption-progress port (storage/consumption-progress.ts) over the groups:
 * - consumer groups: every group with committed offsets of the topic, or a member subscribed to it
 *   now; its committed offset in the partition, or 0 when it has none there (it reads the topic but
 *   has committed nothing: nothing counts as consumed). A group whose __consumer_offsets partition is
 *   damaged is at 0 too: its offsets are unknown.
 * - queue groups: every group that reads the topic or keeps state of it; its partition queue's start
 *   offset (everything below is acknowledged or dead-lettered), 0 without state there or when the
 *   group is failed or damaged.
 * Like Kafka, a consumer group counts until it is deleted (`strata groups delete`): a group nobody
 * runs any more holds retention.after.ack back at its last commit.
 */
export class GroupConsumptionProgress {
  constructor(
    private readonly offsets: OffsetStore,
    private readonly coordinator: GroupCoordinator,
    private readonly queues: QueueCoordinator,
  ) {}

  readersOf(topic: string, partition: number): GroupProgress[] {
    const readers: GroupProgress[] = [];
    const seen = new Set<string>();
    for (const { groupId, offsets, isDamaged } of this.offsets.committedToTopic(topic)) {
      seen.add(groupId);
      readers.push({ kind: 'consumer', groupId, consumedBeforeOffset: isDamaged ? 0 : (offsets.get(partition)?.offset ?? 0) });
    }
    for (const groupId of this.coordinator.groupsSubscribedTo(topic)) {
      if (!seen.has(groupId)) readers.push({ kind: 'consumer', groupId, consumedBeforeOffset: 0 });
    }
    for (const { groupId, startOffset } of this.queues.progressOf(topic, partition)) {
      readers.push({ kind: 'queue', groupId, consumedBeforeOffset: startOffset ?? 0 });
    }
    return readers;
  }
}
