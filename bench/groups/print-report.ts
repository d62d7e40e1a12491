import type { GroupConfig } from '../../src/groups/group-config.js';
import { EAGER_MODEL } from './eager-world.js';
import { fmtInt, fmtMs, fmtPs, fmtRatio, table } from './format.js';
import { heartbeatCost } from './heartbeat-cost.js';
import type { Params } from './params.js';
import { unconsumedMs, type RunResult } from './run-result.js';
import type { Scenarios } from './run-scenarios.js';
import { NOT_STARTED, OWNER_DOWN, REVOKING, UNASSIGNED } from './tracker.js';

/** What the numbers of the report mean, and the eager model they are compared with. */
export function printDefinitions(params: Params): void {
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

/** Every run in detail, the two summary tables, then the heartbeat cost by scale (measured here, in real time). */
export function printReport(scenarios: Scenarios, params: Params, config: GroupConfig): void {
  for (const s of scenarios.all) {
    console.log(`## ${s.title}`);
    if (s.lastHeartbeatMs !== undefined && s === scenarios.crash) console.log(`  (its last heartbeat was ${fmtInt(s.eventMs - s.lastHeartbeatMs)} ms before the crash; session timeout ${fmtInt(config.sessionTimeoutMs)} ms)`);
    for (const r of [s.strata, ...s.eager]) for (const line of describeRun(r, s.eventMs)) console.log(line);
    console.log('');
  }

  console.log('## Summary: single events (100 members, 1,000 partitions), Strata vs eager');
  const singleRows: string[][] = [];
  for (const [s, label, fromLabel] of [
    [scenarios.leave, 'leave (epoch -1)', 'from the leave request'],
    [scenarios.join, 'join', 'from the join'],
    [scenarios.crash, 'crash', 'from the crash'],
  ] as const) {
    for (const r of [s.strata, ...s.eager]) {
      const fromMs = s === scenarios.leave ? s.requestMs : s.eventMs;
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

  console.log(`## Summary: rolling restarts of ${scenarios.restartCount} members, each down ${params.downMs / 1000} s; gap = time from one member being back to the next one stopping (ratios Strata / eager)`);
  const rollingRows: string[][] = [];
  for (const s of scenarios.rolling) {
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
}
