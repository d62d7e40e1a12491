import type * as grpc from '@grpc/grpc-js';
import type { Clock } from '../core/clock.js';
import { FencedInstanceIdError, ShuttingDownError, SlowReaderError, type StrataError, TooManyRequestsError } from '../core/errors.js';
import { MAX_MEMBER_ID_LENGTH, MAX_UNREAD_HEARTBEAT_ANSWERS, HEARTBEAT_ANSWERS_MAX_BYTES, HEARTBEAT_ANSWERS_RESERVED_BYTES, MAX_HEARTBEATS_PER_SECOND } from '../core/limits.js';
import type { Logger } from '../core/logger.js';
import type { GroupHeartbeatRequest__Output } from '../generated/strata/v1/GroupHeartbeatRequest.js';
import type { GroupHeartbeatResponse } from '../generated/strata/v1/GroupHeartbeatResponse.js';
import type { GroupServiceHandlers } from '../generated/strata/v1/GroupService.js';
import type { GroupCoordinator, HeartbeatResponse } from '../groups/group-coordinator.js';
import type { GroupOffsets, MemberIdentity } from '../groups/group-offsets.js';
import { principalOf } from './auth/auth-gate.js';
import { assertDecoded } from './safe-deserialize.js';
import { unary } from './unary.js';
import { toFailure, toServiceError } from './status.js';
import type { StreamRegistry } from './stream-registry.js';
import type { MemoryBudget, MemoryShare } from './memory-budget.js';

type HeartbeatCall = grpc.ServerDuplexStream<GroupHeartbeatRequest__Output, GroupHeartbeatResponse>;

const answerMemory = new WeakMap<HeartbeatCall, MemoryShare>();

/** An answer's size, about as protobuf encodes it (never less). */
function answerBytes(response: GroupHeartbeatResponse): number {
  let bytes = 64 + (response.memberId?.length ?? 0) + (response.failure?.message?.length ?? 0) + (response.failure?.code?.length ?? 0);
  for (const assigned of response.assignment ?? []) bytes += 16 + (assigned.topic?.length ?? 0) * 3 + 5 * (assigned.partitions?.length ?? 0);
  return bytes;
}

/** Writes an answer if its bytes fit in the stream's share of the memory budget; false if not. */
function writeCounted(call: HeartbeatCall, response: GroupHeartbeatResponse): boolean {
  const share = answerMemory.get(call);
  const bytes = answerBytes(response);
  if (share !== undefined && !share.tryAcquire(bytes)) return false;
  call.write(response, () => share?.release(bytes));
  return true;
}

/**
 * Routes pushes from the coordinator (an assignment changed because another member released or left)
 * to the heartbeat stream of the member concerned, and tells the coordinator when the stream that
 * carries a member's heartbeats breaks (a strong sign its process died: see GroupCoordinator).
 */
export class HeartbeatStreams {
  private readonly byMember = new Map<string, { call: HeartbeatCall; groupId: string }>();

  /** `onStreamLost` is called for each member whose current stream ended without a leave. */
  constructor(private readonly onStreamLost: (groupId: string, memberId: string) => void = () => {}) {}

  attach(groupId: string, memberId: string, call: HeartbeatCall): void {
    this.byMember.set(memberId, { call, groupId });
  }

  /** The stream ended: its members (those it still carries, not ones that moved to a newer stream) are lost. */
  detach(call: HeartbeatCall): void {
    for (const [memberId, entry] of this.byMember) {
      if (entry.call !== call) continue;
      this.byMember.delete(memberId);
      this.onStreamLost(entry.groupId, memberId);
    }
  }

  push(response: HeartbeatResponse): void {
    const call = this.byMember.get(response.memberId)?.call;
    // The member heartbeats anyway, so a push to a stream with answers queued unread is skipped
    // (writableLength counts messages: the stream is in object mode); the stream's own answers end it.
    if (call && !call.cancelled && call.writable && call.writableLength < MAX_UNREAD_HEARTBEAT_ANSWERS) writeCounted(call, response);
  }

  /**
   * A newer member took over this member's instance id: it is told at once (FENCED_INSTANCE_ID), not
   * at its next heartbeat, so a duplicate stops within a round trip. Not reported as lost.
   */
  fence(memberId: string, instanceId: string): void {
    const call = this.byMember.get(memberId)?.call;
    this.byMember.delete(memberId);
    if (!call || call.cancelled || !call.writable || call.writableLength >= MAX_UNREAD_HEARTBEAT_ANSWERS) return;
    const error = new FencedInstanceIdError(`member '${memberId}' was fenced: a newer member joined with instance id '${instanceId}'; two processes must not share an instance id`);
    call.write({ memberId, memberEpoch: -1, heartbeatIntervalMs: 0, assignment: [], offsetsEpoch: 0, failure: toFailure(error) });
  }

  forget(memberId: string): void {
    this.byMember.delete(memberId);
  }
}

/** The member id a failure answer names: not one no member can have (it could be megabytes long). */
function echoedMemberId(memberId: string): string {
  return typeof memberId === 'string' && memberId.length <= MAX_MEMBER_ID_LENGTH ? memberId : '';
}

/** Who a commit or fetch comes from (an operator's fetch has no member id). */
function memberOf(request: MemberIdentity): MemberIdentity {
  return { groupId: request.groupId, memberId: request.memberId, memberEpoch: request.memberEpoch, offsetsEpoch: request.offsetsEpoch };
}

