import { decodeRecordBatch, iterateBatches } from '../format/index.js';
import type { PartitionQueue, WindowBatch } from './partition-queue.js';
import type { QueueCoordinatorDependencies, QueueDeliveredRecord, QueuePartitionView } from './queue-coordinator-api.js';
import { partitionKey, type QueueGroup, type QueueMember } from './queue-group.js';
import { heldWindowBytes, readWindowBatches } from './queue-log-reads.js';
import type { QueueStateChange } from './queue-state-changes.js';

/** One log read of a window fill asks for about this much. */
export const QUEUE_FILL_READ_BYTES = 256 * 1024;
/** A delivery (one gRPC message) carries batches of about this many bytes at most (at least one batch). */
export const QUEUE_MAX_DELIVERY_BYTES = 1024 * 1024;
/**
 * A member takes at least this many records (or all its free places, if fewer) from a partition in a
 * run, though its fair step over the partitions it reads is smaller: a delivery carries whole stored
 * batches and costs a gRPC message, so 100 places spread 13 to a partition over 8 partitions sent 8
 * messages of a whole batch each for 13 records. The partitions still take turns: the first rotates each run.
 */
export const QUEUE_MIN_DELIVERY_RECORDS = 64;

type Commit = (group: QueueGroup, changes: QueueStateChange[]) => Promise<void>;

interface PlannedDelivery {
  member: QueueMember;
  queue: PartitionQueue;
  records: QueueDeliveredRecord[];
  batches: WindowBatch[];
  sizeBytes: number;
}

/**
 * Hands a group's records to its members: fills the windows of the partitions its members read (a
 * 'reset' change first where the group has no state yet, at the configured start), picks records
 * round robin over partitions and members within each member's free places (its in-flight limit minus
 * what it holds), writes one 'acquire' per member and partition ('ack' under at-most-once) and, once
 * that is durable, reads the batches back from the log and calls the member's deliver().
 *
 * One run per group at a time (QueueGroup.isPumping); a wake-up during a run makes it run once more,
 * so any number of wake-ups (answers, new records, expiries, drains) cost one run each time it ends.
 */
export class QueueDeliveryPump {
  /** Groups whose last plan skipped a member because its deliveries were still on their way. */
  private readonly skippedGroups = new WeakSet<QueueGroup>();

  constructor(
    private readonly deps: Pick<QueueCoordinatorDependencies, 'topics' | 'clock' | 'logger'>,
    private readonly commit: Commit,
    private readonly isCurrent: (group: QueueGroup) => boolean,
    private readonly wake: (group: QueueGroup) => void,
    private readonly track: (work: Promise<unknown>) => void,
    private readonly onDeliverFailed: (memberId: string) => void,
  ) {}

  /** Runs the pump for `group` unless it is running (then it runs again when done). */
  schedule(group: QueueGroup): void {
    if (!this.isCurrent(group) || group.failure) return;
    if (group.isPumping) {
      group.isPumpRequested = true;
      return;
    }
    group.isPumping = true;
    this.track(this.run(group));
  }

  private async run(group: QueueGroup): Promise<void> {
    try {
      do {
        group.isPumpRequested = false;
        if (await this.pumpOnce(group)) group.isPumpRequested = true;
      } while (group.isPumpRequested && this.isCurrent(group) && !group.failure);
    } catch (error) {
      this.deps.logger?.warn({ groupId: group.groupId, err: error }, 'queue group: delivery pump failed');
    } finally {
      group.isPumping = false;
    }
  }

