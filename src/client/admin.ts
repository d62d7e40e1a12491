import type { AdminServiceClient } from '../generated/strata/v1/AdminService.js';
import type { DescribeGroupResponse__Output } from '../generated/strata/v1/DescribeGroupResponse.js';
import type { FencedMember__Output } from '../generated/strata/v1/FencedMember.js';
import type { GroupMember__Output } from '../generated/strata/v1/GroupMember.js';
import type { GroupSummary__Output } from '../generated/strata/v1/GroupSummary.js';
import type { OffsetChange__Output } from '../generated/strata/v1/OffsetChange.js';
import type { PartitionDescription__Output } from '../generated/strata/v1/PartitionDescription.js';
import type { PartitionLag__Output } from '../generated/strata/v1/PartitionLag.js';
import type { ResetOffsetsRequest } from '../generated/strata/v1/ResetOffsetsRequest.js';
import type { ResetOffsetsResponse__Output } from '../generated/strata/v1/ResetOffsetsResponse.js';
import type { PartitionOffset__Output } from '../generated/strata/v1/PartitionOffset.js';
import type { PartitionPurge } from '../generated/strata/v1/PartitionPurge.js';
import type { PartitionPurgeResult__Output } from '../generated/strata/v1/PartitionPurgeResult.js';
import type { PurgeRecordsResponse__Output } from '../generated/strata/v1/PurgeRecordsResponse.js';
import type { StartPosition } from '../generated/strata/v1/StartPosition.js';
import type { TopicDescription__Output } from '../generated/strata/v1/TopicDescription.js';
import type { AlterTopicConfigResponse__Output } from '../generated/strata/v1/AlterTopicConfigResponse.js';
import type { TopicConfigChange__Output } from '../generated/strata/v1/TopicConfigChange.js';
import type { TopicSummary__Output } from '../generated/strata/v1/TopicSummary.js';
import type { DescribeQueueGroupResponse__Output } from '../generated/strata/v1/DescribeQueueGroupResponse.js';
import type { QueueDepth__Output } from '../generated/strata/v1/QueueDepth.js';
import type { QueueGroupSummary__Output } from '../generated/strata/v1/QueueGroupSummary.js';
import type { QueueMemberDescription__Output } from '../generated/strata/v1/QueueMemberDescription.js';
import type { QueuePartitionDescription__Output } from '../generated/strata/v1/QueuePartitionDescription.js';
import type { QueueServiceClient } from '../generated/strata/v1/QueueService.js';
import { systemClock } from '../core/clock.js';
import { InvalidArgumentError } from '../core/errors.js';
import { StrataClientError } from './client-error.js';
import { checkQueueConfig, fromProtoConfig, toProtoConfig, type QueueGroupConfigOptions, type QueueGroupConfigValues } from './queue-options.js';

export type OffsetSpec = 'earliest' | 'latest' | { timestampMs: number };

// What Admin's methods return: the messages of the AdminService as the client decodes them (64-bit
// integers as numbers, defaults filled in), under the names the README uses.
export type TopicDescription = TopicDescription__Output;
export type PartitionDescription = PartitionDescription__Output;
export type TopicSummary = TopicSummary__Output;
/** One key an alterTopicConfig named: effective value before and after, and whether each was an override. */
export type TopicConfigChange = TopicConfigChange__Output;
/** The topic after the change (with validateOnly: its config as it would be) and one change per key named. */
export interface AlterTopicConfigResult extends Omit<AlterTopicConfigResponse__Output, 'topic'> {
  topic: TopicDescription;
}

export interface AlterTopicConfigOptions {
  /** Keys to override, with their new values (`{ 'retention.ms': '60000' }`; numbers are taken too). */
  set?: Record<string, string | number>;
  /** Keys whose override goes: they return to their defaults. */
  delete?: string[];
  /** Check and answer what would change, changing nothing (a dry run). Default false. */
  validateOnly?: boolean;
}
export type PartitionOffset = PartitionOffset__Output;
export type GroupSummary = GroupSummary__Output;
/** Members, assignments, fenced members, and per partition the committed offset and the lag. */
export type GroupDescription = DescribeGroupResponse__Output;
export type GroupMemberDescription = GroupMember__Output;
export type FencedMemberDescription = FencedMember__Output;
export type PartitionLag = PartitionLag__Output;
export type OffsetChange = OffsetChange__Output;
export type ResetOffsetsResult = ResetOffsetsResponse__Output;
export type QueueGroupSummary = QueueGroupSummary__Output;
export type QueueMemberDescription = QueueMemberDescription__Output;
/** Per partition: start offset (everything below is done), high watermark, depth, dead-letter topic. */
export type QueuePartitionDescription = QueuePartitionDescription__Output;
/** Depth (not yet acknowledged or dead-lettered), in flight, waiting for retry, oldest unacknowledged age, dead-letter depth. */
export type QueueDepth = QueueDepth__Output;
/** A queue group: its configuration, members, and per partition and in total its depth. */
export interface QueueGroupDescription extends Omit<DescribeQueueGroupResponse__Output, 'config' | 'total'> {
  config: QueueGroupConfigValues | undefined;
  total: QueueDepth;
}
/** Where resetQueueGroup moves a group's start offset: the log start or end, an offset, the first record at or after a time. */
export type QueueResetSpec = OffsetSpec | number;

