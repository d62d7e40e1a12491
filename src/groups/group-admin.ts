import { GroupNotFoundError, InvalidArgumentError, PartitionNotFoundError, TopicNotFoundError } from '../core/errors.js';
import type { GroupDescription } from './group-description.js';
import { type GroupCoordinator, validateGroupId } from './group-coordinator.js';
import { resetOffsetFor, type ResetTarget } from './offset-reset.js';
import type { OffsetStore } from './offset-store.js';
import { ageOfRecordAt, lagRecords, nextOffsetToRead, type PartitionLag } from './partition-lag.js';
import type { PartitionView, TopicLogsView } from './topics-view.js';

/** Lag reads (one record each, for its timestamp) a describe runs at once. */
const LAG_READ_CONCURRENCY = 8;

export interface GroupSummary {
  groupId: string;
  memberCount: number;
  groupEpoch: number;
}

/** A group as an operator sees it: membership (empty for a group with only offsets) and lag per partition. */
export interface GroupAdminDescription extends GroupDescription {
  lag: PartitionLag[];
}

export interface ResetOffsetsRequest {
  groupId: string;
  topic: string;
  /** Empty: every partition of the topic. */
  partitions: readonly number[];
  /** Undefined: the request named none (refused). */
  target: ResetTarget | undefined;
  /** False: a dry run that only says what would change. */
  execute: boolean;
  /** Who asked, on record in __consumer_offsets ('' is 'unknown'). */
  requestedBy: string;
}

export interface OffsetChange {
  topic: string;
  partition: number;
  /** -1: nothing was committed. */
  previousOffset: number;
  newOffset: number;
}

/**
 * The operator's side of consumer groups (Kafka's kafka-consumer-groups): list, describe with lag,
 * reset offsets, delete. Live membership is the coordinator's, committed offsets the offset store's,
 * and topics are seen through a read-only view, so this never touches a log directly.
 */
export class GroupAdmin {
  constructor(
    private readonly options: {
      coordinator: GroupCoordinator;
      offsets: OffsetStore;
      topics: TopicLogsView;
      nowMs: () => number;
    },
  ) {}

  /** Live groups and groups with only committed offsets (Kafka's "Empty"), by id. */
  listGroups(): GroupSummary[] {
    const { coordinator, offsets } = this.options;
    const live = new Map(coordinator.listGroups().map((g) => [g.groupId, g]));
    const ids = [...new Set([...live.keys(), ...offsets.groupIds()])].sort();
    return ids.map((groupId) => ({ groupId, memberCount: live.get(groupId)?.memberCount ?? 0, groupEpoch: live.get(groupId)?.groupEpoch ?? 0 }));
  }

