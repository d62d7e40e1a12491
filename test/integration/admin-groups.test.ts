import { describe, expect, it } from 'vitest';
import { GroupNotEmptyError, GroupNotFoundError, TopicNotFoundError } from '../../src/core/errors.js';
import { eventually } from '../helpers/eventually.js';
import { useInProcessServer } from '../helpers/in-process-server.js';
import { rejection } from '../helpers/rejection.js';

describe('Admin: consumer groups', () => {
  const fx = useInProcessServer();

  it('lists, describes with lag, resets (every spec, dry run and executed) and deletes a group', async () => {
    const admin = fx.client.admin;
    await admin.createTopic('ag', { partitions: 2 });
    const producer = fx.client.producer();
    const t0 = Date.now();
    await producer.sendBatch('ag', Array.from({ length: 10 }, (_, i) => ({ value: `v${i}`, partition: 0, timestampMs: t0 + i * 1_000 })));
    await producer.sendBatch('ag', Array.from({ length: 4 }, (_, i) => ({ value: `w${i}`, partition: 1, timestampMs: t0 + i * 1_000 })));
    await producer.close();

    // A dry run changes nothing: no group exists after it.
    const plan = await admin.resetOffsets('g1', { topic: 'ag', to: { offset: 3 } });
    expect(plan.executed).toBe(false);
    expect(plan.changes).toEqual([
      { topic: 'ag', partition: 0, previousOffset: -1, newOffset: 3 },
      { topic: 'ag', partition: 1, previousOffset: -1, newOffset: 3 },
    ]);
    expect((await admin.listGroups()).map((g) => g.groupId)).not.toContain('g1');

    const executed = await admin.resetOffsets('g1', { topic: 'ag', to: { offset: 3 }, execute: true, requestedBy: 'test@host' });
    expect(executed.executed).toBe(true);
    expect(await admin.listGroups()).toContainEqual({ groupId: 'g1', memberCount: 0, groupEpoch: 0 });

    const described = await admin.describeGroup('g1');
    expect(described.members).toEqual([]);
    expect(described.lag.map((l) => [l.partition, l.committedOffset, l.logEndOffset, l.lagRecords])).toEqual([
      [0, 3, 10, 7],
      [1, 3, 4, 1],
    ]);

    const dryRun = async (to: Parameters<typeof admin.resetOffsets>[1]['to'], partitions?: number[]) =>
      (await admin.resetOffsets('g1', { topic: 'ag', to, ...(partitions ? { partitions } : {}) })).changes.map((c) => [c.partition, c.previousOffset, c.newOffset]);
    expect(await dryRun('earliest')).toEqual([[0, 3, 0], [1, 3, 0]]);
    expect(await dryRun('latest')).toEqual([[0, 3, 10], [1, 3, 4]]);
    expect(await dryRun({ offset: 99 }, [0])).toEqual([[0, 3, 10]]);
    expect(await dryRun({ timestampMs: t0 + 5_000 })).toEqual([[0, 3, 5], [1, 3, 4]]);
    expect(await dryRun({ shiftBy: -2 })).toEqual([[0, 3, 1], [1, 3, 1]]);
    expect(await dryRun({ shiftBy: 4 }, [1])).toEqual([[1, 3, 4]]);
    // None of them moved anything.
    expect((await admin.describeGroup('g1')).lag.map((l) => l.committedOffset)).toEqual([3, 3]);

    await admin.deleteGroup('g1');
    expect((await admin.listGroups()).map((g) => g.groupId)).not.toContain('g1');
    expect(await rejection(admin.describeGroup('g1'))).toBeInstanceOf(GroupNotFoundError);
    expect(await rejection(admin.deleteGroup('g1'))).toBeInstanceOf(GroupNotFoundError);
    expect(await rejection(admin.resetOffsets('g1', { topic: 'missing', to: 'earliest' }))).toBeInstanceOf(TopicNotFoundError);
  });

  it('shows a live member in describe, and refuses to delete its group', async () => {
    const admin = fx.client.admin;
    await admin.createTopic('ag-live', { partitions: 1 });
    const consumer = fx.client.consumer({ groupId: 'g-live', topics: ['ag-live'], logger: { warn: () => undefined } });
    try {
      const member = await eventually(async () => (await admin.describeGroup('g-live').catch(() => undefined))?.members.find((m) => m.assignment.length > 0), { what: 'the member in describe, with its partition' });
      expect(member.assignment).toEqual([{ topic: 'ag-live', partitions: [0] }]);
      expect((await admin.listGroups()).find((g) => g.groupId === 'g-live')?.memberCount).toBe(1);
      const refused = await rejection(admin.deleteGroup('g-live'));
      expect(refused).toBeInstanceOf(GroupNotEmptyError);
      expect(refused.code).toBe('GROUP_NOT_EMPTY');
    } finally {
      await consumer.close();
    }
  });

  it('refuses a reset spec that is not one before sending it', async () => {
    await expect(fx.client.admin.resetOffsets('g', { topic: 't', to: { shiftBy: 1.5 } })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(fx.client.admin.resetOffsets('g', { topic: 't', to: { offset: -1 } })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});
