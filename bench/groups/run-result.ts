import type { Tracker } from './tracker.js';

export interface RunResult {
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

export function checkFinal(tracker: Tracker, partitions: number, runningMembers: number): string {
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

export function unconsumedMs(r: RunResult): number {
  return r.tracker.gapMs.reduce((a, b) => a + b, 0);
}
