/**
 * Consumer-group rebalance benchmark (issue: consumer groups). It drives the REAL GroupCoordinator and
 * StickyAssignor with simulated members under a virtual clock (src/core/clock.ts ManualClock), so
 * every time below is in virtual milliseconds: exact and the same on every run of the same seed. The
 * only real-time numbers are the CPU the coordinator took.
 *
 * Simulated members behave like src/client/group-consumer.ts: they heartbeat every
 * heartbeatIntervalMs, receive pushes of their assignment from the coordinator (onAssignmentChanged,
 * as the server's heartbeat streams do), own what the last response gave them, and release a revoked
 * partition only after a revocation delay (the time to commit it); they stop consuming a revoked
 * partition at once, then heartbeat as soon as they released it. A member consumes every partition it
 * owns except those it is revoking.
 *
 * Measured:
 *   1. 100 members, 1,000 partitions of one topic, default group settings (resolveGroupConfig()):
 *      one member leaving cleanly (epoch -1), one member joining, one member crashing (no leave).
 *   2. a rolling restart of 20 % of the members, each down for 5 s, the next one stopped 5 s after
 *      the previous one is back (and, as a second schedule, the moment it is back): dynamic members
 *      (a new member id after the restart) and static members (same instance id; epoch -2 on the way
 *      down, back within the session timeout).
 * Each schedule is also run through a model of the classic EAGER protocol (JoinGroup/SyncGroup, stop
 * the world), with a range assignor and with the same sticky assignor; the model is described in
 * EAGER_MODEL below and printed by the bench.
 *
 *   make build && node dist/bench/groups-bench.js
 *   options: --seed=N (default 1) --members=N (100) --partitions=N (1000) --revocation-delay-ms=N (50)
 *            --down-ms=N (5000) --gap-ms=N (5000) --restart-percent=N (20)
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { ManualClock, type Clock, type TimerHandle } from '../src/core/clock.js';
import { StrataError } from '../src/core/errors.js';
import { silentLogger } from '../src/core/logger.js';
import type { AssignorInput, GroupAssignment, PartitionAssignor } from '../src/groups/assignors/partition-assignor.js';
import { StickyAssignor } from '../src/groups/assignors/sticky-assignor.js';
import { resolveGroupConfig, type GroupConfig } from '../src/groups/group-config.js';
import {
  GroupCoordinator,
  JOIN_EPOCH,
  LEAVE_EPOCH,
  STATIC_LEAVE_EPOCH,
  type HeartbeatResponse,
  type RemovalReason,
} from '../src/groups/group-coordinator.js';

const GROUP = 'bench-group';
const TOPIC = 'events';

// ---------------------------------------------------------------------------------------------------
// Options

const argv = process.argv.slice(2);
function intOption(name: string, fallback: number): number {
  const prefix = `--${name}=`;
  const raw = argv.find((a) => a.startsWith(prefix))?.slice(prefix.length);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`--${name} must be a non-negative integer, got '${raw}'`);
  return value;
}
for (const a of argv) {
  if (!/^--(seed|members|partitions|revocation-delay-ms|down-ms|gap-ms|restart-percent)=/.test(a)) throw new Error(`unknown option '${a}'`);
}

interface Params {
  seed: number;
  members: number;
  partitions: number;
  revocationDelayMs: number;
  downMs: number;
  gapMs: number;
  restartPercent: number;
  /** Virtual time given to the group to form and settle before anything is measured. */
  warmupMs: number;
  /** Virtual time simulated after the last event of a schedule. */
  tailMs: number;
}

const PARAMS: Params = {
  seed: intOption('seed', 1),
  members: intOption('members', 100),
  partitions: intOption('partitions', 1000),
  revocationDelayMs: intOption('revocation-delay-ms', 50),
  downMs: intOption('down-ms', 5_000),
  gapMs: intOption('gap-ms', 5_000),
  restartPercent: intOption('restart-percent', 20),
  warmupMs: 60_000,
  tailMs: 60_000,
};
if (PARAMS.downMs <= PARAMS.revocationDelayMs) throw new Error('--down-ms must exceed --revocation-delay-ms (a stopping member commits before it leaves)');
if (PARAMS.members < 2 || PARAMS.partitions < 1) throw new Error('at least 2 members and 1 partition');

// ---------------------------------------------------------------------------------------------------
// Small tools

/** mulberry32, as in test/helpers/seeded-random.ts (copied: the bench does not import tests). */
class SeededRandom {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  }
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  /** `count` distinct items, in the order drawn. */
  sample<T>(items: readonly T[], count: number): T[] {
    const pool = [...items];
    const out: T[] = [];
    for (let i = 0; i < count && pool.length > 0; i++) out.push(pool.splice(this.int(0, pool.length - 1), 1)[0]!);
    return out;
  }
  /** 32 hex digits, like the UUID in a classic Kafka member id. */
  hexId(): string {
    let s = '';
    for (let i = 0; i < 4; i++) s += Math.floor(this.next() * 0x1_0000_0000).toString(16).padStart(8, '0');
    return s;
  }
}

const slotName = (i: number) => `c${String(i).padStart(3, '0')}`;
const instanceIdOf = (slot: string) => `instance-${slot}`;
/** The first heartbeat at or after `nowMs` of a member whose heartbeats fall on `phaseMs` modulo the interval. */
const nextBeat = (phaseMs: number, nowMs: number, intervalMs: number) => nowMs + ((((phaseMs - nowMs) % intervalMs) + intervalMs) % intervalMs);
/** The last heartbeat at or before `nowMs`. */
const previousBeat = (phaseMs: number, nowMs: number, intervalMs: number) => nowMs - ((((nowMs - phaseMs) % intervalMs) + intervalMs) % intervalMs);

