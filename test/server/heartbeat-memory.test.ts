import { EventEmitter } from 'node:events';
import { Metadata } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import { createGroupService, HeartbeatStreams } from '../../src/server/group-service.js';
import { MemoryBudget } from '../../src/server/memory-budget.js';
import { StreamRegistry } from '../../src/server/stream-registry.js';

/** A heartbeat call whose client reads nothing: every write stays queued (its callback is held). */
class UnreadCall extends EventEmitter {
  /** As a call the auth gate passed carries it (no principal in it: ANONYMOUS). */
  readonly metadata = new Metadata();
  readonly cancelled = false;
  readonly writable = true;
  readonly queued: Array<() => void> = [];
  status: { code?: number; details?: string } | undefined;
  get writableLength(): number {
    return this.queued.length;
  }
  write(_message: unknown, flushed: () => void): boolean {
    this.queued.push(flushed);
    return false;
  }
}

/** Every answer carries an assignment of 2,000 partitions: about 10 KB as the budget counts it. */
const coordinator = {
  config: { heartbeatIntervalMs: 1_000 },
  heartbeat: (request: { memberId: string }) => ({
    memberId: request.memberId || 'member-1',
    memberEpoch: 1,
    heartbeatIntervalMs: 1_000,
    assignment: [{ topic: 'wide', partitions: Array.from({ length: 2_000 }, (_, i) => i) }],
    offsetsEpoch: 0,
  }),
};

function startHeartbeatStream(budget: MemoryBudget): UnreadCall {
  const service = createGroupService({ coordinator: coordinator as never, groupOffsets: {} as never, heartbeatStreams: new HeartbeatStreams(), streams: new StreamRegistry(), logger: silentLogger, budget, clock: new ManualClock(0) });
  const call = new UnreadCall();
  call.on('error', (status) => (call.status = status));
  service.GroupHeartbeat(call as never);
  return call;
}

const heartbeat = { groupId: 'g', memberId: 'member-1', memberEpoch: 1, topics: ['wide'], owned: [], instanceId: '', idleMs: 0 };

describe('heartbeat answers and the memory budget', () => {
  it('ends a stream whose unread answers fill its share of a spent budget with SLOW_READER, before the answer count limit', () => {
    const budget = new MemoryBudget(64 * 1024 * 1024);
    const stuck = budget.openShare({ reservedBytes: 0, maxBytes: budget.limitBytes, what: 'stuck subscribers' });
    expect(stuck.tryAcquire(budget.borrowableBytes)).toBe(true);
    const call = startHeartbeatStream(budget);
    for (let i = 0; i < 19 && call.status === undefined; i++) call.emit('data', heartbeat);
    // 64 KiB reserved holds six answers of about 10 KB; nothing can be borrowed.
    expect(call.queued.length).toBe(6);
    expect(call.status?.details).toMatch(/SLOW_READER: .*memory budget has no room/);
    call.emit('cancelled');
    stuck.close();
    expect(budget.usedBytes).toBe(0);
  });

  it('gives the bytes back as answers are read, and everything when the stream ends', () => {
    const budget = new MemoryBudget(64 * 1024 * 1024);
    const call = startHeartbeatStream(budget);
    for (let i = 0; i < 10; i++) call.emit('data', heartbeat);
    expect(call.status).toBeUndefined();
    const heldBytes = budget.usedBytes;
    expect(heldBytes).toBeGreaterThan(64 * 1024); // reserved, and some borrowed
    for (const flushed of call.queued.splice(0, 5)) flushed();
    expect(budget.usedBytes).toBeLessThan(heldBytes);
    call.emit('cancelled');
    expect(budget.usedBytes).toBe(0);
  });
});