/**
 * Where resetOffsets moves a group's committed offsets (as kafka-consumer-groups --reset-offsets):
 * the log start or end, an offset (clamped to the log), the first record at or after a time, or by
 * a number of records from the committed offset (the log start without one; negative goes back).
 */
export type OffsetResetSpec = 'earliest' | 'latest' | { offset: number } | { timestampMs: number } | { shiftBy: number };

export interface ResetOffsetsOptions {
  topic: string;
  to: OffsetResetSpec;
  /** Default: every partition of the topic. */
  partitions?: number[];
  /** Apply the plan; without it, nothing changes and the result says what would (a dry run). Default false. */
  execute?: boolean;
  /** Who asked, kept with the reset in __consumer_offsets (the CLI sends user@host). */
  requestedBy?: string;
}

/** Per partition: the log start before, after (or that it would have, when only validated), and the records between. */
export type PartitionPurgeResult = PartitionPurgeResult__Output;
export type PurgeRecordsResult = PurgeRecordsResponse__Output;

/** Where a purge ends in a partition: exclusive (the records below it go), or 'all' (every record readable now). */
export type PurgeBefore = number | 'all';

export interface PurgeRecordsOptions {
  /** One end for every partition named, or an end per partition (then `partitions` is not given). */
  before: PurgeBefore | Readonly<Record<number, PurgeBefore>>;
  /** Default: every partition of the topic. */
  partitions?: number[];
  /** Check and answer what would go, changing nothing (a dry run). Default false. */
  validateOnly?: boolean;
}

function purgeToProto(partition: number, before: PurgeBefore): PartitionPurge {
  if (before === 'all') return { partition, all: true };
  if (!Number.isSafeInteger(before) || before < 0) throw new InvalidArgumentError(`partition ${partition}: before must be an integer >= 0 or 'all', got ${String(before)}`);
  return { partition, beforeOffset: before };
}

/** How long a unary call may take before it fails with DEADLINE_EXCEEDED, unless told otherwise. */
export const DEFAULT_CALL_TIMEOUT_MS = 30_000;

/**
 * A unary call as a promise, with a deadline (a server that stops answering cannot hold a caller
 * forever); failures become StrataClientError.
 */
export function call<Req, Res>(method: (request: Req, callback: (error: unknown, response?: Res) => void) => unknown, request: Req, timeoutMs = DEFAULT_CALL_TIMEOUT_MS): Promise<Res> {
  // Generated unary methods also take (request, options, callback); the two-argument form above is
  // what TypeScript infers the response type from (the last overload).
  const withOptions = method as unknown as (request: Req, options: { deadline: Date }, callback: (error: unknown, response?: Res) => void) => unknown;
  return new Promise<Res>((resolve, reject) => {
    // grpc-js throws at once on a closed client ("Channel has been shut down"): the same typed error as any failure.
    try {
      // The deadline is grpc-js's: its own timer on the real clock ends the call, so it is read from
      // the system clock whatever clock the client was given (a manual one would end every call at once).
      withOptions(request, { deadline: new Date(systemClock.nowMs() + timeoutMs) }, (error, response) => (error ? reject(StrataClientError.fromServiceError(error)) : resolve(response!)));
    } catch (error) {
      reject(StrataClientError.fromServiceError(error));
    }
  });
}

export function startPositionToProto(spec: OffsetSpec | number): StartPosition {
  if (typeof spec === 'number') return { offset: spec };
  if (spec === 'earliest') return { point: 'START_POINT_EARLIEST' };
  if (spec === 'latest') return { point: 'START_POINT_LATEST' };
  return { timestampMs: spec.timestampMs };
}