const fmtInt = (n: number) => Math.round(n).toLocaleString('en-US');
const fmtMs = (n: number) => (Number.isFinite(n) ? `${fmtInt(n)} ms` : '-');
/** partition-milliseconds as partition-seconds */
const fmtPs = (partitionMs: number) => (partitionMs / 1000).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
function fmtRatio(a: number, b: number): string {
  if (b === 0) return a === 0 ? '1 (both 0)' : 'inf';
  const r = a / b;
  return r >= 0.1 ? r.toFixed(2) : r.toPrecision(2);
}

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(headers), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

// ---------------------------------------------------------------------------------------------------
// Virtual time and accounting

/**
 * The ManualClock, with a hook before and after every timer callback. Everything that changes the
 * state of the world (member heartbeats, releases, scheduled actions, the coordinator's own timer) is
 * a timer callback, so ownership is constant between two callbacks and can be integrated exactly.
 */
class SimClock implements Clock {
  private readonly manual: ManualClock;
  beforeEvent: () => void = () => undefined;
  afterEvent: () => void = () => undefined;

  constructor(startMs = 0) {
    this.manual = new ManualClock(startMs);
  }

  nowMs(): number {
    return this.manual.nowMs();
  }

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    return this.manual.setTimeout(() => {
      this.beforeEvent();
      callback();
      this.afterEvent();
    }, delayMs);
  }

  at(timeMs: number, callback: () => void): TimerHandle {
    return this.setTimeout(callback, timeMs - this.nowMs());
  }

  runUntil(timeMs: number): void {
    this.manual.advance(timeMs - this.nowMs());
    this.beforeEvent();
  }
}

/**
 * Real time spent inside the coordinator (its heartbeat() and its timer callbacks), minus the time of
 * the bench's own callbacks it calls (pushes to simulated members). The coordinator is synchronous
 * and runs on the one JS thread, so this is its CPU time (performance.now(): a process.cpuUsage()
 * call costs ~1 us, as much as a heartbeat).
 */
class CoordinatorTimer {
  ms = 0;
  calls = 0;
  assignorMs = 0;
  assignorCalls = 0;
  private depth = 0;
  private excludedMs = 0;

  inside<T>(fn: () => T): T {
    if (this.depth > 0) return fn();
    this.depth++;
    const excludedBefore = this.excludedMs;
    const start = performance.now();
    try {
      return fn();
    } finally {
      this.ms += performance.now() - start - (this.excludedMs - excludedBefore);
      this.calls++;
      this.depth--;
    }
  }

  outside<T>(fn: () => T): T {
    if (this.depth === 0) return fn();
    const start = performance.now();
    try {
      return fn();
    } finally {
      this.excludedMs += performance.now() - start;
    }
  }

  reset(): void {
    this.ms = 0;
    this.calls = 0;
    this.assignorMs = 0;
    this.assignorCalls = 0;
  }
}

/** Why a partition is not being consumed. */
const CONSUMED = 0;
const REVOKING = 1;
const OWNER_DOWN = 2;
const UNASSIGNED = 3;
const NOT_STARTED = 4;
type GapKind = typeof OWNER_DOWN | typeof UNASSIGNED | typeof NOT_STARTED;
const STATE_NAMES = ['consumed', 'revoking', 'owner down', 'unassigned', 'assigned, not started'] as const;

interface HolderView {
  /** Every member process that is running, with what it holds and what of that it has paused. */
  forEachLive(callback: (identity: string, owned: ReadonlySet<number>, paused: ReadonlySet<number>) => void): void;
  /** Why a partition that no running member holds is not consumed. */
  gapKindOf(partition: number): GapKind;
}

/**
 * Follows, partition by partition, who consumes it; integrates the time each partition spends not
 * consumed (by reason), and counts movements. Definitions (printed by the bench):
 * - consumed: a running member holds the partition and has not paused it (paused = being revoked);
 * - movement: a partition starts being consumed by a consumer other than the last one that consumed
 *   it; a consumer is a member id, or the instance id for a static member (a restarted static member
 *   taking its own partitions back is not a movement); a partition handed back to its last consumer
 *   after a pause is not a movement either;
 * - unconsumed partition-time: the integral over time of the number of partitions not consumed.
 */
class Tracker {
  private readonly state: Uint8Array;
  private readonly consumer: Array<string | undefined>;
  private readonly lastConsumer: Array<string | undefined>;
  private readonly gapStartMs: Float64Array;
  private readonly nextConsumer: Array<string | undefined>;
  private readonly nextPaused: Uint8Array;
  private readonly counts = [0, 0, 0, 0, 0];
  private lastMs: number;
  private windowStartMs: number;
  /** partition-milliseconds per state, since reset() (index CONSUMED is not accumulated) */
  gapMs = [0, 0, 0, 0, 0];
  movements = 0;
  violations = 0;
  lastChangeMs = Number.NaN;
  lastFullyConsumedMs = Number.NaN;
  maxUnconsumed = 0;
  longestGapMs = 0;
  readonly pausedIdentities = new Set<string>();

  constructor(
    private readonly partitions: number,
    private readonly view: HolderView,
    startMs: number,
  ) {
    this.state = new Uint8Array(partitions).fill(UNASSIGNED);
    this.counts[UNASSIGNED] = partitions;
    this.consumer = new Array<string | undefined>(partitions).fill(undefined);
    this.lastConsumer = new Array<string | undefined>(partitions).fill(undefined);
    this.nextConsumer = new Array<string | undefined>(partitions).fill(undefined);
    this.nextPaused = new Uint8Array(partitions);
    this.gapStartMs = new Float64Array(partitions).fill(startMs);
    this.lastMs = startMs;
    this.windowStartMs = startMs;
  }

  get unconsumed(): number {
    return this.partitions - this.counts[CONSUMED]!;
  }

  /** Starts the measurement window: metrics restart from zero, ownership history is kept. */
  reset(nowMs: number): void {
    this.advanceTo(nowMs);
    this.windowStartMs = nowMs;
    this.gapMs = [0, 0, 0, 0, 0];
    this.movements = 0;
    this.violations = 0;
    this.lastChangeMs = Number.NaN;
    this.lastFullyConsumedMs = Number.NaN;
    this.maxUnconsumed = this.unconsumed;
    this.longestGapMs = 0;
    this.pausedIdentities.clear();
  }

