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
import type { StartPosition } from '../generated/strata/v1/StartPosition.js';
import type { TopicDescription__Output } from '../generated/strata/v1/TopicDescription.js';
import type { TopicSummary__Output } from '../generated/strata/v1/TopicSummary.js';
import { systemClock } from '../core/clock.js';
import { InvalidArgumentError } from '../core/errors.js';
import { StrataClientError } from './client-error.js';

export type OffsetSpec = 'earliest' | 'latest' | { timestampMs: number };

// What Admin's methods return: the messages of the AdminService as the client decodes them (64-bit
// integers as numbers, defaults filled in), under the names the README uses.
export type TopicDescription = TopicDescription__Output;
export type PartitionDescription = PartitionDescription__Output;
export type TopicSummary = TopicSummary__Output;
export type PartitionOffset = PartitionOffset__Output;
export type GroupSummary = GroupSummary__Output;
/** Members, assignments, fenced members, and per partition the committed offset and the lag. */
export type GroupDescription = DescribeGroupResponse__Output;
export type GroupMemberDescription = GroupMember__Output;
export type FencedMemberDescription = FencedMember__Output;
export type PartitionLag = PartitionLag__Output;
export type OffsetChange = OffsetChange__Output;
export type ResetOffsetsResult = ResetOffsetsResponse__Output;

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

  /** Deletes a group with no live members, and its committed offsets (GROUP_NOT_EMPTY otherwise). */
  async deleteGroup(groupId: string): Promise<void> {
    await call(this.stub.deleteGroup.bind(this.stub), { groupId }, this.callTimeoutMs);
  }
}
