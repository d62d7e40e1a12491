import type * as grpc from '@grpc/grpc-js';
import type { Clock, TimerHandle, TimerOptions } from '../core/clock.js';
import type { GroupHeartbeatRequest } from '../generated/strata/v1/GroupHeartbeatRequest.js';
import type { GroupHeartbeatResponse__Output } from '../generated/strata/v1/GroupHeartbeatResponse.js';
import { StrataClientError } from './client-error.js';
import { HeartbeatLiveness } from './heartbeat-liveness.js';
import type { ClientChannel } from './client-channel.js';

/** Until a server says otherwise (its answers carry both): the server defaults. */
const DEFAULT_HEARTBEAT_INTERVAL_MS = 3_000;
const DEFAULT_SESSION_TIMEOUT_MS = 45_000;
/** A member's timers hold the process as plain timers do: a running member is work in progress. */
const ALIVE: TimerOptions = { keepsProcessAlive: true };
/** Wait before a broken heartbeat stream is opened again. */
const RECONNECT_DELAY_MS = 500;

/**
 * A member's heartbeat: who it is, the partitions it owns, and how long its loop has not asked for
 * records (`idleMs`, 0 while it waits for some: the server's processing timeout counts it).
 */
export function heartbeatRequestOf(member: { groupId: string; memberId: string; instanceId?: string | undefined; memberEpoch: number; topics: string[]; owned: Iterable<{ topic: string; partition: number }>; idleMs: number }): GroupHeartbeatRequest {
  const owned = new Map<string, number[]>();
  for (const { topic, partition } of member.owned) owned.set(topic, [...(owned.get(topic) ?? []), partition]);
  return {
    groupId: member.groupId,
    memberId: member.memberId,
    instanceId: member.instanceId ?? '',
    memberEpoch: member.memberEpoch,
    topics: member.topics,
    owned: [...owned].map(([topic, partitions]) => ({ topic, partitions })),
    idleMs: Math.min(member.idleMs, 0xffff_ffff),
  };
}

/** What the heartbeat stream needs of its group member. */
export interface HeartbeatStreamHost {
  readonly client: ClientChannel;
  /** The member's heartbeat as of now, at its epoch or at `memberEpoch` (a leave). */
  request(memberEpoch?: number): GroupHeartbeatRequest;
  /** Whether the member has no member id (its next heartbeat is a join). */
  isJoining(): boolean;
  isClosed(): boolean;
  /** Every answer but the one to a leave. */
  onAnswer(response: GroupHeartbeatResponse__Output): void;
}

/**
 * A group member's heartbeat stream: sends a heartbeat every interval the server gives (from its
 * first answer on: the heartbeat after the join is timed again once the answer says the interval),
 * opens the stream again after it breaks, never sends a second join while one is unanswered (that
 * would make a second member of this one), tracks when a heartbeat was last answered (liveness),
 * and sends the leave and waits for its answer.
 */
export class GroupHeartbeatStream {
  heartbeatIntervalMs = DEFAULT_HEARTBEAT_INTERVAL_MS;
  sessionTimeoutMs = DEFAULT_SESSION_TIMEOUT_MS;
  /** The server's grace for a lost stream of a dynamic member; undefined until a server says. */
  streamLostGraceMs: number | undefined;
  readonly liveness = new HeartbeatLiveness();
  private stream: grpc.ClientDuplexStream<GroupHeartbeatRequest, GroupHeartbeatResponse__Output> | undefined;
  private timer: TimerHandle | undefined;
  /** The reopening of a broken stream, due RECONNECT_DELAY_MS after it broke. */
  private reconnectTimer: TimerHandle | undefined;
  private lastSentMs = 0;
  /** A join went out on the current stream and is not answered yet. */
  private isJoinPending = false;
  /** Set while a leave waits for its answer. */
  private onLeaveAnswered: (() => void) | undefined;
  /** When the heartbeat the answer being handled answers was sent, if known. */
  private answeringSentMs: number | undefined;
  /** Waiting for the join on its way to be answered (close() leaves with the id it gives). */
  private joinWaiters: Array<() => void> = [];

  constructor(private readonly host: HeartbeatStreamHost) {}

  private get clock(): Clock {
    return this.host.client.clock;
  }

  start(): void {
    this.open();
    this.send();
  }

  /** Sends a heartbeat now (unless a join is unanswered) and the next one an interval later. */
  send(): void {
    this.timer?.cancel();
    if (this.host.isClosed()) return;
    const isJoin = this.host.isJoining();
    if (this.stream && !(isJoin && this.isJoinPending)) {
      this.isJoinPending = isJoin;
      this.lastSentMs = this.clock.nowMs();
      this.liveness.sent(this.lastSentMs);
      this.stream.write(this.host.request());
    }
    this.timer = this.clock.setTimeout(() => this.send(), this.heartbeatIntervalMs, ALIVE);
  }