  advanceTo(nowMs: number): void {
    const dt = nowMs - this.lastMs;
    if (dt <= 0) return;
    for (let s = 1; s < this.counts.length; s++) this.gapMs[s]! += this.counts[s]! * dt;
    this.lastMs = nowMs;
  }

  recompute(nowMs: number): void {
    this.advanceTo(nowMs);
    this.nextConsumer.fill(undefined);
    this.nextPaused.fill(0);
    this.view.forEachLive((identity, owned, paused) => {
      for (const p of owned) {
        if (paused.has(p)) {
          this.nextPaused[p] = 1;
          this.pausedIdentities.add(identity);
        } else {
          if (this.nextConsumer[p] !== undefined && this.nextConsumer[p] !== identity) this.violations++;
          this.nextConsumer[p] = identity;
        }
      }
    });
    const unconsumedBefore = this.unconsumed;
    let changed = false;
    for (let p = 0; p < this.partitions; p++) {
      const c = this.nextConsumer[p];
      const s = c !== undefined ? CONSUMED : this.nextPaused[p] === 1 ? REVOKING : this.view.gapKindOf(p);
      const previousState = this.state[p]!;
      if (s === previousState && c === this.consumer[p]) continue;
      changed = true;
      if (c !== undefined && c !== this.consumer[p]) {
        const last = this.lastConsumer[p];
        if (last !== undefined && last !== c) this.movements++;
        this.lastConsumer[p] = c;
      }
      if (previousState === CONSUMED && s !== CONSUMED) this.gapStartMs[p] = nowMs;
      if (previousState !== CONSUMED && s === CONSUMED) this.longestGapMs = Math.max(this.longestGapMs, nowMs - Math.max(this.gapStartMs[p]!, this.windowStartMs));
      this.counts[previousState]!--;
      this.counts[s]!++;
      this.state[p] = s;
      this.consumer[p] = c;
    }
    if (!changed) return;
    this.lastChangeMs = nowMs;
    const unconsumed = this.unconsumed;
    this.maxUnconsumed = Math.max(this.maxUnconsumed, unconsumed);
    if (unconsumed === 0 && unconsumedBefore > 0) this.lastFullyConsumedMs = nowMs;
  }

  /** Consumed partitions per consumer identity (for balance checks). */
  countsByConsumer(): Map<string, number> {
    const out = new Map<string, number>();
    for (const c of this.consumer) if (c !== undefined) out.set(c, (out.get(c) ?? 0) + 1);
    return out;
  }
}

// ---------------------------------------------------------------------------------------------------
// Schedules

type ActionKind = 'join' | 'leave' | 'crash' | 'static-leave' | 'rejoin' | 'static-rejoin';
interface Action {
  atMs: number;
  slot: string;
  kind: ActionKind;
}

// ---------------------------------------------------------------------------------------------------
// Strata: the real coordinator and sticky assignor, simulated members

class StrataMember {
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

/** The real StickyAssignor, timed, and the movements of its target (the minimum the assignor allows). */
class MeasuredAssignor implements PartitionAssignor {
  readonly name: string;
  targetMoves = 0;
  private previousOwner = new Map<number, string>();

  constructor(
    private readonly inner: PartitionAssignor,
    private readonly timer: CoordinatorTimer,
  ) {
    this.name = inner.name;
  }

