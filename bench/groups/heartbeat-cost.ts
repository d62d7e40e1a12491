import { performance } from 'node:perf_hooks';
import { ManualClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import { StickyAssignor } from '../../src/groups/assignors/sticky-assignor.js';
import type { GroupConfig } from '../../src/groups/group-config.js';
import { GroupCoordinator, JOIN_EPOCH } from '../../src/groups/group-coordinator.js';
import { fmtInt } from './format.js';
import { TOPIC } from './params.js';

/**
 * Real cost of one steady-state heartbeat (nothing to reconcile) as the number of members grows, in
 * one group and spread over many groups. Members join, the first assignment is made, then every
 * member heartbeats `rounds` times in turn, the virtual clock moving interval / members between two
 * heartbeats (so no session expires); only the coordinator.heartbeat() calls are timed.
 */
export function heartbeatCost(config: GroupConfig, groups: number, membersPerGroup: number, partitions: number, rounds: number): string[] {
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