  /** One pass; true when it should run again at once (a window took records and could take more). */
  private async pumpOnce(group: QueueGroup): Promise<boolean> {
    const members = [...group.members.values()];
    if (members.length === 0) return false;
    this.ensurePartitions(group, members);
    const queues = this.queuesRead(group, members);
    const filled = await Promise.all(queues.map((queue) => this.fill(group, queue)));
    if (!this.isCurrent(group) || group.failure) return false;
    const deliveries = this.plan(group, queues);
    if (deliveries.length > 0) {
      // The first partition and member rotate per run that handed something out (runs that found
      // nothing to do would otherwise turn the rotation in step with some wake-up pattern).
      group.pumpRound++;
      const nowMs = this.deps.clock.nowMs();
      const isAtMostOnce = group.config.delivery === 'at-most-once';
      const changes: QueueStateChange[] = deliveries.map(({ member, queue, records }) => {
        const offsets = records.map((r) => r.offset);
        return isAtMostOnce
          ? { type: 'ack', groupId: group.groupId, topic: queue.topic, partition: queue.partition, offsets, atMs: nowMs }
          : { type: 'acquire', groupId: group.groupId, topic: queue.topic, partition: queue.partition, offsets, memberId: member.memberId, lockDeadlineMs: records[0]!.lockDeadlineMs, atMs: nowMs };
      });
      const written = this.commit(group, changes);
      this.track(this.send(group, deliveries, written));
    }
    return filled.some((taken) => taken > 0);
  }

  /** A 'reset' to the configured start for each partition of the members' topics the group has no state for. */
  private ensurePartitions(group: QueueGroup, members: readonly QueueMember[]): void {
    const changes: QueueStateChange[] = [];
    const nowMs = this.deps.clock.nowMs();
    for (const topic of new Set(members.flatMap((m) => m.topics))) {
      const count = this.deps.topics.partitionCount(topic) ?? 0;
      for (let partition = 0; partition < count; partition++) {
        if (group.partitionQueue(topic, partition)) continue;
        let view: QueuePartitionView;
        try {
          view = this.deps.topics.partition(topic, partition);
        } catch {
          continue; // deleted meanwhile
        }
        const startOffset = group.config.start === 'latest' ? view.highWatermark : view.logStartOffset;
        changes.push({ type: 'reset', groupId: group.groupId, topic, partition, startOffset, atMs: nowMs });
      }
    }
    if (changes.length > 0) void this.commit(group, changes).catch(() => undefined);
  }

  private queuesRead(group: QueueGroup, members: readonly QueueMember[]): PartitionQueue[] {
    const topics = new Set(members.flatMap((m) => m.topics));
    return group.partitionQueues().filter((queue) => topics.has(queue.topic));
  }

  /** Reads the log into the window's free room; returns how many records it took. */
  private async fill(group: QueueGroup, queue: PartitionQueue): Promise<number> {
    let view: QueuePartitionView;
    try {
      view = this.deps.topics.partition(queue.topic, queue.partition);
    } catch {
      return 0; // deleted: onTopicDeleted forgets it
    }
    this.listen(group, queue, view);
    if (view.logStartOffset > queue.startOffset) {
      queue.skipTo(view.logStartOffset);
      this.wake(group); // places freed; the timer may have less to do
    }
    const fromOffset = queue.fetchOffset;
    if (!queue.wantsRecords() || fromOffset >= view.highWatermark) return 0;
    const generation = queue.generation;
    let batches: Buffer;
    try {
      ({ batches } = await view.read(fromOffset, QUEUE_FILL_READ_BYTES));
    } catch (error) {
      this.deps.logger?.warn({ groupId: group.groupId, topic: queue.topic, partition: queue.partition, fromOffset, err: error }, 'queue group: reading the log failed');
      return 0;
    }
    if (queue.generation !== generation || queue.fetchOffset !== fromOffset || group.partitionQueue(queue.topic, queue.partition) !== queue) return 0;
    const isKeyOrdered = group.config.ordering === 'key';
    let taken = 0;
    try {
      for (const { position, header } of iterateBatches(batches)) {
        const lastOffset = header.baseOffset + header.lastOffsetDelta;
        if (lastOffset < queue.fetchOffset) continue;
        let keys: Map<number, Buffer | null> | undefined;
        if (isKeyOrdered) {
          keys = new Map();
          for (const record of decodeRecordBatch(batches, position).records) keys.set(record.offset, record.key);
        }
        taken += queue.addBatch({ baseOffset: header.baseOffset, lastOffset, sizeBytes: header.sizeBytes }, keys, batches.subarray(position, position + header.sizeBytes));
        if (queue.windowRoom() <= 0) break;
      }
    } catch (error) {
      // A batch that does not decode stops this partition at it (what was taken before it stands), not the group.
      this.deps.logger?.warn({ groupId: group.groupId, topic: queue.topic, partition: queue.partition, fromOffset: queue.fetchOffset, err: error }, 'queue group: a batch in the log could not be read');
    }
    return taken;
  }

