import type { PartitionQueue } from './partition-queue.js';
import type { QueueDepth, QueueGroupDescription, QueuePartitionDescription, QueueTopicsView } from './queue-coordinator-api.js';
import type { QueueGroup } from './queue-group.js';
import { readRecords } from './queue-log-reads.js';

/**
 * A group's numbers, per partition and in total (proto DescribeQueueGroupResponse). Depth counts the
 * records in [startOffset, highWatermark) that are not done, including those not read into the window
 * yet; the oldest unacknowledged record is the one at the start offset (the start never rests on a
 * done record), whose timestamp is read from the log.
 */
export async function describeQueueGroup(group: QueueGroup, topics: QueueTopicsView, nowMs: number): Promise<QueueGroupDescription> {
  const partitions: QueuePartitionDescription[] = [];
  for (const queue of group.partitionQueues()) partitions.push(await describePartition(group, queue, topics, nowMs));
  const total = emptyDepth();
  const deadLetterPartitions = new Set<string>();
  for (const { depth, deadLetterTopic, partition, topic } of partitions) {
    total.depth += depth.depth;
    total.inFlight += depth.inFlight;
    total.waitingForRetry += depth.waitingForRetry;
    total.oldestUnacknowledgedAgeMs = Math.max(total.oldestUnacknowledgedAgeMs, depth.oldestUnacknowledgedAgeMs);
    total.deadLettered += depth.deadLettered;
    total.redeliveries += depth.redeliveries;
    total.skipped += depth.skipped;
    // Source partitions may share a dead-letter partition (a smaller dead-letter topic): count each once.
    const count = topics.partitionCount(deadLetterTopic);
    const key = `${deadLetterTopic}\u0000${count === undefined ? 0 : partition % count}\u0000${topic}`;
    if (!deadLetterPartitions.has(key)) {
      deadLetterPartitions.add(key);
      total.deadLetterDepth += depth.deadLetterDepth;
    }
  }
  return {
    groupId: group.groupId,
    config: { ...group.config },
    members: [...group.members.values()]
      .map((m) => ({ memberId: m.memberId, clientId: m.clientId, topics: [...m.topics], inFlight: group.heldBy(m.memberId), inFlightLimit: m.inFlightLimit }))
      .sort((a, b) => (a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0)),
    partitions,
    total,
  };
}

export async function describePartition(group: QueueGroup, queue: PartitionQueue, topics: QueueTopicsView, nowMs: number): Promise<QueuePartitionDescription> {
  const deadLetterTopic = queue.topic + group.config.deadLetterTopicSuffix;
  const counts = queue.counts(nowMs);
  const depth: QueueDepth = {
    ...emptyDepth(),
    inFlight: counts.inFlight,
    waitingForRetry: counts.waitingForRetry,
    deadLettered: queue.deadLettered,
    redeliveries: queue.redeliveries,
    skipped: queue.skipped,
  };
  let highWatermark = queue.startOffset;
  try {
    const view = topics.partition(queue.topic, queue.partition);
    highWatermark = view.highWatermark;
    depth.depth = Math.max(0, highWatermark - queue.startOffset - counts.done);
    const oldestOffset = Math.max(queue.startOffset, view.logStartOffset);
    if (depth.depth > 0 && oldestOffset < highWatermark) {
      const records = await readRecords(view, [oldestOffset], `describing queue group ${group.groupId}`);
      depth.oldestUnacknowledgedAgeMs = Math.max(0, nowMs - records.get(oldestOffset)!.timestampMs);
    }
  } catch {
    // The topic is gone (onTopicDeleted will forget it) or retention raced the read: no depth to report.
  }
  const deadLetterCount = topics.partitionCount(deadLetterTopic);
  if (deadLetterCount !== undefined && deadLetterCount > 0) {
    try {
      const view = topics.partition(deadLetterTopic, queue.partition % deadLetterCount);
      depth.deadLetterDepth = Math.max(0, view.highWatermark - view.logStartOffset);
    } catch {
      // Deleted meanwhile: nothing in it.
    }
  }
  return { topic: queue.topic, partition: queue.partition, startOffset: queue.startOffset, highWatermark, depth, deadLetterTopic };
}

function emptyDepth(): QueueDepth {
  return { depth: 0, inFlight: 0, waitingForRetry: 0, oldestUnacknowledgedAgeMs: 0, deadLetterDepth: 0, deadLettered: 0, redeliveries: 0, skipped: 0 };
}
