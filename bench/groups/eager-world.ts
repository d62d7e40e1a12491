/** The eager (classic JoinGroup/SyncGroup) model, as EAGER_MODEL describes it (the bench prints it). */
import type { TimerHandle } from '../../src/core/clock.js';
import { StickyAssignor } from '../../src/groups/assignors/sticky-assignor.js';
import type { GroupConfig } from '../../src/groups/group-config.js';
import { instanceIdOf, type Action } from './action.js';
import { TOPIC, type Params } from './params.js';
import { checkFinal, type RunResult } from './run-result.js';
import type { SeededRandom } from '../../src/core/seeded-random.js';
import { SimClock } from './sim-clock.js';
import { OWNER_DOWN, Tracker, UNASSIGNED, type GapKind, type HolderView } from './tracker.js';

export const EAGER_MODEL = [
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

/** The first heartbeat at or after `nowMs` of a member whose heartbeats fall on `phaseMs` modulo the interval. */
const nextBeat = (phaseMs: number, nowMs: number, intervalMs: number) => nowMs + ((((phaseMs - nowMs) % intervalMs) + intervalMs) % intervalMs);
/** The last heartbeat at or before `nowMs`. */
const previousBeat = (phaseMs: number, nowMs: number, intervalMs: number) => nowMs - ((((nowMs - phaseMs) % intervalMs) + intervalMs) % intervalMs);

export class EagerMember {
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

export class EagerWorld implements HolderView {
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
