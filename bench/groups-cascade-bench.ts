/**
 * Issue 13's cascade as a bench, in virtual time (bench/groups/cascade-world.ts says what is
 * simulated and what is real): the REAL GroupCoordinator and StickyAssignor of the tree it is
 * compiled in, simulated consumer processes under a supervisor. Every time is virtual and exact; the
 * same seedless schedule gives the same numbers on every run of the same code.
 *
 *   1. Cascade: 8 members, 24 partitions, 2,000 records/s, session 10 s; every member gives up
 *      (exits, restarted 1 s later as a new dynamic member) when a record it is about to process is
 *      older than 5 s (half the session timeout). At 30 s two members are SIGKILLed (restarted too).
 *      Counted over the 160 s after the kill: rebalances, group epoch changes, crashes, partitions
 *      moved, records processed and processed twice, time to settle, lag at the end.
 *      Run twice: the dead processes' streams seen to break (SIGKILL), and not seen (the host
 *      vanished: only the session timeout notices), which leaves the storm damping alone to act.
 *   2. Rolling restart of the 8 dynamic members (no giving up), each down 3 s, the next 5 s after:
 *      partition-seconds with no running member consuming the partition, when the leave is lost
 *      (close() resolved before it was sent, then exit: today's client) and when close() waits for
 *      the leave to be acknowledged (the client change of issue 13).
 *
 * To compare with the code before a change, compile the same two files in a checkout of it and run
 * both in the same session:
 *   make build && node dist/bench/groups-cascade-bench.js
 */
import * as os from 'node:os';
import { resolveGroupConfig } from '../src/groups/group-config.js';
import { CascadeWorld, type CascadeParams } from './groups/cascade-world.js';
import { compiledSourceHash } from './groups/compiled-source-hash.js';

const SESSION_TIMEOUT_MS = 10_000;
const KILL_AT_MS = 30_000;
const AFTER_KILL_MS = 160_000;
const MEMBERS = 8;
const BASE: CascadeParams = {
  members: MEMBERS,
  partitions: 24,
  recordsPerSecond: 2_000,
  // 2,000 records/s over 6 members is 56 % of each one's capacity: room to catch up.
  capacityPerSecond: 600,
  giveUpAgeMs: SESSION_TIMEOUT_MS / 2,
  restartDelayMs: 1_000,
  commitIntervalMs: 1_000,
  tickMs: 10,
  isStreamLossSeen: true,
};
// Only settings both trees know: the new ones (stream grace, window bound) keep their defaults.
const CONFIG = resolveGroupConfig({ sessionTimeoutMs: SESSION_TIMEOUT_MS });

function cascade(isStreamLossSeen: boolean) {
  const world = new CascadeWorld({ ...BASE, isStreamLossSeen }, CONFIG);
  for (let slot = 0; slot < MEMBERS; slot++) world.clock.setTimeout(() => world.start(slot), slot * 97);
  world.runUntil(KILL_AT_MS);
  world.resetCounters();
  const epochAtKill = world.groupEpoch();
  world.kill(2, { restart: true, isCrash: false });
  world.kill(5, { restart: true, isCrash: false });
  const endMs = KILL_AT_MS + AFTER_KILL_MS;
  world.runUntil(endMs);
  const settledAfterMs = world.lastUnsettledMs - KILL_AT_MS;
  const result = {
    streamLostSignal: world.hasStreamLost ? (isStreamLossSeen ? 'seen' : 'not seen (host gone)') : 'absent (code before issue 13)',
    rebalances: world.counters.rebalances,
    groupEpochChanges: world.groupEpoch() - epochAtKill,
    crashes: world.counters.crashes,
    partitionsMoved: world.counters.moved,
    recordsProcessed: world.counters.processed,
    duplicates: world.counters.duplicates,
    // Unsettled until the end (or in its last 10 s): it never settled within the run.
    settledAfterS: world.lastUnsettledMs >= endMs - 10_000 ? `no (unsettled at ${(endMs - KILL_AT_MS) / 1000} s)` : (settledAfterMs / 1000).toFixed(1),
    lagRecordsAtEnd: world.lagRecords(),
    maxLagAgeAtEndS: (world.maxLagAgeMs / 1000).toFixed(1),
    pausedPartitionS: (world.counters.pausedPartitionMs / 1000).toFixed(1),
  };
  world.close();
  return result;
}

function rollingRestart(isLeaveAcknowledged: boolean) {
  const world = new CascadeWorld({ ...BASE, giveUpAgeMs: Number.POSITIVE_INFINITY }, CONFIG);
  for (let slot = 0; slot < MEMBERS; slot++) world.clock.setTimeout(() => world.start(slot), slot * 97);
  world.runUntil(KILL_AT_MS);
  world.resetCounters();
  const downMs = 3_000;
  const gapMs = 5_000;
  for (let slot = 0; slot < MEMBERS; slot++) {
    const stopMs = KILL_AT_MS + slot * (downMs + gapMs);
    world.clock.setTimeout(() => (isLeaveAcknowledged ? world.leave(slot) : world.kill(slot, { restart: false, isCrash: false })), stopMs - world.clock.nowMs());
    world.clock.setTimeout(() => world.start(slot), stopMs + downMs - world.clock.nowMs());
  }
  const endMs = KILL_AT_MS + MEMBERS * (downMs + gapMs) + 2 * SESSION_TIMEOUT_MS;
  world.runUntil(endMs);
  const result = {
    streamLostSignal: world.hasStreamLost,
    close: isLeaveAcknowledged ? 'leave acknowledged' : 'leave lost, exit',
    pausedPartitionS: (world.counters.pausedPartitionMs / 1000).toFixed(1),
    rebalances: world.counters.rebalances,
    partitionsMoved: world.counters.moved,
    duplicates: world.counters.duplicates,
  };
  world.close();
  return result;
}

process.stdout.write(`groups cascade bench: node ${process.version}, ${os.cpus().length} cpus, compiled group code ${compiledSourceHash()}\n`);
process.stdout.write(`config: ${JSON.stringify(CONFIG)}\nparams: ${JSON.stringify(BASE)}\n\n`);
process.stdout.write(`1. cascade (2 of 8 SIGKILLed at ${KILL_AT_MS / 1000} s, counted over ${AFTER_KILL_MS / 1000} s):\n`);
for (const isSeen of [true, false]) process.stdout.write(`${JSON.stringify(cascade(isSeen))}\n`);
process.stdout.write('\n');
process.stdout.write('2. rolling restart of 8 dynamic members (down 3 s each, next 5 s after):\n');
for (const isAcked of [false, true]) process.stdout.write(`${JSON.stringify(rollingRestart(isAcked))}\n`);