  private listen(group: QueueGroup, queue: PartitionQueue, view: QueuePartitionView): void {
    const key = partitionKey(queue.topic, queue.partition);
    if (group.listeners.has(key) || !view.onHighWatermark) return;
    group.listeners.set(key, view.onHighWatermark(() => {
      if (group.members.size > 0) this.schedule(group);
    }));
  }

  /**
   * Picks records: rounds over the partitions (the first rotating each run), each giving every member
   * that reads it (the first rotating too) up to its fair step: its free places over the partitions it
   * reads, but at least QUEUE_MIN_DELIVERY_RECORDS of them (fewer, fuller deliveries). A delivery
   * stops at QUEUE_MAX_DELIVERY_BYTES of batches; the rest waits for the next run.
   */
  private plan(group: QueueGroup, queues: readonly PartitionQueue[]): PlannedDelivery[] {
    const nowMs = this.deps.clock.nowMs();
    const isAtMostOnce = group.config.delivery === 'at-most-once';
    const lockDeadlineMs = isAtMostOnce ? 0 : nowMs + group.config.lockDurationMs;
    const members = rotate([...group.members.values()].filter((m) => m.isReady), group.pumpRound);
    const free = new Map<QueueMember, number>();
    const step = new Map<QueueMember, number>();
    let hasSkipped = false;
    for (const member of members) {
      // A member whose last deliveries are not handed to its stream yet gets nothing more now: its
      // stream's write() has not said whether it takes more (a member that stops reading would
      // otherwise have its whole in-flight limit acquired, read and queued in the server, pass after
      // pass). send() runs the pump again once they are handed over.
      if (member.undelivered > 0) {
        hasSkipped = true;
        continue;
      }
      // At-most-once records are done as they are handed out: what bounds a member then is what it was not sent yet.
      const places = member.inFlightLimit - (isAtMostOnce ? member.undelivered : group.heldBy(member.memberId));
      if (places <= 0) continue;
      free.set(member, places);
      const partitionsRead = queues.filter((q) => member.topics.includes(q.topic)).length;
      step.set(member, Math.max(Math.min(places, QUEUE_MIN_DELIVERY_RECORDS), Math.ceil(places / Math.max(1, partitionsRead))));
    }
    if (free.size === 0) {
      if (hasSkipped && this.hasRecordsLeft(group, queues, new Map(), nowMs)) this.skippedGroups.add(group);
      return [];
    }
    const ordered = rotate(queues, group.pumpRound);
    const candidates = new Map<PartitionQueue, { offsets: number[]; next: number; wanted: number }>();
    for (const queue of ordered) {
      let wanted = 0;
      for (const [member, places] of free) if (member.topics.includes(queue.topic)) wanted += places;
      if (wanted > 0) candidates.set(queue, { offsets: queue.acquirable(nowMs, group.config.ordering === 'key', wanted), next: 0, wanted });
    }
    const planned = new Map<string, PlannedDelivery>();
    const full = new Set<string>();
    for (let isProgress = true; isProgress; ) {
      isProgress = false;
      for (const queue of ordered) {
        const candidate = candidates.get(queue);
        if (!candidate) continue;
        for (const member of members) {
          if (candidate.next >= candidate.offsets.length) break;
          const places = free.get(member) ?? 0;
          if (places <= 0 || !member.topics.includes(queue.topic)) continue;
          const key = `${member.memberId}\u0000${partitionKey(queue.topic, queue.partition)}`;
          if (full.has(key)) continue;
          let delivery = planned.get(key);
          if (!delivery) planned.set(key, (delivery = { member, queue, records: [], batches: [], sizeBytes: 0 }));
          let take = Math.min(step.get(member)!, places);
          while (take > 0 && candidate.next < candidate.offsets.length) {
            const offset = candidate.offsets[candidate.next]!;
            const batch = queue.batchOf(offset)!;
            // The same stored batch may be two window batches (the window's room cut it): it is sent once.
            const isNewBatch = delivery.batches[delivery.batches.length - 1]?.baseOffset !== batch.baseOffset;
            if (isNewBatch && delivery.records.length > 0 && delivery.sizeBytes + batch.sizeBytes > QUEUE_MAX_DELIVERY_BYTES) {
              full.add(key);
              group.isPumpRequested = true;
              break;
            }
            if (isNewBatch) {
              delivery.batches.push(batch);
              delivery.sizeBytes += batch.sizeBytes;
            }
            delivery.records.push({ offset, deliveryCount: (queue.get(offset)?.deliveryCount ?? 0) + 1, lockDeadlineMs });
            candidate.next++;
            take--;
            free.set(member, free.get(member)! - 1);
            member.undelivered++;
            isProgress = true;
          }
        }
      }
    }
    // Records left (or maybe left: as many were there as were asked for) that a skipped member could
    // have taken: send() runs the pump again for them.
    if (hasSkipped && this.hasRecordsLeft(group, queues, candidates, nowMs)) this.skippedGroups.add(group);
    return [...planned.values()].filter((d) => d.records.length > 0);
  }