function resetTargetToProto(spec: OffsetResetSpec): Pick<ResetOffsetsRequest, 'to' | 'shiftBy'> {
  if (spec === 'earliest' || spec === 'latest') return { to: startPositionToProto(spec) };
  if ('shiftBy' in spec) {
    if (!Number.isSafeInteger(spec.shiftBy)) throw new InvalidArgumentError(`shiftBy must be an integer, got ${spec.shiftBy}`);
    return { shiftBy: spec.shiftBy };
  }
  if ('offset' in spec) {
    if (!Number.isSafeInteger(spec.offset) || spec.offset < 0) throw new InvalidArgumentError(`offset must be an integer >= 0, got ${spec.offset}`);
    return { to: { offset: spec.offset } };
  }
  if (!Number.isSafeInteger(spec.timestampMs)) throw new InvalidArgumentError(`timestampMs must be an integer, got ${spec.timestampMs}`);
  return { to: { timestampMs: spec.timestampMs } };
}

/** The Admin service, one method per RPC. */
export class Admin {
  constructor(
    private readonly stub: AdminServiceClient,
    private readonly callTimeoutMs = DEFAULT_CALL_TIMEOUT_MS,
    /** The QueueService, for the queue group methods. */
    private readonly queueStub?: QueueServiceClient,
  ) {}

  async createTopic(topic: string, options: { partitions: number; config?: Record<string, string> }): Promise<TopicDescription> {
    const response = await call(this.stub.createTopic.bind(this.stub), { topic, partitionCount: options.partitions, config: options.config ?? {} }, this.callTimeoutMs);
    return response.topic!;
  }

  async deleteTopic(topic: string): Promise<void> {
    await call(this.stub.deleteTopic.bind(this.stub), { topic }, this.callTimeoutMs);
  }

  async listTopics(): Promise<TopicSummary[]> {
    return (await call(this.stub.listTopics.bind(this.stub), {}, this.callTimeoutMs)).topics;
  }

  async describeTopic(topic: string): Promise<TopicDescription> {
    return (await call(this.stub.describeTopic.bind(this.stub), { topic }, this.callTimeoutMs)).topic!;
  }

  async createPartitions(topic: string, partitions: number): Promise<TopicDescription> {
    return (await call(this.stub.createPartitions.bind(this.stub), { topic, partitionCount: partitions }, this.callTimeoutMs)).topic!;
  }

  /**
   * Changes a topic's configuration while it runs: validated as at creation (the resulting config as
   * a whole), durable before the answer, applied without a restart. INVALID_CONFIG for an unknown key
   * or a bad value, INTERNAL_TOPIC for `__*` topics, TOPIC_NOT_FOUND, INVALID_ARGUMENT for nothing to change.
   */
  async alterTopicConfig(topic: string, options: AlterTopicConfigOptions): Promise<AlterTopicConfigResult> {
    const set = Object.fromEntries(Object.entries(options.set ?? {}).map(([key, value]) => [key, String(value)]));
    const request = { topic, set, delete: options.delete ?? [], validateOnly: options.validateOnly ?? false };
    const response = await call(this.stub.alterTopicConfig.bind(this.stub), request, this.callTimeoutMs);
    return { topic: response.topic!, changes: response.changes };
  }

  /** Earliest, latest, or the first offset at or after a time, per partition (all by default). */
  async listOffsets(topic: string, spec: OffsetSpec, partitions: number[] = []): Promise<PartitionOffset[]> {
    return (await call(this.stub.listOffsets.bind(this.stub), { topic, partitions, position: startPositionToProto(spec) }, this.callTimeoutMs)).offsets;
  }

  async listGroups(): Promise<GroupSummary[]> {
    return (await call(this.stub.listGroups.bind(this.stub), {}, this.callTimeoutMs)).groups;
  }

  /** Members and their partitions, fenced members, and per partition the committed offset, log end offset and lag. */
  async describeGroup(groupId: string): Promise<GroupDescription> {
    return call(this.stub.describeGroup.bind(this.stub), { groupId }, this.callTimeoutMs);
  }

  /**
   * Moves the group's committed offsets of a topic: a dry run (the plan) unless `execute` is set.
   * On a live group too: its members' in-flight commits are fenced and they resume from the new offsets.
   */
  async resetOffsets(groupId: string, options: ResetOffsetsOptions): Promise<ResetOffsetsResult> {
    const request: ResetOffsetsRequest = {
      groupId,
      topic: options.topic,
      partitions: options.partitions ?? [],
      ...resetTargetToProto(options.to),
      execute: options.execute ?? false,
      requestedBy: options.requestedBy ?? '',
    };
    return call(this.stub.resetOffsets.bind(this.stub), request, this.callTimeoutMs);
  }