export function createGroupService(options: {
  coordinator: GroupCoordinator;
  /** Members' commits and fetches, with their rules (groups/group-offsets.ts). */
  groupOffsets: GroupOffsets;
  heartbeatStreams: HeartbeatStreams;
  streams: StreamRegistry;
  logger: Logger;
  budget: MemoryBudget;
  /** The server's clock (the coordinator's): the heartbeat rate window is read on its monotonic time. */
  clock: Clock;
}): GroupServiceHandlers {
  const { coordinator, groupOffsets, heartbeatStreams } = options;
  return {
    GroupHeartbeat(call: HeartbeatCall) {
      // Ends the stream with an error status, sent after the answers already queued (a reader that
      // wakes up gets it); nothing more is handled or queued on the stream.
      let isEnded = false;
      const endWith = (error: StrataError) => {
        if (isEnded) return;
        isEnded = true;
        heartbeatStreams.detach(call);
        call.emit('error', toServiceError(error));
      };
      try {
        answerMemory.set(call, options.budget.openShare({ reservedBytes: HEARTBEAT_ANSWERS_RESERVED_BYTES, maxBytes: HEARTBEAT_ANSWERS_MAX_BYTES, what: 'a heartbeat stream' }));
      } catch (error) {
        endWith(error as StrataError);
        return;
      }
      // At shutdown, UNAVAILABLE (SHUTTING_DOWN) as Produce and Subscribe streams end, not OK: the
      // server is going away, and a member reconnects and heartbeats on (rejoining if forgotten).
      const unregister = options.streams.register(async () => endWith(new ShuttingDownError('the server is shutting down')));
      // A member that sends heartbeats but never reads the answers is cut off, not buffered for.
      // writableLength counts queued messages (grpc-js streams are in object mode). The session timeout
      // rides on every answer: the member stops reading its partitions once its heartbeats went
      // unanswered that long, since it may have been removed (see the client).
      const respond = (response: GroupHeartbeatResponse) => {
        if (call.writableLength >= MAX_UNREAD_HEARTBEAT_ANSWERS) {
          endWith(new SlowReaderError(`the member left ${call.writableLength} heartbeat answers unread`));
        } else if (!writeCounted(call, { ...response, sessionTimeoutMs: coordinator.config.sessionTimeoutMs, streamLostGraceMs: coordinator.streamLostGraceMs })) {
          endWith(new SlowReaderError(`the member left ${call.writableLength} heartbeat answers unread, and the server's memory budget has no room for more`));
        }
      };
      // At most MAX_HEARTBEATS_PER_SECOND per stream: a member heartbeats every few seconds, so a
      // faster stream is broken or hostile, and each heartbeat costs the coordinator work. A window is
      // the second from its first heartbeat, on monotonic time: a wall clock stepped back would keep
      // one window open, and the stream's heartbeats refused, for as long as the step.
      let windowStartMs = Number.NEGATIVE_INFINITY;
      let heartbeatsInWindow = 0;
      call.on('data', (request: GroupHeartbeatRequest__Output) => {
        if (isEnded) return;
        const tickMs = options.clock.monotonicMs();
        if (tickMs - windowStartMs >= 1_000) {
          windowStartMs = tickMs;
          heartbeatsInWindow = 0;
        }
        if (++heartbeatsInWindow > MAX_HEARTBEATS_PER_SECOND) {
          respond({ memberId: echoedMemberId(request.memberId), memberEpoch: request.memberEpoch, heartbeatIntervalMs: coordinator.config.heartbeatIntervalMs, assignment: [], offsetsEpoch: 0, failure: toFailure(new TooManyRequestsError(`more than ${MAX_HEARTBEATS_PER_SECOND} heartbeats a second on one stream: this one was not processed`)) });
          return;
        }
        try {
          assertDecoded(request);
          const response = coordinator.heartbeat({
            groupId: request.groupId,
            memberId: request.memberId,
            instanceId: request.instanceId || undefined,
            memberEpoch: request.memberEpoch,
            topics: request.topics,
            owned: request.owned.map((o) => ({ topic: o.topic, partitions: o.partitions })),
            idleMs: request.idleMs,
            principal: principalOf(call),
          });
          if (request.memberEpoch >= 0) heartbeatStreams.attach(request.groupId, response.memberId, call);
          else heartbeatStreams.forget(response.memberId);
          respond(response);
        } catch (error) {
          respond({ memberId: echoedMemberId(request.memberId), memberEpoch: request.memberEpoch, heartbeatIntervalMs: coordinator.config.heartbeatIntervalMs, assignment: [], offsetsEpoch: 0, failure: toFailure(error) });
        }
      });
      const done = () => {
        // Not a leave: the member keeps its partitions until the session timeout unless it rejoins.
        heartbeatStreams.detach(call);
        answerMemory.get(call)?.close();
        unregister();
      };
      call.on('end', () => {
        done();
        call.end();
      });
      call.on('cancelled', done);
      call.on('error', done);
    },

    CommitOffsets: unary(async (request) => {
      const offsets = request.topics.flatMap((t) => t.partitions.map((p) => ({ topic: t.topic, partition: p.partition, offset: p.offset })));
      await groupOffsets.commit(memberOf(request), offsets);
      return {};
    }),

    FetchOffsets: unary(async (request) => ({ topics: groupOffsets.fetch({ ...memberOf(request), topics: request.topics }) })),
  };
}