  /** Whether records may be left after a plan: past what was planned, or as many as were asked for (more may wait). */
  private hasRecordsLeft(group: QueueGroup, queues: readonly PartitionQueue[], candidates: ReadonlyMap<PartitionQueue, { offsets: number[]; next: number; wanted: number }>, nowMs: number): boolean {
    return queues.some((queue) => {
      const candidate = candidates.get(queue);
      if (candidate) return candidate.next < candidate.offsets.length || candidate.offsets.length >= candidate.wanted;
      return queue.acquirable(nowMs, group.config.ordering === 'key', 1).length > 0;
    });
  }

  /** After the acquisitions are durable: each delivery's batches read back and handed to its member, if it is still there. */
  private async send(group: QueueGroup, deliveries: readonly PlannedDelivery[], written: Promise<void>): Promise<void> {
    try {
      await written;
    } catch {
      for (const { member, records } of deliveries) member.undelivered -= records.length;
      return; // the group is failed; nothing was promised to anyone
    }
    for (const { member, queue, records, batches } of deliveries) {
      try {
        await this.sendOne(group, member, queue, records, batches);
      } finally {
        member.undelivered -= records.length;
      }
    }
    // Members skipped while these were on their way (see plan()) may take more now.
    if (this.skippedGroups.delete(group) || group.config.delivery === 'at-most-once') this.schedule(group);
  }

  private async sendOne(group: QueueGroup, member: QueueMember, queue: PartitionQueue, records: QueueDeliveredRecord[], batches: WindowBatch[]): Promise<void> {
    {
      if (group.members.get(member.memberId) !== member) return; // it left: its records were released
      // The window holds the batches it was filled from (within its bounds): the log is read only for those it let go.
      let bytes = heldWindowBytes(batches);
      if (!bytes) {
        try {
          const view = this.deps.topics.partition(queue.topic, queue.partition);
          bytes = await readWindowBatches(view, batches, `queue group ${group.groupId} delivering ${queue.topic}-${queue.partition}`);
        } catch (error) {
          // The records stay acquired; their locks expire and they are tried again (or skipped, if retention took them).
          this.deps.logger?.warn({ groupId: group.groupId, topic: queue.topic, partition: queue.partition, err: error }, 'queue group: reading records for a delivery failed');
          return;
        }
        if (group.members.get(member.memberId) !== member) return;
      }
      let isWritable: boolean | void;
      try {
        isWritable = member.deliver({ topic: queue.topic, partition: queue.partition, batches: bytes, records });
      } catch (error) {
        // A stream that cannot take a delivery is broken: the member goes, and what it holds comes back at once.
        this.deps.logger?.warn({ groupId: group.groupId, memberId: member.memberId, err: error }, 'queue group: deliver() threw; the member is dropped');
        this.onDeliverFailed(member.memberId);
        return;
      }
      if (isWritable === false) member.isReady = false;
    }
  }
}

function rotate<T>(items: readonly T[], by: number): T[] {
  if (items.length === 0) return [];
  const start = by % items.length;
  return [...items.slice(start), ...items.slice(0, start)];
}