  assign(input: AssignorInput): GroupAssignment {
    const start = performance.now();
    const output = this.inner.assign(input);
    this.timer.assignorMs += performance.now() - start;
    this.timer.assignorCalls++;
    this.timer.outside(() => {
      const identity = new Map(input.members.map((m) => [m.memberId, m.instanceId ?? m.memberId]));
      const owner = new Map<number, string>();
      for (const [memberId, topics] of output) {
        for (const p of topics.get(TOPIC) ?? []) {
          const id = identity.get(memberId) ?? memberId;
          owner.set(p, id);
          const before = this.previousOwner.get(p);
          if (before !== undefined && before !== id) this.targetMoves++;
        }
      }
      this.previousOwner = owner;
    });
    return output;
  }
}

interface RunResult {
  model: string;
  tracker: Tracker;
  rebalances: number;
  /** Strata only */
  targetMoves?: number;
  reportedMoved?: number;
  coordinatorMs?: number;
  coordinatorCalls?: number;
  assignorMs?: number;
  assignorCalls?: number;
  heartbeats?: number;
  pushes?: number;
  removals?: string[];
  memberErrors?: string[];
  /** Eager only: length of each stop-the-world barrier */
  barriersMs?: number[];
  finalCheck: string;
  processCpuMs: number;
}

class StrataWorld implements HolderView {
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
        // As GroupConsumer.reconcile(): tell the coordinator at once.
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

function checkFinal(tracker: Tracker, partitions: number, runningMembers: number): string {
  const counts = [...tracker.countsByConsumer().values()];
  const problems: string[] = [];
  if (tracker.unconsumed > 0) problems.push(`${tracker.unconsumed} partitions not consumed`);
  if (counts.length !== runningMembers) problems.push(`${counts.length} consumers for ${runningMembers} running members`);
  const spread = counts.length > 0 ? Math.max(...counts) - Math.min(...counts) : 0;
  if (spread > 1) problems.push(`unbalanced: ${Math.min(...counts)}..${Math.max(...counts)} per member`);
  if (tracker.violations > 0) problems.push(`${tracker.violations} times a partition was consumed by two members at once`);
  const min = counts.length > 0 ? Math.min(...counts) : 0;
  const max = counts.length > 0 ? Math.max(...counts) : 0;
  return problems.length === 0 ? `ok: all ${partitions} consumed, ${min}-${max} per member, never two consumers` : `PROBLEM: ${problems.join('; ')}`;
}

/** A group of `params.members` members that joined at seeded times, settled for warmupMs. */
function steadyStrataWorld(params: Params, config: GroupConfig, isStatic: boolean): StrataWorld {
  const world = new StrataWorld(params, config);
  const random = new SeededRandom(params.seed);
  for (let i = 0; i < params.members; i++) {
    const slot = slotName(i);
    world.clock.at(random.int(0, config.heartbeatIntervalMs - 1), () => world.perform({ atMs: 0, slot, kind: isStatic ? 'static-rejoin' : 'join' }));
  }
  world.clock.runUntil(params.warmupMs);
  const check = checkFinal(world.tracker, params.partitions, params.members);
  if (!check.startsWith('ok')) throw new Error(`the group did not settle during the warm-up: ${check}`);
  return world;
}

function runStrata(params: Params, config: GroupConfig, isStatic: boolean, actions: readonly Action[], endMs: number): { result: RunResult; phases: Map<string, number>; lastHeartbeats: Map<string, number> } {
  const world = steadyStrataWorld(params, config, isStatic);
  const phases = new Map<string, number>();
  const lastHeartbeats = new Map<string, number>();
  for (const [slot, m] of world.bySlot) {
    phases.set(slot, m.nextHeartbeatMs % config.heartbeatIntervalMs);
    lastHeartbeats.set(slot, m.lastHeartbeatMs);
  }
  world.resetCounters();
  // Last heartbeat before each action (for the crash), recorded just before the action.
  for (const action of actions) world.clock.at(action.atMs, () => lastHeartbeats.set(`${action.slot}@${action.atMs}`, world.bySlot.get(action.slot)?.lastHeartbeatMs ?? Number.NaN));
  for (const action of actions) world.clock.at(action.atMs, () => world.perform(action));
  const cpuStart = process.cpuUsage();
  world.clock.runUntil(endMs);
  const cpu = process.cpuUsage(cpuStart);
  return { result: world.result(isStatic ? 'Strata (static members)' : 'Strata', (cpu.user + cpu.system) / 1000), phases, lastHeartbeats };
}

// ---------------------------------------------------------------------------------------------------
// The eager (classic JoinGroup/SyncGroup) model

const EAGER_MODEL = [
  'Eager model (classic JoinGroup/SyncGroup, stop the world), on the same schedule, same heartbeat phases:',
  '- A rebalance starts when a member sends JoinGroup (a join), when a LeaveGroup arrives (a clean leave,',
  '  sent after the same commit delay as in Strata), or when the session timeout expires (a crash, counted',
  '  from the same last heartbeat as in Strata).',
  '- Every other member learns of it at its next heartbeat (heartbeat.interval.ms = 3 s, the phase each member',
  '  has in the Strata run), stops consuming ALL its partitions, commits for the revocation delay, then sends',
  '  JoinGroup. The barrier ends when the last member has sent JoinGroup (<= 3 s + revocation delay after',
  '  the start); SyncGroup is taken as instant; every member then consumes its new assignment from that moment.',
  '- A membership change during a barrier joins that rebalance (a joiner is in; a leaver is no longer awaited).',
  '- New assignment: "range" = Kafka RangeAssignor (members sorted by member id, a random 32-hex id like the',
  '  UUID of a classic member id; static members by instance id; contiguous ranges, the first P mod N members',
  '  get one more), or "sticky" = the same StickyAssignor Strata uses, given each member\'s previous assignment',
  '  (moves are then minimal, but every partition is still paused during the barrier).',
  '- Static members (KIP-345): a static member that comes back within the session timeout gets its cached',
  '  assignment with no rebalance, and sends no LeaveGroup on shutdown; so the static schedules cause no',
  '  rebalance at all, and its partitions wait for it.',
].join('\n');

class EagerMember {
  readonly owned = new Set<number>();
  readonly paused = new Set<number>();
  lastAssigned: number[] = [];
  isRunning = true;
  inGroup = true;

  constructor(
    readonly slot: string,
    readonly identity: string,
    readonly sortKey: string,
    readonly instanceId: string | undefined,
    public phaseMs: number,
  ) {}
}

interface EagerRebalance {
  startMs: number;
  /** When each awaited member has sent (or will send) JoinGroup. */
  ready: Map<EagerMember, number>;
  completion: TimerHandle | undefined;
}

class EagerWorld implements HolderView {
  readonly clock: SimClock;
  readonly tracker: Tracker;
  readonly bySlot = new Map<string, EagerMember>();
  private readonly stoppedOwner: Array<EagerMember | undefined>;
  private rebalance: EagerRebalance | undefined;
  rebalances = 0;
  readonly barriersMs: number[] = [];

  constructor(
    private readonly params: Params,
    private readonly config: GroupConfig,
    private readonly assignorKind: 'range' | 'sticky',
    private readonly random: SeededRandom,
    startMs: number,
    phases: ReadonlyMap<string, number>,
    isStatic: boolean,
  ) {
    this.clock = new SimClock(startMs);
    this.tracker = new Tracker(params.partitions, this, startMs);
    this.stoppedOwner = new Array<EagerMember | undefined>(params.partitions).fill(undefined);
    for (const [slot, phaseMs] of phases) {
      const instanceId = isStatic ? instanceIdOf(slot) : undefined;
      const id = instanceId ?? random.hexId();
      this.bySlot.set(slot, new EagerMember(slot, id, id, instanceId, phaseMs));
    }
    this.assignNew([...this.bySlot.values()]);
    this.tracker.recompute(startMs);
    this.tracker.reset(startMs);
    this.clock.beforeEvent = () => this.tracker.advanceTo(this.clock.nowMs());
    this.clock.afterEvent = () => this.tracker.recompute(this.clock.nowMs());
  }

  forEachLive(callback: (identity: string, owned: ReadonlySet<number>, paused: ReadonlySet<number>) => void): void {
    for (const m of this.bySlot.values()) if (m.isRunning && m.inGroup) callback(m.identity, m.owned, m.paused);
  }

