import { GroupNotFoundError, InvalidArgumentError, PartitionNotFoundError, TopicNotFoundError } from '../core/errors.js';
import { decodeRecordBatch, iterateBatches } from '../format/record-batch-codec.js';
import type { AdminServiceHandlers } from '../generated/strata/v1/AdminService.js';
import type { PartitionLag } from '../generated/strata/v1/PartitionLag.js';
import type { GroupCoordinator } from '../groups/group-coordinator.js';
import { validateGroupId } from '../groups/group-coordinator.js';
import type { OffsetStore } from '../groups/offset-store.js';
import type { LogManager } from '../storage/log-manager.js';
import { offsetFromProto } from './start-position.js';
import { unary } from './unary.js';


export type GroupAdminHandlers = Pick<AdminServiceHandlers, 'ListGroups' | 'DescribeGroup' | 'DeleteGroup' | 'ResetOffsets'>;

/** The operator's side of consumer groups, served by the AdminService: list, describe with lag, reset, delete. */
export function createGroupAdminHandlers(options: { coordinator: GroupCoordinator; offsets: OffsetStore; logs: LogManager; nowMs: () => number }): GroupAdminHandlers {
  const { coordinator, offsets, logs } = options;
  return {
    ListGroups: unary(async () => {
      const live = new Map(coordinator.listGroups().map((g) => [g.groupId, g]));
      const ids = [...new Set([...live.keys(), ...offsets.groupIds()])].sort();
      return { groups: ids.map((groupId) => ({ groupId, memberCount: live.get(groupId)?.memberCount ?? 0, groupEpoch: live.get(groupId)?.groupEpoch ?? 0 })) };
    }),

    DescribeGroup: unary(async (request) => {
      validateGroupId(request.groupId);
      const description = coordinator.describeGroup(request.groupId);
      const committed = offsets.fetch(request.groupId);
      if (!description && committed.size === 0) throw new GroupNotFoundError(`no group '${request.groupId}'`);
      const topics = new Set<string>([...committed.keys(), ...(description?.members.flatMap((m) => m.topics) ?? [])]);
      const lag: PartitionLag[] = [];
      for (const topic of [...topics].sort()) {
        const count = logs.partitionCount(topic);
        if (count === undefined) continue;
        for (let partition = 0; partition < count; partition++) {
          const log = logs.partition(topic, partition);
          const commit = committed.get(topic)?.get(partition);
          const committedOffset = commit?.offset ?? -1;
          const from = committedOffset >= 0 ? Math.max(committedOffset, log.logStartOffset) : log.logStartOffset;
          lag.push({
            topic,
            partition,
            committedOffset,
            logEndOffset: log.highWatermark,
            lagRecords: Math.max(0, log.highWatermark - from),
            lagMs: await ageOfRecordAt(log, from, options.nowMs()),
            ownerMemberId: coordinator.ownerOf(request.groupId, topic, partition) ?? '',
            sinceCommitMs: commit ? Math.max(0, options.nowMs() - commit.committedAtMs) : -1,
          });
        }
      }
      return {
        groupId: request.groupId,
        groupEpoch: description?.groupEpoch ?? 0,
        members: (description?.members ?? []).map(({ isStreamLost, ...m }) => ({ ...m, streamLost: isStreamLost })),
        lag,
        fencedMembers: description?.fencedMembers ?? [],
        rebalanceWindowMs: description?.rebalanceWindowMs ?? 0,
        recentChurn: description?.recentChurn ?? 0,
      };
    }),

    ResetOffsets: unary(async (request) => {
      validateGroupId(request.groupId);
      const count = logs.partitionCount(request.topic);
      if (count === undefined) throw new TopicNotFoundError(request.topic);
      const partitions = request.partitions.length > 0 ? request.partitions : Array.from({ length: count }, (_, p) => p);
      const committed = offsets.fetch(request.groupId, [request.topic]).get(request.topic);
      const changes = [];
      for (const partition of partitions) {
        if (partition >= count) throw new PartitionNotFoundError(request.topic, partition, count);
        const log = logs.partition(request.topic, partition);
        const previousOffset = committed?.get(partition)?.offset ?? -1;
        let newOffset: number;
        if (request.target === 'shiftBy') {
          newOffset = (previousOffset >= 0 ? previousOffset : log.logStartOffset) + request.shiftBy!;
        } else if (request.target === 'to' && request.to?.position) {
          const to = request.to;
          if (to.position === 'offset') newOffset = offsetFromProto(to.offset, 'to.offset');
          else if (to.position === 'timestampMs') newOffset = (await log.offsetForTimestamp(to.timestampMs!)) ?? log.highWatermark;
          else newOffset = to.point === 'START_POINT_EARLIEST' ? log.logStartOffset : log.highWatermark;
        } else {
          throw new InvalidArgumentError('a reset needs a target: to (earliest, latest, offset, timestamp) or shift_by');
        }
        // Clamped into the log, as Kafka's tool does.
        newOffset = Math.min(Math.max(newOffset, log.logStartOffset), log.highWatermark);
        changes.push({ topic: request.topic, partition, previousOffset, newOffset });
      }
      if (request.execute) {
        // Live members: fence their commits first (none may land after the reset), write the reset,
        // then tell each member to reload its offsets; they go on from there without a restart.
        coordinator.fenceOffsets(request.groupId);
        await offsets.reset(request.groupId, request.requestedBy || 'unknown', changes.map((c) => ({ topic: c.topic, partition: c.partition, offset: c.newOffset })));
        coordinator.notifyOffsetsReset(request.groupId);
      }
      return { changes, executed: request.execute };
    }),

    DeleteGroup: unary(async (request) => {
      validateGroupId(request.groupId);
      // As Kafka's GROUP_ID_NOT_FOUND: deleting what is not there is not a success to report.
      if (!coordinator.hasGroup(request.groupId) && !offsets.groupIds().includes(request.groupId)) throw new GroupNotFoundError(`no group '${request.groupId}'`);
      coordinator.deleteGroup(request.groupId);
      await offsets.deleteGroup(request.groupId);
      return {};
    }),
  };
}

/** How old the record at `offset` is (0 when there is none yet): the lag in time of a consumer there. */
async function ageOfRecordAt(log: ReturnType<LogManager['partition']>, offset: number, nowMs: number): Promise<number> {
  if (offset >= log.highWatermark) return 0;
  const { batches } = await log.read(offset, 1);
  for (const { position } of iterateBatches(batches)) {
    for (const record of decodeRecordBatch(batches, position).records) if (record.offset >= offset) return Math.max(0, nowMs - record.timestampMs);
  }
  return 0;
}