  /**
   * Membership and, for every partition of every topic the group committed to or subscribes to, its
   * lag. GroupNotFoundError when the group has neither members nor offsets.
   */
  async describeGroup(groupId: string): Promise<GroupAdminDescription> {
    const { coordinator, offsets, topics } = this.options;
    validateGroupId(groupId);
    const description = coordinator.describeGroup(groupId);
    const committed = offsets.fetch(groupId);
    if (!description && committed.size === 0) throw new GroupNotFoundError(`no group '${groupId}'`);
    const subscribed = new Set<string>([...committed.keys(), ...(description?.members.flatMap((m) => m.topics) ?? [])]);
    const pending: Array<{ topic: string; partition: number; log: PartitionView; commit: { offset: number; committedAtMs: number } | undefined }> = [];
    for (const topic of [...subscribed].sort()) {
      const count = topics.partitionCount(topic);
      if (count === undefined) continue;
      for (let partition = 0; partition < count; partition++) pending.push({ topic, partition, log: topics.partition(topic, partition), commit: committed.get(topic)?.get(partition) });
    }
    // The lag in time reads a record per lagging partition: a few reads at once, so a group on
    // thousands of partitions (a metrics scrape describes every group) does not wait for each in turn.
    const lag = new Array<PartitionLag>(pending.length);
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < pending.length; i = next++) {
        const { topic, partition, log, commit } = pending[i]!;
        const committedOffset = commit?.offset ?? -1;
        lag[i] = {
          topic,
          partition,
          committedOffset,
          logEndOffset: log.highWatermark,
          lagRecords: lagRecords(committedOffset, log),
          lagMs: await ageOfRecordAt(log, nextOffsetToRead(committedOffset, log.logStartOffset), this.options.nowMs()),
          ownerMemberId: coordinator.ownerOf(groupId, topic, partition) ?? '',
          sinceCommitMs: commit ? Math.max(0, this.options.nowMs() - commit.committedAtMs) : -1,
        };
      }
    };
    await Promise.all(Array.from({ length: Math.min(LAG_READ_CONCURRENCY, pending.length) }, worker));
    return {
      groupId,
      groupEpoch: description?.groupEpoch ?? 0,
      members: description?.members ?? [],
      lag,
      fencedMembers: description?.fencedMembers ?? [],
      rebalanceWindowMs: description?.rebalanceWindowMs ?? 0,
      recentChurn: description?.recentChurn ?? 0,
    };
  }

  /**
   * What a reset changes, per partition; written only with `execute`. Live members go on without a
   * restart: their commits are fenced first (none may land after the reset), the reset is written,
   * then each is told to reload its offsets.
   */
  async resetOffsets(request: ResetOffsetsRequest): Promise<{ changes: OffsetChange[]; executed: boolean }> {
    const { coordinator, offsets, topics } = this.options;
    validateGroupId(request.groupId);
    const count = topics.partitionCount(request.topic);
    if (count === undefined) throw new TopicNotFoundError(request.topic);
    const partitions = request.partitions.length > 0 ? request.partitions : Array.from({ length: count }, (_, p) => p);
    const committed = offsets.fetch(request.groupId, [request.topic]).get(request.topic);
    const changes: OffsetChange[] = [];
    for (const partition of partitions) {
      if (partition >= count) throw new PartitionNotFoundError(request.topic, partition, count);
      const log = topics.partition(request.topic, partition);
      const previousOffset = committed?.get(partition)?.offset ?? -1;
      if (request.target === undefined) throw new InvalidArgumentError('a reset needs a target: to (earliest, latest, offset, timestamp) or shift_by');
      changes.push({ topic: request.topic, partition, previousOffset, newOffset: await resetOffsetFor(request.target, previousOffset, log) });
    }
    if (request.execute) {
      // The look-ups above wait on the log: a topic deleted meanwhile (its offsets already forgotten)
      // must not get offsets back. From here to the write being queued nothing waits, so a delete
      // either happened before (refused here) or forgets this reset after it.
      for (const change of changes) topics.partition(request.topic, change.partition);
      const offsetsEpoch = coordinator.fenceOffsets(request.groupId);
      try {
        await offsets.reset(request.groupId, request.requestedBy || 'unknown', changes.map((c) => ({ topic: c.topic, partition: c.partition, offset: c.newOffset })));
      } finally {
        // Also after a failed write: members stay fenced until they are told the new epoch.
        coordinator.notifyOffsetsReset(request.groupId, offsetsEpoch);
      }
    }
    return { changes, executed: request.execute };
  }

  /** Forgets a group with no members, and its offsets. GroupNotFoundError for a group that is not there (Kafka's GROUP_ID_NOT_FOUND). */
  async deleteGroup(groupId: string): Promise<void> {
    const { coordinator, offsets } = this.options;
    validateGroupId(groupId);
    if (!coordinator.hasGroup(groupId) && !offsets.groupIds().includes(groupId)) throw new GroupNotFoundError(`no group '${groupId}'`);
    coordinator.deleteGroup(groupId);
    await offsets.deleteGroup(groupId);
  }
}
