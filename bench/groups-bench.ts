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
 * EAGER_MODEL (bench/groups/eager-world.ts) and printed by the bench.
 *
 *   make build && node dist/bench/groups-bench.js
 *   options: --seed=N (default 1) --members=N (100) --partitions=N (1000) --revocation-delay-ms=N (50)
 *            --down-ms=N (5000) --gap-ms=N (5000) --restart-percent=N (20)
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { resolveGroupConfig } from '../src/groups/group-config.js';
import { compiledSourceHash } from './groups/compiled-source-hash.js';
import type { Params } from './groups/params.js';
import { printDefinitions, printReport } from './groups/print-report.js';
import { runScenarios } from './groups/run-scenarios.js';

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

function main(): void {
  const wallStart = performance.now();
  const cpuStart = process.cpuUsage();
  const params = PARAMS;
  const config = resolveGroupConfig();

  console.log('# Strata consumer-group rebalance benchmark (virtual time)');
  console.log(`date:     ${new Date().toISOString()}`);
  console.log(`command:  node ${path.relative(process.cwd(), process.argv[1] ?? '') || process.argv[1]} ${argv.join(' ')}`.trimEnd());
  console.log(`machine:  ${os.cpus()[0]?.model ?? 'unknown cpu'}, ${os.cpus().length} vCPU, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, ${os.type()} ${os.release()}, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log(`node:     ${process.version}`);
  console.log(`code:     sha256 ${compiledSourceHash()} of dist/src/{groups,core}/**/*.js (the code that ran)`);
  console.log(`params:   seed ${params.seed}, ${params.members} members, ${params.partitions} partitions of one topic, revocation delay ${params.revocationDelayMs} ms, warm-up ${params.warmupMs / 1000} s`);
  console.log(`config:   resolveGroupConfig() defaults: ${JSON.stringify(config)}`);
  console.log('');
  printDefinitions(params);

  const scenarios = runScenarios(params, config);
  printReport(scenarios, params, config);

  const cpu = process.cpuUsage(cpuStart);
  console.log(`total: ${((performance.now() - wallStart) / 1000).toFixed(1)} s real, ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms CPU for the whole bench`);
  const problems = [...scenarios.all.flatMap((s) => [s.strata, ...s.eager])].filter((r) => !r.finalCheck.startsWith('ok') || (r.memberErrors ?? []).length > 0);
  if (problems.length > 0) {
    console.log(`PROBLEMS in ${problems.length} runs: ${problems.map((r) => r.model).join(', ')}`);
    process.exitCode = 1;
  }
}

main();
