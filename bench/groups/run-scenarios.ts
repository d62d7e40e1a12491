import type { GroupConfig } from '../../src/groups/group-config.js';
import { slotName, type Action } from './action.js';
import { EagerWorld } from './eager-world.js';
import type { Params } from './params.js';
import { checkFinal, type RunResult } from './run-result.js';
import { SeededRandom } from '../../src/core/seeded-random.js';
import { StrataWorld } from './strata-world.js';

export interface ScenarioRuns {
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

/** Every schedule run, and the ones the summaries single out. */
export interface Scenarios {
  /** In the order they ran, which is the order they are printed. */
  all: ScenarioRuns[];
  leave: ScenarioRuns;
  join: ScenarioRuns;
  crash: ScenarioRuns;
  rolling: ScenarioRuns[];
  restartCount: number;
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

function runEager(params: Params, config: GroupConfig, kind: 'range' | 'sticky', isStatic: boolean, phases: ReadonlyMap<string, number>, actions: readonly Action[], endMs: number): RunResult {
  const world = new EagerWorld(params, config, kind, new SeededRandom(params.seed + 1_000_003), params.warmupMs, phases, isStatic);
  for (const action of actions) world.clock.at(action.atMs, () => world.perform(action));
  const cpuStart = process.cpuUsage();
  world.clock.runUntil(endMs);
  const cpu = process.cpuUsage(cpuStart);
  return world.result((cpu.user + cpu.system) / 1000, isStatic);
}

/** The eager runs of a schedule take the heartbeat phases of its Strata run, so both models see the same members beat at the same times. */
export function runScenarios(params: Params, config: GroupConfig): Scenarios {
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

  return { all, leave, join, crash, rolling: rollingRuns, restartCount };
}
