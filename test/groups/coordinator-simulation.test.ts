import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { FencedInstanceIdError, StrataError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import type { AssignorInput, GroupAssignment, PartitionAssignor } from '../../src/groups/assignors/partition-assignor.js';
import { StickyAssignor } from '../../src/groups/assignors/sticky-assignor.js';
import { resolveGroupConfig } from '../../src/groups/group-config.js';
import { GroupCoordinator, type HeartbeatResponse, type RemovalReason } from '../../src/groups/group-coordinator.js';
import { SeededRandom, seedsFromEnv } from '../helpers/seeded-random.js';

const TOPIC = 'events';
const PARTITIONS = 24;
const STEPS = 3_000;
const STEP_MS = 100;
const CONFIG = resolveGroupConfig({ sessionTimeoutMs: 6_000, heartbeatIntervalMs: 1_000, revocationTimeoutMs: 4_000, initialRebalanceDelayMs: 1_000, rebalanceDelayMs: 300, maxRebalanceDelayMs: 2_400, streamLostGraceMs: 1_000 });
/** Longest a membership change may wait for its recomputation: the widest window plus the hold for a dying member. */
const MAX_PENDING_MS = CONFIG.maxRebalanceDelayMs + Math.max(CONFIG.streamLostGraceMs, CONFIG.heartbeatIntervalMs) + STEP_MS;

/**
 * The sticky assignor, with a check of each answer: the partitions it moves between members are
 * exactly the minimum a balanced answer needs (each member gives up only what exceeds its new count).
 */
class CheckedAssignor implements PartitionAssignor {
  readonly name = 'checked-sticky';
  private readonly inner = new StickyAssignor();
  readonly violations: string[] = [];
  lastMoves = 0;

  assign(input: AssignorInput): GroupAssignment {
    const output = this.inner.assign(input);
    const owner = new Map<number, string>();
    for (const m of input.members) for (const p of m.previous.get(TOPIC) ?? []) if (!owner.has(p)) owner.set(p, m.memberId);
    let moves = 0;
    let minimum = 0;
    for (const m of input.members) {
      const after = output.get(m.memberId)?.get(TOPIC) ?? [];
      for (const p of after) if (owner.has(p) && owner.get(p) !== m.memberId) moves++;
      const kept = [...owner].filter(([, id]) => id === m.memberId).length;
      minimum += Math.max(0, kept - after.length);
    }
    if (moves !== minimum) this.violations.push(`the assignor moved ${moves} partitions where ${minimum} were needed`);
    this.lastMoves = moves;
    return output;
  }
}

/**
 * A simulated consumer: it heartbeats on its interval (or slower, when told to), owns what the last
 * response gave it, and lets revoked partitions go at once or after a delay.
 */
interface SimMember {
  name: string;
  instanceId: string | undefined;
  memberId: string;
  memberEpoch: number;
  owned: Set<number>;
  nextHeartbeatMs: number;
  heartbeatEveryMs: number;
  revokeDelayMs: number;
  /** When it may drop partitions it was asked to release. */
  pendingRevocation: Map<number, number>;
  isAlive: boolean;
  /** A crash-looping process: it dies this long after each start, and its supervisor restarts it. */
  crashLoopLifeMs?: number;
  diesAtMs?: number;
  /** Restarts left before the loop ends (the bug is fixed): then it runs like the others. */
  restartsLeft?: number;
  /** A stalled process (long GC, SIGSTOP): no heartbeat until then, stream still open. */
  stalledUntilMs?: number;
  isFenced?: boolean;
}

function ownedList(member: SimMember) {
  return member.owned.size ? [{ topic: TOPIC, partitions: [...member.owned] }] : [];
}

function runSimulation(seed: number) {
  const random = new SeededRandom(seed);
  const clock = new ManualClock(0);
  let idCounter = 0;
  const removed: Array<{ memberId: string; reason: RemovalReason }> = [];
  const rebalances: Array<{ moved: number }> = [];
  const movementViolations: string[] = [];
  const members = new Map<string, SimMember>();
  const assignor = new CheckedAssignor();
  let pendingSinceMs: number | undefined;
  let lastTargetEpoch = 0;
  const counters = { streamLost: 0, fenced: 0, crashLoopRestarts: 0, stalls: 0 };
  const coordinator = new GroupCoordinator({
    clock,
    assignor,
    topics: { partitionCount: (t) => (t === TOPIC ? PARTITIONS : undefined) },
    config: CONFIG,
    logger: silentLogger,
    newMemberId: () => `m${String(idCounter++).padStart(4, '0')}`,
    events: {
      onAssignmentChanged: (_group, response) => {
        const member = [...members.values()].find((m) => m.memberId === response.memberId && m.isAlive);
        if (member) apply(member, response);
      },
      onMemberRemoved: (_group, memberId, reason) => removed.push({ memberId, reason }),
      onMemberFenced: (_group, memberId) => {
        // As the server pushes FENCED_INSTANCE_ID to its stream: the fenced process stops at once.
        const member = [...members.values()].find((m) => m.memberId === memberId && m.isAlive);
        if (member) fenceMember(member);
      },
      onRebalance: (_group, epoch, moved) => {
        rebalances.push({ moved });
        // What the coordinator applies moves no more than the assignor's minimum (protection during
        // churn may keep some partitions where they are; nothing else adds moves).
        if (moved > assignor.lastMoves) movementViolations.push(`t=${clock.nowMs()}: ${moved} partitions moved, the assignor's minimum was ${assignor.lastMoves}`);
        lastTargetEpoch = epoch;
        // Changes after this one in the same step wait from now.
        pendingSinceMs = undefined;
      },
    },
  });
  const context = (step: number) => `seed ${seed} (STRATA_SEED=${seed} replays it), step ${step}, t=${clock.nowMs()} ms`;

  function apply(member: SimMember, response: HeartbeatResponse) {
    member.memberId = response.memberId;
    member.memberEpoch = response.memberEpoch;
    const assigned = new Set(response.assignment.find((a) => a.topic === TOPIC)?.partitions ?? []);
    for (const p of member.owned) {
      if (!assigned.has(p) && !member.pendingRevocation.has(p)) member.pendingRevocation.set(p, clock.nowMs() + member.revokeDelayMs);
    }
    for (const p of assigned) member.owned.add(p);
  }

  function fenceMember(member: SimMember) {
    member.isFenced = true;
    member.isAlive = false;
    member.owned.clear();
    member.pendingRevocation.clear();
    counters.fenced++;
  }

  function heartbeat(member: SimMember, epoch = member.memberEpoch) {
    try {
      const response = coordinator.heartbeat({ groupId: 'g', memberId: member.memberId, instanceId: member.instanceId, memberEpoch: epoch, topics: [TOPIC], owned: ownedList(member), idleMs: 0 });
      if (epoch >= 0) apply(member, response);
    } catch (error) {
      if (!(error instanceof StrataError)) throw error;
      if (error instanceof FencedInstanceIdError) {
        // Fatal: a fenced duplicate stops and never rejoins (it would fence the other in turn).
        fenceMember(member);
        return;
      }
      // Fenced or unknown: drop everything and rejoin, as the client does.
      member.owned.clear();
      member.pendingRevocation.clear();
      member.memberEpoch = 0;
      member.memberId = '';
      heartbeat(member, 0);
    }
  }

  function join(name: string, instanceId: string | undefined) {
    const member: SimMember = {
      name, instanceId, memberId: '', memberEpoch: 0, owned: new Set(), nextHeartbeatMs: clock.nowMs(),
      heartbeatEveryMs: CONFIG.heartbeatIntervalMs, revokeDelayMs: random.chance(0.2) ? random.int(500, 6_000) : 0,
      pendingRevocation: new Map(), isAlive: true,
    };
    members.set(name, member);
    heartbeat(member, 0);
  }

  let names = 0;
  let crashLoopStarted = false;
  for (let i = 0; i < 4; i++) join(`c${names++}`, random.chance(0.5) ? `static-${i}` : undefined);
  let lastChangeMs = 0;
  for (let step = 0; step < STEPS; step++) {
    // One random event now and then.
    const roll = random.next();
    const alive = [...members.values()].filter((m) => m.isAlive);
    if (roll < 0.01 && alive.length < 10) {
      join(`c${names++}`, random.chance(0.5) ? `static-${names}` : undefined);
      lastChangeMs = clock.nowMs();
    } else if (roll < 0.015 && alive.length > 1) {
      const leaver = random.pick(alive);
      heartbeat(leaver, -1);
      leaver.isAlive = false;
      lastChangeMs = clock.nowMs();
    } else if (roll < 0.02 && alive.length > 1) {
      // A crash: it simply stops; the session timeout must notice.
      const victim = random.pick(alive);
      victim.isAlive = false;
      lastChangeMs = clock.nowMs();
    } else if (roll < 0.025) {
      // A static member restarts quickly: same instance id, new process, nothing owned yet.
      const statics = alive.filter((m) => m.instanceId !== undefined);
      if (statics.length > 0) {
        const restarting = random.pick(statics);
        const before = (coordinator.describeGroup('g')?.members ?? []);
        const wasKnown = before.some((m) => m.memberId === restarting.memberId);
        const moves = rebalances.length;
        restarting.isAlive = false;
        const replacement: SimMember = { ...restarting, memberId: '', memberEpoch: 0, owned: new Set(), pendingRevocation: new Map(), isAlive: true };
        members.set(`${restarting.name}'`, replacement);
        heartbeat(replacement, 0);
        if (wasKnown) {
          // Nothing is recomputed and nobody else loses anything: the instance takes its own place
          // back. (Others may gain partitions their target already held, if the old process was
          // still releasing them: the new one owns nothing yet.)
          const partitionsOf = (list: typeof before) =>
            new Map(list.filter((m) => m.instanceId !== restarting.instanceId).map((m) => [m.memberId, new Set(m.assignment.flatMap((a) => a.partitions))]));
          const othersBefore = partitionsOf(before);
          const othersAfter = partitionsOf(coordinator.describeGroup('g')?.members ?? []);
          for (const [memberId, partitions] of othersBefore) {
            for (const p of partitions) expect(othersAfter.get(memberId)?.has(p), `${context(step)}: a static restart took ${p} from ${memberId}`).toBe(true);
          }
          expect(rebalances.length, `${context(step)}: a static restart recomputes nothing`).toBe(moves);
          expect((coordinator.describeGroup('g')?.members ?? []).length, context(step)).toBe(before.length);
        }
      }
    } else if (roll < 0.03 && alive.length > 0) {
      random.pick(alive).heartbeatEveryMs = random.chance(0.5) ? CONFIG.heartbeatIntervalMs * 3 : CONFIG.heartbeatIntervalMs;
    } else if (roll < 0.035 && alive.length > 1) {
      // A process dies and the server sees its stream break (SIGKILL): a dynamic member goes after the grace.
      const victim = random.pick(alive);
      victim.isAlive = false;
      coordinator.streamLost('g', victim.memberId);
      counters.streamLost++;
      lastChangeMs = clock.nowMs();
    } else if (roll < 0.038 && alive.length > 0) {
      // The stream breaks and the client reconnects within the grace: nothing may move.
      const member = random.pick(alive);
      coordinator.streamLost('g', member.memberId);
      member.nextHeartbeatMs = Math.min(member.nextHeartbeatMs, clock.nowMs() + random.int(0, CONFIG.streamLostGraceMs - STEP_MS));
    } else if (roll < 0.040 && alive.length < 10 && !crashLoopStarted) {
      // A crash loop: a member that dies (stream broken) soon after each start, restarted by its supervisor.
      crashLoopStarted = true;
      const isStatic = random.chance(0.5);
      join(`loop${names++}`, isStatic ? `looper-${names}` : undefined);
      const looper = [...members.values()].at(-1)!;
      looper.crashLoopLifeMs = random.int(500, 4_000);
      looper.diesAtMs = clock.nowMs() + looper.crashLoopLifeMs;
      looper.restartsLeft = random.int(5, 25);
      lastChangeMs = clock.nowMs();
    } else if (roll < 0.042) {
      // A templating mistake: a second process with an instance id that a live member holds.
      const known = new Set(coordinator.describeGroup('g')?.members.map((m) => m.memberId) ?? []);
      const statics = alive.filter((m) => m.instanceId !== undefined && m.crashLoopLifeMs === undefined && m.stalledUntilMs === undefined && known.has(m.memberId));
      if (statics.length > 0) {
        const original = random.pick(statics);
        join(`dup${names++}`, original.instanceId);
        const duplicate = [...members.values()].at(-1)!;
        // The older member is told at once (pushed FENCED_INSTANCE_ID): it owns nothing from now on.
        expect(original.isFenced, `${context(step)}: the older holder of ${original.instanceId} is fenced`).toBe(true);
        expect(duplicate.isAlive).toBe(true);
        lastChangeMs = clock.nowMs();
      }
    } else if (roll < 0.044 && alive.length > 1) {
      // A stall longer than the session (a long pause): removed, then it finds out and rejoins.
      const slow = random.pick(alive);
      slow.stalledUntilMs = clock.nowMs() + CONFIG.sessionTimeoutMs + random.int(0, 2_000);
      counters.stalls++;
      lastChangeMs = clock.nowMs();
    }

    clock.advance(STEP_MS);
    for (const member of [...members.values()]) {
      if (!member.isAlive) continue;
      if (member.diesAtMs !== undefined && clock.nowMs() >= member.diesAtMs) {
        member.isAlive = false;
        coordinator.streamLost('g', member.memberId);
        // Its supervisor restarts it a moment later (same instance id if static), up to the end of the run.
        const isLast = member.restartsLeft! <= 1;
        const restarted: SimMember = {
          ...member, memberId: '', memberEpoch: 0, owned: new Set(), pendingRevocation: new Map(), isAlive: true, nextHeartbeatMs: clock.nowMs(), restartsLeft: member.restartsLeft! - 1,
          ...(isLast ? { crashLoopLifeMs: undefined, diesAtMs: undefined } : { diesAtMs: clock.nowMs() + 200 + member.crashLoopLifeMs! }),
        };
        members.delete(member.name);
        members.set(`${member.name}'`, restarted);
        restarted.name = `${member.name}'`;
        heartbeat(restarted, 0);
        counters.crashLoopRestarts++;
        lastChangeMs = clock.nowMs();
        continue;
      }
      if (member.stalledUntilMs !== undefined) {
        if (clock.nowMs() < member.stalledUntilMs) continue;
        // It finds out it was removed and rejoins: a change like any join.
        member.stalledUntilMs = undefined;
        lastChangeMs = clock.nowMs();
      }
      for (const [p, dueMs] of member.pendingRevocation) {
        if (clock.nowMs() >= dueMs) {
          member.owned.delete(p);
          member.pendingRevocation.delete(p);
        }
      }
      if (clock.nowMs() >= member.nextHeartbeatMs) {
        member.nextHeartbeatMs = clock.nowMs() + member.heartbeatEveryMs;
        heartbeat(member);
      }
    }

    // Invariant: a membership change is recomputed within the widest window plus the hold.
    const groupEpoch = coordinator.describeGroup('g')?.groupEpoch ?? 0;
    if (groupEpoch > lastTargetEpoch) pendingSinceMs ??= clock.nowMs();
    else pendingSinceMs = undefined;
    if (pendingSinceMs !== undefined) expect(clock.nowMs() - pendingSinceMs, `${context(step)}: a change waits for its recomputation`).toBeLessThanOrEqual(MAX_PENDING_MS);
    expect(coordinator.describeGroup('g')?.rebalanceWindowMs ?? 0, context(step)).toBeLessThanOrEqual(CONFIG.maxRebalanceDelayMs);
    // Invariant: a fenced process owns nothing.
    for (const member of members.values()) if (member.isFenced) expect(member.owned.size, context(step)).toBe(0);
    // Invariant: no partition is owned by two live members that the coordinator still knows.
    const known = new Set(coordinator.describeGroup('g')?.members.map((m) => m.memberId) ?? []);
    const ownerOf = new Map<number, string>();
    for (const member of members.values()) {
      if (!member.isAlive || !known.has(member.memberId)) continue;
      for (const p of member.owned) {
        expect(ownerOf.get(p), `${context(step)}: partition ${p} owned by ${ownerOf.get(p)} and ${member.name}`).toBeUndefined();
        ownerOf.set(p, member.name);
      }
    }
    // Invariant: once the group has been quiet long enough, every partition is assigned and balanced.
    const quietForMs = clock.nowMs() - lastChangeMs;
    const allSteady = [...members.values()].filter((m) => m.isAlive).every((m) => m.heartbeatEveryMs === CONFIG.heartbeatIntervalMs && m.revokeDelayMs === 0 && m.crashLoopLifeMs === undefined && m.stalledUntilMs === undefined);
    // (A member that joined while the group churned waits a session timeout for its share: protection.)
    if (allSteady && quietForMs > CONFIG.sessionTimeoutMs + CONFIG.revocationTimeoutMs + MAX_PENDING_MS + 3 * CONFIG.heartbeatIntervalMs) {
      const description = coordinator.describeGroup('g');
      if (description && description.members.length > 0) {
        const counts = description.members.map((m) => m.assignment.reduce((n, a) => n + a.partitions.length, 0));
        expect(counts.reduce((a, b) => a + b, 0), `${context(step)}: every partition assigned when quiet`).toBe(PARTITIONS);
        expect(Math.max(...counts) - Math.min(...counts), `${context(step)}: balanced within one`).toBeLessThanOrEqual(1);
      }
    }
  }
  coordinator.close();
  return { removed, rebalances, movementViolations: [...movementViolations, ...assignor.violations], counters };
}

describe('group coordinator simulation (virtual clock, seeded schedule)', () => {
  for (const seed of seedsFromEnv([1, 2, 3, 4, 5, 6, 7, 8])) {
    it(`keeps ownership exclusive, assigns everything when quiet, and never storms (seed ${seed})`, () => {
      const { removed, rebalances, movementViolations, counters } = runSimulation(seed);
      expect(movementViolations, `seed ${seed} (STRATA_SEED=${seed} replays it)`).toEqual([]);
      expect(removed.length).toBeGreaterThan(0);
      // The failures this run was meant to have did happen (a schedule without them proves nothing).
      expect(counters.streamLost + counters.crashLoopRestarts, `seed ${seed}: ${JSON.stringify(counters)}`).toBeGreaterThan(0);
      if (counters.streamLost > 0) expect(removed.some((r) => r.reason === 'stream-lost'), `seed ${seed}`).toBe(true);
      // Bounded movement: no recomputation moves more than the whole topic, and most move little.
      for (const r of rebalances) expect(r.moved).toBeLessThanOrEqual(PARTITIONS);
      const churn = rebalances.reduce((n, r) => n + r.moved, 0);
      expect(churn, `seed ${seed}: total moves ${churn} over ${rebalances.length} rebalances`).toBeLessThan(rebalances.length * PARTITIONS);
    });
  }
});