  /**
   * Deletes the records below an offset in a topic's partitions (Kafka's deleteRecords): their log
   * start offsets move forward, durably, and readers below them get OFFSET_OUT_OF_RANGE (group members
   * then start again per their reset policy). Every partition is checked first: an unknown partition,
   * an internal topic or an offset past the high watermark (OFFSET_OUT_OF_RANGE) refuses the whole
   * request unchanged. An offset at or below a partition's log start changes nothing there.
   */
  async purgeRecords(topic: string, options: PurgeRecordsOptions): Promise<PurgeRecordsResult> {
    const { before } = options;
    let purges: PartitionPurge[];
    if (typeof before === 'object') {
      if (options.partitions) throw new InvalidArgumentError('purgeRecords takes partitions, or before per partition, not both');
      purges = Object.entries(before).map(([partition, end]) => purgeToProto(Number(partition), end));
    } else {
      const partitions = options.partitions ?? (await this.describeTopic(topic)).partitions.map((p) => p.partition);
      purges = partitions.map((partition) => purgeToProto(partition, before));
    }
    return call(this.stub.purgeRecords.bind(this.stub), { topic, partitions: purges, validateOnly: options.validateOnly ?? false }, this.callTimeoutMs);
  }

  /** Deletes a group with no live members, and its committed offsets (GROUP_NOT_EMPTY otherwise). */
  async deleteGroup(groupId: string): Promise<void> {
    await call(this.stub.deleteGroup.bind(this.stub), { groupId }, this.callTimeoutMs);
  }

  // Queue groups (QueueService).

  async listQueueGroups(): Promise<QueueGroupSummary[]> {
    const stub = this.queues();
    return (await call(stub.listQueueGroups.bind(stub), {}, this.callTimeoutMs)).groups;
  }

  /** Configuration, members, and depth per partition and in total (QUEUE_GROUP_NOT_FOUND for an unknown group). */
  async describeQueueGroup(groupId: string): Promise<QueueGroupDescription> {
    const stub = this.queues();
    const response = await call(stub.describeQueueGroup.bind(stub), { groupId }, this.callTimeoutMs);
    const total = response.total ?? { depth: 0, inFlight: 0, waitingForRetry: 0, oldestUnacknowledgedAgeMs: 0, deadLetterDepth: 0, deadLettered: 0, redeliveries: 0 };
    return { ...response, config: fromProtoConfig(response.config), total };
  }

  /** Changes the given values of a group's configuration; returns the configuration in force. */
  async alterQueueGroupConfig(groupId: string, config: QueueGroupConfigOptions): Promise<QueueGroupConfigValues> {
    checkQueueConfig(config);
    if (Object.values(config).every((value) => value === undefined)) throw new InvalidArgumentError('alterQueueGroupConfig needs at least one value to change');
    const stub = this.queues();
    const response = await call(stub.alterQueueGroupConfig.bind(stub), { groupId, config: toProtoConfig(config) }, this.callTimeoutMs);
    return fromProtoConfig(response.config)!;
  }

  /** Moves a group's start offset in a topic's partitions (all by default); refused while it has members (QUEUE_GROUP_NOT_EMPTY). */
  async resetQueueGroup(groupId: string, topic: string, to: QueueResetSpec, partitions: number[] = []): Promise<QueuePartitionDescription[]> {
    if (typeof to === 'number' && (!Number.isSafeInteger(to) || to < 0)) throw new InvalidArgumentError(`offset must be an integer >= 0, got ${to}`);
    const stub = this.queues();
    return (await call(stub.resetQueueGroup.bind(stub), { groupId, topic, partitions, to: startPositionToProto(to) }, this.callTimeoutMs)).partitions;
  }

  /** Forgets a group and its state; refused while it has members (QUEUE_GROUP_NOT_EMPTY). */
  async deleteQueueGroup(groupId: string): Promise<void> {
    const stub = this.queues();
    await call(stub.deleteQueueGroup.bind(stub), { groupId }, this.callTimeoutMs);
  }

  private queues(): QueueServiceClient {
    if (!this.queueStub) throw new InvalidArgumentError('this Admin was made without the QueueService (construct it with one, or use StrataClient.admin)');
    return this.queueStub;
  }
}
