/** Strata: the real coordinator and sticky assignor, with the simulated members the bench's header describes. */
import type { Clock, TimerHandle } from '../../src/core/clock.js';
import { StrataError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import { StickyAssignor } from '../../src/groups/assignors/sticky-assignor.js';
import type { GroupConfig } from '../../src/groups/group-config.js';
import {
  GroupCoordinator,
  JOIN_EPOCH,
  LEAVE_EPOCH,
  STATIC_LEAVE_EPOCH,
  type HeartbeatResponse,
  type RemovalReason,
} from '../../src/groups/group-coordinator.js';
import { instanceIdOf, type Action } from './action.js';
import { CoordinatorTimer } from './coordinator-timer.js';
import { MeasuredAssignor } from './measured-assignor.js';
import { GROUP, TOPIC, type Params } from './params.js';
import { checkFinal, type RunResult } from './run-result.js';
import { SimClock } from './sim-clock.js';
import { NOT_STARTED, OWNER_DOWN, Tracker, UNASSIGNED, type GapKind, type HolderView } from './tracker.js';

export class StrataMember {
  memberId = '';
  memberEpoch = JOIN_EPOCH;
  readonly owned = new Set<number>();
  readonly paused = new Set<number>();
  isRunning = true;
  nextHeartbeatMs = Number.NaN;
  lastHeartbeatMs = Number.NaN;
  heartbeatTimer: TimerHandle | undefined;

  constructor(
    readonly slot: string,
    readonly instanceId: string | undefined,
  ) {}

  get identity(): string {
    return this.instanceId ?? this.memberId;
  }
}

export class StrataWorld implements HolderView {
  readonly clock = new SimClock(0);
  readonly timer = new CoordinatorTimer();
  readonly tracker: Tracker;
  readonly coordinator: GroupCoordinator;
  readonly assignor: MeasuredAssignor;
  readonly bySlot = new Map<string, StrataMember>();
  private readonly byMemberId = new Map<string, StrataMember>();
  heartbeats = 0;
  pushes = 0;
  rebalances = 0;
  reportedMoved = 0;
  readonly removals: string[] = [];
  readonly memberErrors: string[] = [];
  private nextId = 0;

  constructor(
    private readonly params: Params,
    readonly config: GroupConfig,
  ) {
    this.tracker = new Tracker(params.partitions, this, 0);
    this.clock.beforeEvent = () => this.tracker.advanceTo(this.clock.nowMs());
    this.clock.afterEvent = () => this.tracker.recompute(this.clock.nowMs());
    const coordinatorClock: Clock = {
      nowMs: () => this.clock.nowMs(),
      monotonicMs: () => this.clock.monotonicMs(),
      setTimeout: (callback, delayMs) => this.clock.setTimeout(() => this.timer.inside(callback), delayMs),
    };
    this.assignor = new MeasuredAssignor(new StickyAssignor(), this.timer);
    this.coordinator = new GroupCoordinator({
      clock: coordinatorClock,
      assignor: this.assignor,
      topics: { partitionCount: (topic) => (topic === TOPIC ? params.partitions : undefined) },
      config,
      logger: silentLogger,
      newMemberId: () => `m${String(this.nextId++).padStart(4, '0')}`,
      events: {
        onAssignmentChanged: (_groupId, response) => {
          this.pushes++;
          this.timer.outside(() => {
            const member = this.byMemberId.get(response.memberId);
            if (member && member.isRunning && member.memberId === response.memberId) this.apply(member, response);
          });
        },
        onMemberRemoved: (_groupId, memberId, reason: RemovalReason) => {
          this.timer.outside(() => this.removals.push(`${this.clock.nowMs()} ms ${memberId} ${reason}`));
        },
        onRebalance: (_groupId, _epoch, moved) => {
          this.rebalances++;
          this.reportedMoved += moved;
        },
      },
    });
  }

  forEachLive(callback: (identity: string, owned: ReadonlySet<number>, paused: ReadonlySet<number>) => void): void {
    for (const m of this.bySlot.values()) if (m.isRunning && m.memberId !== '') callback(m.identity, m.owned, m.paused);
  }

  gapKindOf(partition: number): GapKind {
    const ownerId = this.coordinator.ownerOf(GROUP, TOPIC, partition);
    if (ownerId === undefined) return UNASSIGNED;
    const owner = this.byMemberId.get(ownerId);
    return owner === undefined || !owner.isRunning ? OWNER_DOWN : NOT_STARTED;
  }

  perform(action: Action): void {
    const delay = this.params.revocationDelayMs;
    switch (action.kind) {
      case 'join':
      case 'rejoin':
      case 'static-rejoin': {
        const member = new StrataMember(action.slot, action.kind === 'static-rejoin' ? instanceIdOf(action.slot) : undefined);
        this.bySlot.set(action.slot, member);
        this.heartbeat(member, JOIN_EPOCH);
        return;
      }
      case 'leave':
      case 'static-leave': {
        // As GroupConsumer.close(): stop reading, commit (the revocation delay), then the leave heartbeat.
        const member = this.stop(action.slot);
        this.clock.setTimeout(() => this.heartbeat(member, action.kind === 'leave' ? LEAVE_EPOCH : STATIC_LEAVE_EPOCH), delay);
        return;
      }
      case 'crash':
        this.stop(action.slot);
        return;
    }
  }

  private stop(slot: string): StrataMember {
    const member = this.bySlot.get(slot);
    if (!member) throw new Error(`no member in slot ${slot}`);
    member.isRunning = false;
    member.heartbeatTimer?.cancel();
    member.heartbeatTimer = undefined;
    return member;
  }

  private heartbeat(member: StrataMember, epoch: number): void {
    member.heartbeatTimer?.cancel();
    member.heartbeatTimer = undefined;
    const request = {
      groupId: GROUP,
      memberId: member.memberId,
      instanceId: member.instanceId,
      memberEpoch: epoch,
      topics: [TOPIC],
      owned: member.owned.size > 0 ? [{ topic: TOPIC, partitions: [...member.owned].sort((a, b) => a - b) }] : [],
      idleMs: 0,
    };
    this.heartbeats++;
    member.lastHeartbeatMs = this.clock.nowMs();
    let response: HeartbeatResponse;
    try {
      response = this.timer.inside(() => this.coordinator.heartbeat(request));
    } catch (error) {
      if (!(error instanceof StrataError)) throw error;
      this.memberErrors.push(`${this.clock.nowMs()} ms ${member.slot} ${member.memberId} epoch ${epoch}: ${error.code} ${error.message}`);
      if (epoch === JOIN_EPOCH || epoch < 0 || !member.isRunning) return;
      // Fenced or unknown: drop everything (without committing) and rejoin, as the client does.
      member.owned.clear();
      member.paused.clear();
      member.memberId = '';
      member.memberEpoch = JOIN_EPOCH;
      this.heartbeat(member, JOIN_EPOCH);
      return;
    }
    if (epoch < 0) return;
    if (epoch === JOIN_EPOCH) {
      member.memberId = response.memberId;
      this.byMemberId.set(member.memberId, member);
    }
    this.apply(member, response);
    member.nextHeartbeatMs = this.clock.nowMs() + response.heartbeatIntervalMs;
    member.heartbeatTimer = this.clock.setTimeout(() => this.heartbeat(member, member.memberEpoch), response.heartbeatIntervalMs);
  }

  /** Follows a response: pause what it no longer holds (released after the delay), start what it adds. */
  private apply(member: StrataMember, response: HeartbeatResponse): void {
    member.memberEpoch = response.memberEpoch;
    const assigned = new Set(response.assignment.find((a) => a.topic === TOPIC)?.partitions ?? []);
    const revoked = [...member.owned].filter((p) => !assigned.has(p) && !member.paused.has(p));
    if (revoked.length > 0) {
      for (const p of revoked) member.paused.add(p);
      this.clock.setTimeout(() => {
        if (!member.isRunning) return;
        for (const p of revoked) {
          if (!member.paused.delete(p)) continue;
          member.owned.delete(p);
        }
        // As AssignmentReconciler.reconcile() in the client: tell the coordinator at once.
        this.heartbeat(member, member.memberEpoch);
      }, this.params.revocationDelayMs);
    }
    for (const p of assigned) member.owned.add(p);
  }

  result(model: string, processCpuMs: number): RunResult {
    return {
      model,
      tracker: this.tracker,
      rebalances: this.rebalances,
      targetMoves: this.assignor.targetMoves,
      reportedMoved: this.reportedMoved,
      coordinatorMs: this.timer.ms,
      coordinatorCalls: this.timer.calls,
      assignorMs: this.timer.assignorMs,
      assignorCalls: this.timer.assignorCalls,
      heartbeats: this.heartbeats,
      pushes: this.pushes,
      removals: [...this.removals],
      memberErrors: [...this.memberErrors],
      finalCheck: checkFinal(this.tracker, this.params.partitions, [...this.bySlot.values()].filter((m) => m.isRunning).length),
      processCpuMs,
    };
  }

  /** Counters restart at the start of the measurement window. */
  resetCounters(): void {
    this.timer.reset();
    this.heartbeats = 0;
    this.pushes = 0;
    this.rebalances = 0;
    this.reportedMoved = 0;
    this.assignor.targetMoves = 0;
    this.removals.length = 0;
    this.memberErrors.length = 0;
    this.tracker.reset(this.clock.nowMs());
  }
}
