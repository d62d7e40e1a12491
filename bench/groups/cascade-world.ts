/**
 * The cascade of issue 13 in virtual time: the REAL GroupCoordinator and StickyAssignor (of whichever
 * tree this file is compiled in), with simulated consumer processes under a supervisor.
 *
 * Records: every partition gets recordsPerSecond / partitions records a second, evenly spaced; a
 * record's timestamp is when it was produced. Members process up to capacityPerSecond records a
 * second, round-robin over the partitions they own (fair fetching), from the group's committed
 * offset on; they commit every commitIntervalMs and on revocation (commits of a member the group no
 * longer has, or of a partition it no longer holds, are refused as by the server). A member that is
 * about to process a record older than giveUpAgeMs gives up: its process exits (crash) and its
 * supervisor starts a new one restartDelayMs later, which joins as a new dynamic member.
 *
 * A process that exits (crash, SIGKILL, exit after close()) has its heartbeat stream broken by the
 * operating system: the server sees it at once. The bench tells the coordinator so through
 * streamLost() when the coordinator has it (this change); the coordinator before it has no such
 * call and the member stays until its session times out: what the server did then.
 */
import { ManualClock, type TimerHandle } from '../../src/core/clock.js';
import { StrataError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import { StickyAssignor } from '../../src/groups/assignors/sticky-assignor.js';
import type { GroupConfig } from '../../src/groups/group-config.js';
import { GroupCoordinator, JOIN_EPOCH, LEAVE_EPOCH, type HeartbeatResponse } from '../../src/groups/group-coordinator.js';

const GROUP = 'cascade';
const TOPIC = 'events';

export interface CascadeParams {
  members: number;
  partitions: number;
  recordsPerSecond: number;
  capacityPerSecond: number;
  /** Infinity: members never give up. */
  giveUpAgeMs: number;
  restartDelayMs: number;
  commitIntervalMs: number;
  tickMs: number;
  /**
   * Whether the server sees a dead process's stream break. False models a host that vanished (power,
   * network): only the session timeout notices, and what is left to damp a storm is the rest.
   */
  isStreamLossSeen: boolean;
}

interface Process {
  slot: number;
  memberId: string;
  epoch: number;
  /** partition -> next offset to process */
  owned: Map<number, number>;
  isRunning: boolean;
  heartbeatTimer: TimerHandle | undefined;
  commitTimer: TimerHandle | undefined;
  budget: number;
  nextRoundRobin: number;
}

type StreamLost = (groupId: string, memberId: string) => void;

export class CascadeWorld {
  readonly clock = new ManualClock(0);
  readonly coordinator: GroupCoordinator;
  readonly hasStreamLost: boolean;
  private readonly processes = new Map<number, Process>();
  private readonly byMemberId = new Map<string, Process>();
  private readonly committed = new Map<number, number>();
  /** Highest offset + 1 processed per partition: a record below it processed again is a duplicate. */
  private readonly processedTo = new Map<number, number>();
  private nextId = 0;
  counters = { rebalances: 0, moved: 0, crashes: 0, kills: 0, processed: 0, duplicates: 0, joins: 0, removals: 0, pausedPartitionMs: 0 };
  /** Last time something was unsettled: a crash, a rebalance, or a partition lagging over half the give-up age. */
  lastUnsettledMs = 0;
  maxLagAgeMs = 0;

  constructor(
    private readonly params: CascadeParams,
    config: GroupConfig,
  ) {
    this.coordinator = new GroupCoordinator({
      clock: this.clock,
      assignor: new StickyAssignor(),
      topics: { partitionCount: (t) => (t === TOPIC ? params.partitions : undefined) },
      config,
      logger: silentLogger,
      newMemberId: () => `m${String(this.nextId++).padStart(4, '0')}`,
      events: {
        onAssignmentChanged: (_g, response) => {
          const p = this.byMemberId.get(response.memberId);
          // As the server's push: applied once the current call is done.
          if (p && p.isRunning && p.memberId === response.memberId) this.clock.setTimeout(() => this.apply(p, response), 0);
        },
        onRebalance: (_g, _e, moved) => {
          this.counters.rebalances++;
          this.counters.moved += moved;
          this.lastUnsettledMs = this.clock.nowMs();
        },
        onMemberRemoved: () => void this.counters.removals++,
      },
    });
    this.hasStreamLost = typeof (this.coordinator as unknown as { streamLost?: StreamLost }).streamLost === 'function';
    this.clock.setTimeout(() => this.tick(), params.tickMs);
  }

  private get perPartitionPerMs(): number {
    return this.params.recordsPerSecond / this.params.partitions / 1000;
  }

  private logEnd(partition: number, nowMs = this.clock.nowMs()): number {
    void partition;
    return Math.floor(nowMs * this.perPartitionPerMs);
  }

  private timestampOf(offset: number): number {
    return offset / this.perPartitionPerMs;
  }

  start(slot: number): void {
    const p: Process = { slot, memberId: '', epoch: JOIN_EPOCH, owned: new Map(), isRunning: true, heartbeatTimer: undefined, commitTimer: undefined, budget: 0, nextRoundRobin: 0 };
    this.processes.set(slot, p);
    this.counters.joins++;
    this.heartbeat(p, JOIN_EPOCH);
    const commitLoop = () => {
      if (!p.isRunning) return;
      this.commitAll(p);
      p.commitTimer = this.clock.setTimeout(commitLoop, this.params.commitIntervalMs);
    };
    p.commitTimer = this.clock.setTimeout(commitLoop, this.params.commitIntervalMs);
  }

  /** The process dies (SIGKILL, a crash, or an exit whose leave never reached the server). */
  kill(slot: number, { restart, isCrash }: { restart: boolean; isCrash: boolean }): void {
    const p = this.processes.get(slot);
    if (!p || !p.isRunning) return;
    this.stop(p);
    if (isCrash) this.counters.crashes++;
    else this.counters.kills++;
    this.lastUnsettledMs = this.clock.nowMs();
    if (p.memberId && this.params.isStreamLossSeen) (this.coordinator as unknown as { streamLost?: StreamLost }).streamLost?.(GROUP, p.memberId);
    if (restart) this.clock.setTimeout(() => this.start(slot), this.params.restartDelayMs);
  }

  /** close() that waited for the leave to be acknowledged: commit, leave (epoch -1), exit. */
  leave(slot: number): void {
    const p = this.processes.get(slot);
    if (!p || !p.isRunning) return;
    this.commitAll(p);
    this.stop(p);
    if (p.memberId) this.call(() => this.coordinator.heartbeat(this.request(p, LEAVE_EPOCH)));
  }

  private stop(p: Process): void {
    p.isRunning = false;
    p.heartbeatTimer?.cancel();
    p.commitTimer?.cancel();
  }

  private request(p: Process, epoch: number) {
    return { groupId: GROUP, memberId: p.memberId, memberEpoch: epoch, topics: [TOPIC], owned: p.owned.size ? [{ topic: TOPIC, partitions: [...p.owned.keys()].sort((a, b) => a - b) }] : [], idleMs: 0 };
  }

  private call<T>(fn: () => T): T | StrataError {
    try {
      return fn();
    } catch (error) {
      if (error instanceof StrataError) return error;
      throw error;
    }
  }

  private heartbeat(p: Process, epoch = p.epoch): void {
    p.heartbeatTimer?.cancel();
    if (!p.isRunning) return;
    const response = this.call(() => this.coordinator.heartbeat(this.request(p, epoch)));
    if (response instanceof StrataError) {
      // Removed or fenced: drop everything uncommitted and rejoin, as the client does.
      p.owned.clear();
      p.memberId = '';
      p.epoch = JOIN_EPOCH;
      this.clock.setTimeout(() => this.heartbeat(p, JOIN_EPOCH), 0);
      return;
    }
    if (epoch === JOIN_EPOCH) {
      p.memberId = response.memberId;
      this.byMemberId.set(p.memberId, p);
    }
    this.apply(p, response);
    p.heartbeatTimer = this.clock.setTimeout(() => this.heartbeat(p), response.heartbeatIntervalMs);
  }

  private apply(p: Process, response: HeartbeatResponse): void {
    if (!p.isRunning || p.memberId !== response.memberId) return;
    p.epoch = response.memberEpoch;
    const assigned = new Set(response.assignment.find((a) => a.topic === TOPIC)?.partitions ?? []);
    let hasReleased = false;
    for (const partition of [...p.owned.keys()]) {
      if (assigned.has(partition)) continue;
      this.commit(p, partition);
      p.owned.delete(partition);
      hasReleased = true;
    }
    for (const partition of assigned) if (!p.owned.has(partition)) p.owned.set(partition, this.committed.get(partition) ?? 0);
    // As GroupConsumer: tell the coordinator at once that the revoked partitions are let go.
    if (hasReleased) this.clock.setTimeout(() => this.heartbeat(p), 0);
  }

  private commit(p: Process, partition: number): void {
    const position = p.owned.get(partition);
    if (position === undefined || position === this.committed.get(partition)) return;
    const result = this.call(() => {
      this.coordinator.validateMember(GROUP, p.memberId, p.epoch, 0);
      this.coordinator.validateOwnership(GROUP, p.memberId, [{ topic: TOPIC, partition }]);
    });
    if (!(result instanceof StrataError)) this.committed.set(partition, position);
  }

  private commitAll(p: Process): void {
    for (const partition of p.owned.keys()) this.commit(p, partition);
  }

  private tick(): void {
    const nowMs = this.clock.nowMs();
    const { tickMs, capacityPerSecond, giveUpAgeMs, partitions } = this.params;
    for (const p of [...this.processes.values()]) {
      if (!p.isRunning || p.owned.size === 0) continue;
      p.budget = Math.min(p.budget + (capacityPerSecond * tickMs) / 1000, capacityPerSecond);
      const list = [...p.owned.keys()].sort((a, b) => a - b);
      let idle = 0;
      while (p.budget >= 1 && idle < list.length) {
        const partition = list[p.nextRoundRobin++ % list.length]!;
        const position = p.owned.get(partition)!;
        if (position >= this.logEnd(partition)) {
          idle++;
          continue;
        }
        idle = 0;
        if (nowMs - this.timestampOf(position) > giveUpAgeMs) {
          this.kill(p.slot, { restart: true, isCrash: true });
          break;
        }
        p.owned.set(partition, position + 1);
        p.budget--;
        this.counters.processed++;
        const processedTo = this.processedTo.get(partition) ?? 0;
        if (position < processedTo) this.counters.duplicates++;
        else this.processedTo.set(partition, position + 1);
      }
      if (idle >= list.length) p.budget = 0;
    }
    // Paused partitions (no running member consuming them) and lag, once per tick.
    const consuming = new Map<number, number>();
    for (const p of this.processes.values()) if (p.isRunning) for (const [partition, position] of p.owned) consuming.set(partition, position);
    let maxAgeMs = 0;
    for (let partition = 0; partition < partitions; partition++) {
      if (!consuming.has(partition)) this.counters.pausedPartitionMs += tickMs;
      const position = Math.max(consuming.get(partition) ?? 0, this.committed.get(partition) ?? 0);
      if (position < this.logEnd(partition)) maxAgeMs = Math.max(maxAgeMs, nowMs - this.timestampOf(position));
    }
    this.maxLagAgeMs = maxAgeMs;
    if (maxAgeMs > giveUpAgeMs / 2) this.lastUnsettledMs = nowMs;
    this.clock.setTimeout(() => this.tick(), tickMs);
  }

  runUntil(timeMs: number): void {
    this.clock.advance(timeMs - this.clock.nowMs());
  }

  resetCounters(): void {
    for (const key of Object.keys(this.counters) as Array<keyof typeof this.counters>) this.counters[key] = 0;
  }

  lagRecords(): number {
    let lag = 0;
    for (let partition = 0; partition < this.params.partitions; partition++) lag += this.logEnd(partition) - (this.committed.get(partition) ?? 0);
    return lag;
  }

  groupEpoch(): number {
    return this.coordinator.describeGroup(GROUP)?.groupEpoch ?? 0;
  }

  close(): void {
    for (const p of this.processes.values()) this.stop(p);
    this.coordinator.close();
  }
}