  gapKindOf(partition: number): GapKind {
    return this.stoppedOwner[partition] !== undefined ? OWNER_DOWN : UNASSIGNED;
  }

  perform(action: Action): void {
    const now = this.clock.nowMs();
    const delay = this.params.revocationDelayMs;
    switch (action.kind) {
      case 'join':
      case 'rejoin': {
        const id = this.random.hexId();
        const member = new EagerMember(action.slot, id, id, undefined, now);
        this.bySlot.set(action.slot, member);
        this.joinRebalance(member);
        return;
      }
      case 'static-rejoin': {
        // KIP-345: the cached assignment comes back, nobody else notices.
        const member = this.bySlot.get(action.slot)!;
        member.isRunning = true;
        member.phaseMs = now;
        for (const p of member.owned) this.stoppedOwner[p] = undefined;
        return;
      }
      case 'leave': {
        const member = this.stop(action.slot);
        this.clock.setTimeout(() => this.remove(member), delay);
        return;
      }
      case 'static-leave':
        this.stop(action.slot);
        return;
      case 'crash': {
        const member = this.stop(action.slot);
        const expiresMs = previousBeat(member.phaseMs, now, this.config.heartbeatIntervalMs) + this.config.sessionTimeoutMs;
        this.clock.at(expiresMs, () => this.remove(member));
        return;
      }
    }
  }

  private stop(slot: string): EagerMember {
    const member = this.bySlot.get(slot);
    if (!member) throw new Error(`no member in slot ${slot}`);
    member.isRunning = false;
    for (const p of member.owned) this.stoppedOwner[p] = member;
    return member;
  }

  /** A LeaveGroup, or a session expiry: the member is out, its partitions are nobody's. */
  private remove(member: EagerMember): void {
    member.inGroup = false;
    for (const p of member.owned) if (this.stoppedOwner[p] === member) this.stoppedOwner[p] = undefined;
    member.owned.clear();
    member.paused.clear();
    if (this.rebalance) {
      this.rebalance.ready.delete(member);
      this.scheduleCompletion();
    } else {
      this.joinRebalance(undefined);
    }
  }

  /** Starts a rebalance (or joins the one in progress), with `joiner` sending JoinGroup now. */
  private joinRebalance(joiner: EagerMember | undefined): void {
    const now = this.clock.nowMs();
    if (!this.rebalance) {
      const rebalance: EagerRebalance = { startMs: now, ready: new Map(), completion: undefined };
      this.rebalance = rebalance;
      this.rebalances++;
      const interval = this.config.heartbeatIntervalMs;
      for (const member of this.bySlot.values()) {
        if (!member.inGroup || !member.isRunning || member === joiner) continue;
        const noticeMs = nextBeat(member.phaseMs, now, interval);
        rebalance.ready.set(member, noticeMs + this.params.revocationDelayMs);
        this.clock.at(noticeMs, () => {
          if (this.rebalance !== rebalance || !member.isRunning) return;
          for (const p of member.owned) member.paused.add(p);
        });
        this.clock.at(noticeMs + this.params.revocationDelayMs, () => {
          if (this.rebalance !== rebalance || !member.isRunning) return;
          member.owned.clear();
          member.paused.clear();
        });
      }
    }
    if (joiner) this.rebalance.ready.set(joiner, now);
    this.scheduleCompletion();
  }

  private scheduleCompletion(): void {
    const rebalance = this.rebalance!;
    rebalance.completion?.cancel();
    const endMs = Math.max(this.clock.nowMs(), ...rebalance.ready.values());
    rebalance.completion = this.clock.at(endMs, () => {
      this.rebalance = undefined;
      this.barriersMs.push(this.clock.nowMs() - rebalance.startMs);
      this.assignNew([...rebalance.ready.keys()].filter((m) => m.inGroup && m.isRunning));
    });
  }

  private assignNew(members: EagerMember[]): void {
    const assignment = this.assignorKind === 'range' ? rangeAssign(members, this.params.partitions) : stickyAssign(members, this.params.partitions);
    for (const member of members) {
      const partitions = assignment.get(member) ?? [];
      member.owned.clear();
      member.paused.clear();
      for (const p of partitions) member.owned.add(p);
      member.lastAssigned = partitions;
    }
  }

