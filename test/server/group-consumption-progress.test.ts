import { describe, expect, it } from 'vitest';
import type { GroupCoordinator } from '../../src/groups/group-coordinator.js';
import type { OffsetStore } from '../../src/groups/offset-store.js';
import type { QueueCoordinator } from '../../src/queues/queue-coordinator.js';
import { GroupConsumptionProgress } from '../../src/server/group-consumption-progress.js';

const committed = (offset: number) => ({ offset, committedAtMs: 0, memberId: 'm' });

describe('GroupConsumptionProgress (the consumption-progress port over the groups)', () => {
  const offsets = {
    committedToTopic: (topic: string) =>
      topic === 't'
        ? [
            { groupId: 'committed', offsets: new Map([[0, committed(12)]]), isDamaged: false },
            { groupId: 'damaged', offsets: new Map([[0, committed(40)]]), isDamaged: true },
            { groupId: 'live-and-committed', offsets: new Map([[1, committed(3)]]), isDamaged: false },
          ]
        : [],
  } as unknown as OffsetStore;
  const coordinator = { groupsSubscribedTo: (topic: string) => (topic === 't' ? ['live-and-committed', 'live-only'] : []) } as unknown as GroupCoordinator;
  const queues = {
    progressOf: (topic: string, partition: number) =>
      topic === 't' && partition === 0
        ? [
            { groupId: 'workers', startOffset: 30 },
            { groupId: 'new-or-failed', startOffset: undefined },
          ]
        : [],
  } as unknown as QueueCoordinator;
  const progress = new GroupConsumptionProgress(offsets, coordinator, queues);

  it('gives each reading group once, at its progress in the partition, and 0 where it has none or its state is unknown', () => {
    expect(progress.readersOf('t', 0)).toEqual([
      { kind: 'consumer', groupId: 'committed', consumedBeforeOffset: 12 },
      { kind: 'consumer', groupId: 'damaged', consumedBeforeOffset: 0 },
      { kind: 'consumer', groupId: 'live-and-committed', consumedBeforeOffset: 0 },
      { kind: 'consumer', groupId: 'live-only', consumedBeforeOffset: 0 },
      { kind: 'queue', groupId: 'workers', consumedBeforeOffset: 30 },
      { kind: 'queue', groupId: 'new-or-failed', consumedBeforeOffset: 0 },
    ]);
    expect(progress.readersOf('t', 1)).toContainEqual({ kind: 'consumer', groupId: 'live-and-committed', consumedBeforeOffset: 3 });
    expect(progress.readersOf('other', 0)).toEqual([]);
  });
});