  /** A request outside the rhythm (the leave of a member id given up), on the current stream if any. */
  write(request: GroupHeartbeatRequest): void {
    this.stream?.write(request);
  }

  /** The member took `response` as its own (not an answer to a member id it gave up). */
  accepted(response: GroupHeartbeatResponse__Output): void {
    this.joinSettled();
    if (response.sessionTimeoutMs > 0) this.sessionTimeoutMs = response.sessionTimeoutMs;
    if (response.streamLostGraceMs > 0) this.streamLostGraceMs = response.streamLostGraceMs;
    if (response.failure) return;
    if (this.answeringSentMs !== undefined) this.liveness.vouch(this.answeringSentMs);
    if (response.heartbeatIntervalMs > 0 && response.heartbeatIntervalMs !== this.heartbeatIntervalMs) {
      // The next heartbeat was timed with the interval known when it was scheduled (the default
      // before the first answer): the server's interval counts from the last one sent.
      this.heartbeatIntervalMs = response.heartbeatIntervalMs;
      this.timer?.cancel();
      this.timer = this.clock.setTimeout(() => this.send(), Math.max(0, this.lastSentMs + this.heartbeatIntervalMs - this.clock.nowMs()), ALIVE);
    }
  }

  /**
   * Sends `request` (a leave) and waits for its answer, the stream's end, or `timeoutMs`: a write
   * alone may still sit in a buffer when the process exits. Any answer that is a failure or has a
   * negative epoch is that answer (the stream is in order; a push has a live epoch and is skipped).
   */
  async leave(request: GroupHeartbeatRequest, timeoutMs: number): Promise<void> {
    this.timer?.cancel();
    // Broken and not yet open again: a stream of its own for the leave.
    if (!this.stream) this.open();
    const stream = this.stream!;
    await new Promise<void>((resolve) => {
      const done = () => {
        timer.cancel();
        stream.off('error', done);
        stream.off('close', done);
        this.onLeaveAnswered = undefined;
        resolve();
      };
      const timer = this.clock.setTimeout(done, timeoutMs, ALIVE);
      this.onLeaveAnswered = done;
      stream.on('error', done);
      stream.on('close', done);
      stream.write(request);
    });
  }

  /** The join on its way was answered (or will not be): whoever waits for it goes on. */
  joinSettled(): void {
    this.isJoinPending = false;
    for (const wake of this.joinWaiters.splice(0)) wake();
  }

  /**
   * Resolves once the join on its way (if any) is answered or its stream breaks, or after
   * `timeoutMs`: a member closed meanwhile must leave under the id that answer gives it, or the
   * server keeps it until the stream grace ends.
   */
  async untilJoinSettled(timeoutMs: number): Promise<void> {
    if (!this.isJoinPending || !this.stream) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        timer.cancel();
        resolve();
      };
      const timer = this.clock.setTimeout(done, timeoutMs, ALIVE);
      this.joinWaiters.push(done);
    });
  }

  /** No more heartbeats; the stream ends (the member closed). */
  stop(): void {
    this.timer?.cancel();
    // Kept alive, it would hold the process of a member closed right after its stream broke.
    this.reconnectTimer?.cancel();
    this.reconnectTimer = undefined;
    this.stream?.end();
  }

  /** Stops the rhythm only (close() still sends its leave on the stream). */
  pause(): void {
    this.timer?.cancel();
  }

  private open(): void {
    const stream = this.host.client.stubs.groups.groupHeartbeat() as grpc.ClientDuplexStream<GroupHeartbeatRequest, GroupHeartbeatResponse__Output>;
    this.stream = stream;
    stream.on('data', (response: GroupHeartbeatResponse__Output) => {
      if (this.stream !== stream) return;
      this.answeringSentMs = this.liveness.answered();
      if (this.onLeaveAnswered && (response.failure || response.memberEpoch < 0)) this.onLeaveAnswered();
      else this.host.onAnswer(response);
      this.answeringSentMs = undefined;
    });
    const onBroken = (error?: unknown) => {
      if (this.stream !== stream) return;
      if (this.host.isClosed()) {
        this.joinSettled();
        return;
      }
      // A dynamic member keeps its partitions on the server only for the server's grace (a static one
      // until its session timeout): reconnect and go on; see GroupConsumer.checkSession.
      this.stream = undefined;
      this.isJoinPending = false;
      this.liveness.streamLost(this.clock.nowMs(), error !== undefined && StrataClientError.fromServiceError(error).code === 'SHUTTING_DOWN');
      this.reconnectTimer?.cancel();
      this.reconnectTimer = this.clock.setTimeout(() => {
        this.reconnectTimer = undefined;
        if (this.host.isClosed()) return;
        this.open();
        this.send();
      }, RECONNECT_DELAY_MS, ALIVE);
    };
    stream.on('error', onBroken);
    stream.on('end', () => onBroken());
  }
}
