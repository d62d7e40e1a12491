import { EventEmitter } from 'node:events';
import { Metadata } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { MAX_HEARTBEATS_PER_SECOND } from '../../src/core/limits.js';
import { silentLogger } from '../../src/core/logger.js';
import type { GroupHeartbeatResponse } from '../../src/generated/strata/v1/GroupHeartbeatResponse.js';
import { createGroupService, HeartbeatStreams } from '../../src/server/group-service.js';
import { MemoryBudget } from '../../src/server/memory-budget.js';
import { StreamRegistry } from '../../src/server/stream-registry.js';

/** A heartbeat call whose client reads every answer at once. */
class ReadingCall extends EventEmitter {
  /** As a call the auth gate passed carries it (no principal in it: ANONYMOUS). */
  readonly metadata = new Metadata();
  readonly cancelled = false;
  readonly writable = true;
  readonly writableLength = 0;
  readonly answers: GroupHeartbeatResponse[] = [];
  write(answer: GroupHeartbeatResponse, flushed?: () => void): boolean {
    this.answers.push(answer);
    flushed?.();
    return true;
  }
}

describe('the GroupHeartbeat stream on the server clock', () => {
  it(`refuses the heartbeat past ${MAX_HEARTBEATS_PER_SECOND} in one second (TOO_MANY_REQUESTS, not processed) and takes the next second's, on the manual clock`, () => {
    let processedCount = 0;
    const coordinator = {
      config: { heartbeatIntervalMs: 1_000, sessionTimeoutMs: 10_000 },
      streamLostGraceMs: 500,
      heartbeat: (request: { memberId: string; memberEpoch: number }) => {
        processedCount++;
        return { memberId: request.memberId, memberEpoch: request.memberEpoch, heartbeatIntervalMs: 1_000, assignment: [], offsetsEpoch: 0 };
      },
    };
    const clock = new ManualClock(1_700_000_000_000);
    const budget = new MemoryBudget(64 * 1024 * 1024);
    const service = createGroupService({ coordinator: coordinator as never, groupOffsets: {} as never, heartbeatStreams: new HeartbeatStreams(), streams: new StreamRegistry(), logger: silentLogger, budget, clock });
    const call = new ReadingCall();
    service.GroupHeartbeat(call as never);
    const heartbeat = () => {
      call.emit('data', { groupId: 'g', memberId: 'member-1', memberEpoch: 1, topics: ['t'], owned: [], instanceId: '', idleMs: 0 });
      return call.answers.at(-1)!.failure?.code ?? 'OK';
    };
    // Spread over the second: the window counts from its first heartbeat.
    for (let i = 0; i < MAX_HEARTBEATS_PER_SECOND; i++) {
      expect(heartbeat()).toBe('OK');
      clock.advance(10);
    }
    clock.advance(999 - 10 * MAX_HEARTBEATS_PER_SECOND);
    expect(heartbeat()).toBe('TOO_MANY_REQUESTS');
    expect(processedCount).toBe(MAX_HEARTBEATS_PER_SECOND);
    // A wall clock step is no new second; the monotonic second that ends is.
    clock.stepWallClock(5_000);
    expect(heartbeat()).toBe('TOO_MANY_REQUESTS');
    clock.advance(1);
    expect(heartbeat()).toBe('OK');
    expect(processedCount).toBe(MAX_HEARTBEATS_PER_SECOND + 1);
    // A wall clock stepped back does not hold a window open either.
    clock.stepWallClock(-3_600_000);
    for (let i = 1; i < MAX_HEARTBEATS_PER_SECOND; i++) expect(heartbeat()).toBe('OK');
    expect(heartbeat()).toBe('TOO_MANY_REQUESTS');
    clock.advance(1_000);
    expect(heartbeat()).toBe('OK');
    expect(call.answers).toHaveLength(2 * MAX_HEARTBEATS_PER_SECOND + 4);
    call.emit('cancelled');
    expect(budget.usedBytes).toBe(0);
  });
});
