import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import { StickyAssignor } from '../../src/groups/assignors/sticky-assignor.js';
import { resolveGroupConfig } from '../../src/groups/group-config.js';
import { GroupCoordinator } from '../../src/groups/group-coordinator.js';
import { QueueCoordinator } from '../../src/queues/queue-coordinator.js';
import { CountQuotas } from '../../src/quotas/count-quotas.js';
import { StaticQuotaSource } from '../../src/quotas/principal-quotas.js';
import { FakeQueueJournal } from '../helpers/fake-queue-journal.js';
import { FakeDeadLetterWriter, FakeQueueTopics } from '../helpers/fake-queue-topics.js';
import { rejection } from '../helpers/rejection.js';
import { SeededRandom } from '../helpers/seeded-random.js';

let coordinator: QueueCoordinator | undefined;
afterEach(async () => coordinator?.close());

async function setUp() {
  const clock = new ManualClock(1_000_000);
  const topics = new FakeQueueTopics();
  topics.create('orders', 1);
  const journal = new FakeQueueJournal();
  const quotas = new CountQuotas(new StaticQuotaSource(new Map([['mallory', { max_groups: 2 }]])));
  coordinator = new QueueCoordinator({ journal, topics, deadLetters: new FakeDeadLetterWriter(topics), clock, random: new SeededRandom(1), groupQuota: quotas });
  await coordinator.start();
  const queues = coordinator;
  const join = (groupId: string, principal: string) => queues.join({ groupId, topics: ['orders'], inFlightLimit: 0, clientId: 'test', deliver: () => true, principal });
  return { clock, journal, quotas, queues, join };
}

describe('QueueCoordinator max_groups', () => {
  it('refuses a principal a queue group past max_groups with QUOTA_EXCEEDED, creating nothing, while another principal still creates groups', async () => {
    const { journal, quotas, queues, join } = await setUp();
    await join('q-1', 'mallory');
    await join('q-2', 'mallory');
    await join('q-1', 'mallory');
    const appendsBefore = journal.appendCount;
    const refused = await rejection(join('q-3', 'mallory'));
    expect(refused).toMatchObject({ code: 'QUOTA_EXCEEDED', retriable: false });
    expect(queues.listGroups().map((g) => g.groupId)).toEqual(['q-1', 'q-2']);
    expect(journal.appendCount).toBe(appendsBefore);
    await join('q-3', 'alice');
    await join('q-4', 'alice');
    await join('q-5', 'alice');
    expect(quotas.heldBy('max_groups', 'mallory')).toBe(2);
    expect(quotas.heldBy('max_groups', 'alice')).toBe(3);
  });

  it('releases a queue group when the principal\'s last member leaves or loses its stream (the emptied group stays, counting for nobody)', async () => {
    const { quotas, queues, join } = await setUp();
    const a = await join('q-1', 'mallory');
    const b = await join('q-1', 'mallory');
    await join('q-2', 'mallory');
    await queues.leave(a.memberId);
    expect((await rejection(join('q-3', 'mallory'))).code).toBe('QUOTA_EXCEEDED');
    await queues.streamLost(b.memberId);
    expect(quotas.heldBy('max_groups', 'mallory')).toBe(1);
    await join('q-3', 'mallory');
    expect(queues.listGroups().map((g) => g.groupId)).toEqual(['q-1', 'q-2', 'q-3']);
  });

  it('uncounts a join that fails after it was counted (the group could not be made durable)', async () => {
    const { journal, quotas, join } = await setUp();
    journal.failWith = new Error('disk gone');
    await rejection(join('q-1', 'mallory'));
    expect(quotas.heldBy('max_groups', 'mallory')).toBe(0);
    journal.failWith = undefined;
    await join('q-2', 'mallory');
    await join('q-3', 'mallory');
    expect(quotas.heldBy('max_groups', 'mallory')).toBe(2);
  });

  it('counts consumer groups and queue groups against one max_groups', async () => {
    const { quotas, join } = await setUp();
    const groups = new GroupCoordinator({
      clock: new ManualClock(0),
      assignor: new StickyAssignor(),
      topics: { partitionCount: () => 1 },
      config: resolveGroupConfig({}),
      logger: silentLogger,
      groupQuota: quotas,
    });
    try {
      groups.heartbeat({ groupId: 'c-1', memberId: '', memberEpoch: 0, topics: ['orders'], owned: [], idleMs: 0, principal: 'mallory' });
      await join('q-1', 'mallory');
      expect((await rejection(join('q-2', 'mallory'))).code).toBe('QUOTA_EXCEEDED');
      expect(() => groups.heartbeat({ groupId: 'c-2', memberId: '', memberEpoch: 0, topics: ['orders'], owned: [], idleMs: 0, principal: 'mallory' })).toThrow(expect.objectContaining({ code: 'QUOTA_EXCEEDED' }));
      expect(quotas.heldBy('max_groups', 'mallory')).toBe(2);
    } finally {
      groups.close();
    }
  });
});