  result(processCpuMs: number, isStatic: boolean): RunResult {
    const running = [...this.bySlot.values()].filter((m) => m.isRunning && m.inGroup).length;
    return {
      model: `eager, ${this.assignorKind}${isStatic ? ' (static members, KIP-345)' : ''}`,
      tracker: this.tracker,
      rebalances: this.rebalances,
      barriersMs: [...this.barriersMs],
      finalCheck: checkFinal(this.tracker, this.params.partitions, running),
      processCpuMs,
    };
  }
}

/** Kafka's RangeAssignor for one topic. */
function rangeAssign(members: EagerMember[], partitions: number): Map<EagerMember, number[]> {
  const sorted = [...members].sort((a, b) => (a.sortKey < b.sortKey ? -1 : a.sortKey > b.sortKey ? 1 : 0));
  const out = new Map<EagerMember, number[]>();
  const n = sorted.length;
  if (n === 0) return out;
  const per = Math.floor(partitions / n);
  const extra = partitions % n;
  sorted.forEach((member, i) => {
    const start = i * per + Math.min(i, extra);
    const length = per + (i < extra ? 1 : 0);
    out.set(member, Array.from({ length }, (_, k) => start + k));
  });
  return out;
}

const stickyForEager = new StickyAssignor();
function stickyAssign(members: EagerMember[], partitions: number): Map<EagerMember, number[]> {
  const byId = new Map(members.map((m) => [m.identity, m]));
  const output = stickyForEager.assign({
    members: members.map((m) => ({
      memberId: m.identity,
      ...(m.instanceId !== undefined ? { instanceId: m.instanceId } : {}),
      topics: [TOPIC],
      previous: new Map([[TOPIC, [...m.lastAssigned].sort((a, b) => a - b)]]),
    })),
    partitionCounts: new Map([[TOPIC, partitions]]),
  });
  const out = new Map<EagerMember, number[]>();
  for (const [memberId, topics] of output) out.set(byId.get(memberId)!, [...(topics.get(TOPIC) ?? [])]);
  return out;
}

function runEager(params: Params, config: GroupConfig, kind: 'range' | 'sticky', isStatic: boolean, phases: ReadonlyMap<string, number>, actions: readonly Action[], endMs: number): RunResult {
  const world = new EagerWorld(params, config, kind, new SeededRandom(params.seed + 1_000_003), params.warmupMs, phases, isStatic);
  for (const action of actions) world.clock.at(action.atMs, () => world.perform(action));
  const cpuStart = process.cpuUsage();
  world.clock.runUntil(endMs);
  const cpu = process.cpuUsage(cpuStart);
  return world.result((cpu.user + cpu.system) / 1000, isStatic);
}

// ---------------------------------------------------------------------------------------------------
// Scenarios and output

interface ScenarioRuns {
  title: string;
  /** Short name of the schedule, for the summary table. */
  label: string;
  eventMs: number;
  /** For a leave: when the leave heartbeat is sent (after the commit). */
  requestMs: number;
  strata: RunResult;
  eager: RunResult[];
  lastHeartbeatMs?: number;
}

function unconsumedMs(r: RunResult): number {
  return r.tracker.gapMs.reduce((a, b) => a + b, 0);
}

function describeRun(r: RunResult, fromMs: number): string[] {
  const t = r.tracker;
  const lines = [
    `  ${r.model}:`,
    `    all partitions consumed again ${fmtMs(t.lastFullyConsumedMs - fromMs)} after the event; last ownership change at +${fmtMs(t.lastChangeMs - fromMs)}`,
    `    movements ${fmtInt(t.movements)}${r.targetMoves !== undefined ? ` (target moves computed by the assignor: ${fmtInt(r.targetMoves)}; onRebalance 'moved' summed: ${fmtInt(r.reportedMoved ?? 0)})` : ''}`,
    `    unconsumed partition-seconds ${fmtPs(unconsumedMs(r))} = revoking ${fmtPs(t.gapMs[REVOKING]!)} + owner down ${fmtPs(t.gapMs[OWNER_DOWN]!)} + unassigned ${fmtPs(t.gapMs[UNASSIGNED]!)}${t.gapMs[NOT_STARTED]! > 0 ? ` + assigned-not-started ${fmtPs(t.gapMs[NOT_STARTED]!)}` : ''}`,
    `    members that paused a partition they held: ${t.pausedIdentities.size}; most partitions unconsumed at once: ${t.maxUnconsumed}; longest a partition waited: ${fmtMs(t.longestGapMs)}`,
    `    rebalances ${r.rebalances}${r.barriersMs && r.barriersMs.length > 0 ? ` (barriers ${fmtMs(Math.min(...r.barriersMs))} to ${fmtMs(Math.max(...r.barriersMs))})` : ''}`,
  ];
  if (r.coordinatorMs !== undefined) {
    lines.push(
      `    coordinator real time ${r.coordinatorMs.toFixed(1)} ms over ${fmtInt(r.coordinatorCalls ?? 0)} calls (${(((r.coordinatorMs ?? 0) * 1000) / Math.max(1, r.coordinatorCalls ?? 0)).toFixed(1)} us each), of which assignor ${(r.assignorMs ?? 0).toFixed(1)} ms in ${r.assignorCalls} calls; ${fmtInt(r.heartbeats ?? 0)} heartbeats, ${fmtInt(r.pushes ?? 0)} pushes; whole simulation ${r.processCpuMs.toFixed(0)} ms CPU`,
    );
    if ((r.removals ?? []).length > 0) lines.push(`    removals: ${(r.removals ?? []).slice(0, 6).join('; ')}${(r.removals ?? []).length > 6 ? ` ... (${(r.removals ?? []).length})` : ''}`);
    if ((r.memberErrors ?? []).length > 0) lines.push(`    MEMBER ERRORS: ${(r.memberErrors ?? []).slice(0, 5).join('; ')} (${(r.memberErrors ?? []).length})`);
  }
  lines.push(`    final state: ${r.finalCheck}`);
  return lines;
}

function main(): void {
  const wallStart = performance.now();
  const cpuStart = process.cpuUsage();
  const params = PARAMS;
  const config = resolveGroupConfig();
  const interval = config.heartbeatIntervalMs;

  console.log('# Strata consumer-group rebalance benchmark (virtual time)');
  console.log(`date:     ${new Date().toISOString()}`);
  console.log(`command:  node ${path.relative(process.cwd(), process.argv[1] ?? '') || process.argv[1]} ${argv.join(' ')}`.trimEnd());
  console.log(`machine:  ${os.cpus()[0]?.model ?? 'unknown cpu'}, ${os.cpus().length} vCPU, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, ${os.type()} ${os.release()}, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log(`node:     ${process.version}`);
  console.log(`code:     sha256 ${compiledSourceHash()} of dist/src/{groups,core}/**/*.js (the code that ran)`);
  console.log(`params:   seed ${params.seed}, ${params.members} members, ${params.partitions} partitions of one topic, revocation delay ${params.revocationDelayMs} ms, warm-up ${params.warmupMs / 1000} s`);
  console.log(`config:   resolveGroupConfig() defaults: ${JSON.stringify(config)}`);
  console.log('');
  console.log('Definitions:');
  console.log('- consumed: a running member holds the partition and has not paused it; a member pauses a partition only');
  console.log('  when told to revoke it, and releases it after the revocation delay (the commit), then heartbeats at once;');
  console.log('  a stopping member stops consuming everything at once, commits for the same delay, then sends its leave.');
  console.log('- unconsumed partition-seconds: integral over virtual time of the number of partitions not consumed, split by');
  console.log('  reason: revoking (paused by a member that still holds it), owner down (held by a member that stopped,');
  console.log('  crashed or is away), unassigned (no member holds it). It is the sum over partitions of the time nobody');
  console.log('  consumed them, i.e. the total consumer pause time.');
  console.log('- movement: a partition starts being consumed by a consumer other than the last one that consumed it');
  console.log('  (consumer = member id; instance id for static members). Target moves = partitions whose owner changed');
  console.log('  between consecutive target assignments of the sticky assignor, including the partitions of members that');
  console.log('  left (the minimum any reconciliation could do).');
  console.log('- times are virtual ms from the event (the stop, the join, the crash); a clean leave sends epoch -1 after the');
  console.log(`  commit, i.e. ${params.revocationDelayMs} ms after the stop.`);
  console.log('- coordinator real time: performance.now() around heartbeat() and the coordinator\'s timer callbacks, minus the');
  console.log('  bench callbacks it calls; synchronous on one thread, so it is its CPU time. Machine-dependent, the rest is not.');
  console.log('');
  console.log(EAGER_MODEL);
  console.log('');

  const scenarioStart = params.warmupMs + 10_000;
  const random = new SeededRandom(params.seed + 7);
  const slots = Array.from({ length: params.members }, (_, i) => slotName(i));
  const all: ScenarioRuns[] = [];

  // ----- 1. single events
  const single = (title: string, action: Action, requestMs: number) => {
    const endMs = action.atMs + params.tailMs;
    const strata = runStrata(params, config, false, [action], endMs);
    const eager = (['range', 'sticky'] as const).map((kind) => runEager(params, config, kind, false, strata.phases, [action], endMs));
    const runs: ScenarioRuns = { title, label: title, eventMs: action.atMs, requestMs, strata: strata.result, eager, lastHeartbeatMs: strata.lastHeartbeats.get(`${action.slot}@${action.atMs}`) };
    all.push(runs);
    return runs;
  };
  const leaver = random.sample(slots, 1)[0]!;
  const crashed = random.sample(slots, 1)[0]!;
  const leave = single(`one member leaves cleanly (${leaver})`, { atMs: scenarioStart, slot: leaver, kind: 'leave' }, scenarioStart + params.revocationDelayMs);
  const join = single(`one member joins (${slotName(params.members)})`, { atMs: scenarioStart, slot: slotName(params.members), kind: 'join' }, scenarioStart);
  const crash = single(`one member crashes (${crashed})`, { atMs: scenarioStart, slot: crashed, kind: 'crash' }, scenarioStart);

  // ----- 2. rolling restarts
  const restartCount = Math.round((params.members * params.restartPercent) / 100);
  const restarted = random.sample(slots, restartCount);
  const rolling = (isStatic: boolean, gapMs: number): ScenarioRuns => {
    const actions: Action[] = [];
    restarted.forEach((slot, k) => {
      const stopMs = scenarioStart + k * (params.downMs + gapMs);
      actions.push({ atMs: stopMs, slot, kind: isStatic ? 'static-leave' : 'leave' });
      actions.push({ atMs: stopMs + params.downMs, slot, kind: isStatic ? 'static-rejoin' : 'rejoin' });
    });
    const endMs = Math.max(...actions.map((a) => a.atMs)) + params.tailMs;
    const strata = runStrata(params, config, isStatic, actions, endMs);
    const eager = (['range', 'sticky'] as const).map((kind) => runEager(params, config, kind, isStatic, strata.phases, actions, endMs));
    const runs: ScenarioRuns = {
      title: `rolling restart of ${restartCount} members (${isStatic ? 'static' : 'dynamic'}), each down ${params.downMs / 1000} s, next stopped ${gapMs / 1000} s after the previous is back`,
      label: `${isStatic ? 'static' : 'dynamic'}, gap ${gapMs / 1000} s`,
      eventMs: scenarioStart,
      requestMs: scenarioStart,
      strata: strata.result,
      eager,
    };
    all.push(runs);
    return runs;
  };
  const rollingRuns = [rolling(false, params.gapMs), rolling(true, params.gapMs), rolling(false, 0), rolling(true, 0)];

  // ----- printing
  for (const s of all) {
    console.log(`## ${s.title}`);
    if (s.lastHeartbeatMs !== undefined && s === crash) console.log(`  (its last heartbeat was ${fmtInt(s.eventMs - s.lastHeartbeatMs)} ms before the crash; session timeout ${fmtInt(config.sessionTimeoutMs)} ms)`);
    for (const r of [s.strata, ...s.eager]) for (const line of describeRun(r, s.eventMs)) console.log(line);
    console.log('');
  }

  console.log('## Summary: single events (100 members, 1,000 partitions), Strata vs eager');
  const singleRows: string[][] = [];
  for (const [s, label, fromLabel] of [
    [leave, 'leave (epoch -1)', 'from the leave request'],
    [join, 'join', 'from the join'],
    [crash, 'crash', 'from the crash'],
  ] as const) {
    for (const r of [s.strata, ...s.eager]) {
      const fromMs = s === leave ? s.requestMs : s.eventMs;
      singleRows.push([
        label,
        r.model,
        `${fmtMs(r.tracker.lastFullyConsumedMs - fromMs)} ${fromLabel}`,
        fmtMs(r.tracker.lastChangeMs - fromMs),
        fmtInt(r.tracker.movements),
        r.targetMoves !== undefined ? fmtInt(r.targetMoves) : '-',
        String(r.tracker.pausedIdentities.size),
        fmtPs(unconsumedMs(r)),
      ]);
    }
  }
  console.log(table(['event', 'model', 'until every partition is consumed again', 'until the last change', 'movements', 'assignor minimum', 'members that paused', 'unconsumed partition-s'], singleRows));
  console.log('');

  console.log(`## Summary: rolling restarts of ${restartCount} members, each down ${params.downMs / 1000} s; gap = time from one member being back to the next one stopping (ratios Strata / eager)`);
  const rollingRows: string[][] = [];
  for (const s of rollingRuns) {
    for (const e of s.eager) {
      rollingRows.push([
        s.label,
        e.model,
        `${fmtInt(s.strata.tracker.movements)} / ${fmtInt(e.tracker.movements)}`,
        fmtRatio(s.strata.tracker.movements, e.tracker.movements),
        `${fmtPs(unconsumedMs(s.strata))} / ${fmtPs(unconsumedMs(e))}`,
        fmtRatio(unconsumedMs(s.strata), unconsumedMs(e)),
        `${s.strata.rebalances} / ${e.rebalances}`,
      ]);
    }
  }
  console.log(table(['schedule', 'eager model', 'movements Strata / eager', 'ratio', 'unconsumed partition-s Strata / eager', 'ratio', 'rebalances Strata / eager'], rollingRows));
  console.log('');
  console.log('## Coordinator real cost of a steady heartbeat (nothing to reconcile), by scale');
  console.log('(real time, machine-dependent; "share of a core" = per-heartbeat cost x members / heartbeat interval)');
  const costRows = [heartbeatCost(config, 1, params.members, params.partitions, 5), heartbeatCost(config, 1, 1_000, 10_000, 2), heartbeatCost(config, 100, 10, 100, 2), heartbeatCost(config, 300, 10, 100, 1)];
  console.log(table(['groups', 'members per group', 'partitions per group', 'members in all', 'join, mean', 'steady heartbeat, mean', 'max', 'share of a core'], costRows));
  console.log('');
  const cpu = process.cpuUsage(cpuStart);
  console.log(`total: ${((performance.now() - wallStart) / 1000).toFixed(1)} s real, ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms CPU for the whole bench`);
  const problems = [...all.flatMap((s) => [s.strata, ...s.eager])].filter((r) => !r.finalCheck.startsWith('ok') || (r.memberErrors ?? []).length > 0);
  if (problems.length > 0) {
    console.log(`PROBLEMS in ${problems.length} runs: ${problems.map((r) => r.model).join(', ')}`);
    process.exitCode = 1;
  }
}

/**
 * Real cost of one steady-state heartbeat (nothing to reconcile) as the number of members grows, in
 * one group and spread over many groups. Members join, the first assignment is made, then every
 * member heartbeats `rounds` times in turn, the virtual clock moving interval / members between two
 * heartbeats (so no session expires); only the coordinator.heartbeat() calls are timed.
 */
function heartbeatCost(config: GroupConfig, groups: number, membersPerGroup: number, partitions: number, rounds: number): string[] {
  const clock = new ManualClock(0);
  let nextId = 0;
  type Member = { groupId: string; memberId: string; memberEpoch: number; owned: Array<{ topic: string; partitions: number[] }> };
  const byId = new Map<string, Member>();
  const coordinator = new GroupCoordinator({
    clock,
    assignor: new StickyAssignor(),
    topics: { partitionCount: (topic) => (topic === TOPIC ? partitions : undefined) },
    config,
    logger: silentLogger,
    newMemberId: () => `m${String(nextId++).padStart(6, '0')}`,
    events: {
      onAssignmentChanged: (_groupId, response) => {
        const m = byId.get(response.memberId);
        if (m) {
          m.memberEpoch = response.memberEpoch;
          m.owned = response.assignment;
        }
      },
    },
  });
  const beat = (m: Member) => {
    const response = coordinator.heartbeat({ groupId: m.groupId, memberId: m.memberId, memberEpoch: m.memberEpoch, topics: [TOPIC], owned: m.owned, idleMs: 0 });
    m.memberEpoch = response.memberEpoch;
    m.owned = response.assignment;
  };
  const members: Member[] = [];
  const joinStart = performance.now();
  for (let g = 0; g < groups; g++) {
    for (let i = 0; i < membersPerGroup; i++) {
      const groupId = `group-${g}`;
      const response = coordinator.heartbeat({ groupId, memberId: '', memberEpoch: JOIN_EPOCH, topics: [TOPIC], owned: [], idleMs: 0 });
      const m: Member = { groupId, memberId: response.memberId, memberEpoch: response.memberEpoch, owned: response.assignment };
      members.push(m);
      byId.set(m.memberId, m);
    }
  }
  const joinMs = performance.now() - joinStart;
  clock.advance(config.initialRebalanceDelayMs);
  for (const m of members) beat(m);
  const stepMs = config.heartbeatIntervalMs / members.length;
  let timedMs = 0;
  let maxUs = 0;
  for (let r = 0; r < rounds; r++) {
    for (const m of members) {
      clock.advance(stepMs);
      const start = performance.now();
      beat(m);
      const took = performance.now() - start;
      timedMs += took;
      maxUs = Math.max(maxUs, took * 1000);
    }
  }
  coordinator.close();
  const perBeatUs = (timedMs * 1000) / (rounds * members.length);
  const total = groups * membersPerGroup;
  const assigned = members.reduce((n, m) => n + m.owned.reduce((k, a) => k + a.partitions.length, 0), 0);
  if (assigned !== groups * partitions) throw new Error(`heartbeat cost: ${assigned} partitions assigned, expected ${groups * partitions}`);
  return [
    fmtInt(groups),
    fmtInt(membersPerGroup),
    fmtInt(partitions),
    fmtInt(total),
    `${((joinMs * 1000) / total).toFixed(0)} us`,
    `${perBeatUs.toFixed(0)} us`,
    `${maxUs.toFixed(0)} us`,
    `${((perBeatUs * total) / (config.heartbeatIntervalMs * 1000) * 100).toFixed(1)} %`,
  ];
}

/** A short hash of the compiled group code that ran (dist/src/groups and dist/src/core). */
function compiledSourceHash(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const hash = createHash('sha256');
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.js')) hash.update(path.relative(here, full)).update(fs.readFileSync(full));
    }
  };
  try {
    for (const dir of ['groups', 'core']) walk(path.join(here, '..', 'src', dir));
    return hash.digest('hex').slice(0, 12);
  } catch {
    return 'unknown';
  }
}

main();
