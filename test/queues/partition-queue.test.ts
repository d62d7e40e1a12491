import { describe, expect, it } from 'vitest';
import { AssertionError } from '../../src/core/assert.js';
import { MAX_QUEUE_TRACKED_RECORDS_PER_PARTITION } from '../../src/core/limits.js';
import { PartitionQueue } from '../../src/queues/partition-queue.js';

function makeQueue(startOffset = 0) {
  const held = new Map<string, number>();
  const deadlines: number[] = [];
  const queue = new PartitionQueue('t', 0, startOffset, {
    held: (memberId, delta) => held.set(memberId, (held.get(memberId) ?? 0) + delta),
    deadlineAt: (ms) => deadlines.push(ms),
  });
  return { queue, held, deadlines };
}

const base = { groupId: 'g', topic: 't', partition: 0, atMs: 0 };

function window(queue: PartitionQueue, keys: Array<string | null>): void {
  const keyed = new Map(keys.map((k, i) => [queue.fetchOffset + i, k === null ? null : Buffer.from(k)]));
  queue.addBatch({ baseOffset: queue.fetchOffset, lastOffset: queue.fetchOffset + keys.length - 1, sizeBytes: 100 }, keyed);
}

describe('PartitionQueue', () => {
  it('moves the start up over done records at the bottom only', () => {
    const { queue, held } = makeQueue();
    window(queue, [null, null, null, null]);
    queue.apply({ ...base, type: 'acquire', offsets: [0, 1, 2], memberId: 'm', lockDeadlineMs: 100 });
    expect(held.get('m')).toBe(3);
    queue.apply({ ...base, type: 'ack', offsets: [1, 2] });
    expect(queue.startOffset).toBe(0);
    queue.apply({ ...base, type: 'archive', offsets: [0], cause: 'rejected' });
    expect(queue.startOffset).toBe(3);
    expect(held.get('m')).toBe(0);
    expect(queue.deadLettered).toBe(1);
    expect(queue.acquirable(0, false, 10)).toEqual([3]);
  });

  it('releases with an eligible time, counts redeliveries, and refuses changes that cannot follow from its state', () => {
    const { queue, deadlines } = makeQueue(10);
    window(queue, [null, null]);
    queue.apply({ ...base, type: 'acquire', offsets: [10], memberId: 'm', lockDeadlineMs: 50 });
    queue.apply({ ...base, type: 'release', offsets: [10], eligibleAtMs: [200], reason: 'x' });
    expect(deadlines).toEqual([50, 200]);
    expect(queue.acquirable(199, false, 10)).toEqual([11]);
    expect(queue.acquirable(200, false, 10)).toEqual([10, 11]);
    expect(queue.get(10)).toMatchObject({ state: 'available', deliveryCount: 1, lastError: 'x' });
    queue.apply({ ...base, type: 'acquire', offsets: [10], memberId: 'n', lockDeadlineMs: 300 });
    expect(queue.redeliveries).toBe(1);
    expect(() => queue.apply({ ...base, type: 'acquire', offsets: [10], memberId: 'o', lockDeadlineMs: 400 })).toThrow(AssertionError);
    expect(() => queue.apply({ ...base, type: 'release', offsets: [11], eligibleAtMs: [0] })).toThrow(AssertionError);
    expect(queue.expired(299)).toEqual([]);
    expect(queue.expired(300)).toEqual([10]);
  });

  it('in key order hands out only the first not-done record of each key; keyless records are free', () => {
    const { queue } = makeQueue();
    window(queue, ['a', 'a', 'b', null, null, 'b', 'c']);
    expect(queue.acquirable(0, true, 10)).toEqual([0, 2, 3, 4, 6]);
    expect(queue.acquirable(0, false, 10)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    queue.apply({ ...base, type: 'acquire', offsets: [0, 2], memberId: 'm', lockDeadlineMs: 100 });
    expect(queue.acquirable(0, true, 10)).toEqual([3, 4, 6]);
    queue.apply({ ...base, type: 'release', offsets: [2], eligibleAtMs: [50] });
    expect(queue.acquirable(0, true, 10)).toEqual([3, 4, 6]); // b waits for its retry; 5 behind it
    queue.apply({ ...base, type: 'ack', offsets: [0] });
    expect(queue.acquirable(60, true, 10)).toEqual([1, 2, 3, 4, 6]);
  });

  it('rebuilds itself from its snapshot', () => {
    const { queue } = makeQueue(5);
    window(queue, [null, null, null, null]);
    queue.apply({ ...base, type: 'acquire', offsets: [5, 6, 7], memberId: 'm', lockDeadlineMs: 100 });
    queue.apply({ ...base, type: 'ack', offsets: [6] });
    queue.apply({ ...base, type: 'release', offsets: [7], eligibleAtMs: [90], reason: 'r' });
    const snapshot = queue.snapshot('g', 1);
    const copy = makeQueue(0);
    copy.queue.apply(JSON.parse(JSON.stringify(snapshot)));
    expect(copy.queue.snapshot('g', 1)).toEqual(snapshot);
    expect(copy.held.get('m')).toBe(1);
    expect(copy.queue.startOffset).toBe(5);
  });

  it('takes at most MAX_QUEUE_TRACKED_RECORDS_PER_PARTITION records into its window', () => {
    const { queue } = makeQueue();
    const taken = queue.addBatch({ baseOffset: 0, lastOffset: MAX_QUEUE_TRACKED_RECORDS_PER_PARTITION + 99, sizeBytes: 1 });
    expect(taken).toBe(MAX_QUEUE_TRACKED_RECORDS_PER_PARTITION);
    expect(queue.windowRoom()).toBe(0);
    expect(queue.addBatch({ baseOffset: MAX_QUEUE_TRACKED_RECORDS_PER_PARTITION, lastOffset: MAX_QUEUE_TRACKED_RECORDS_PER_PARTITION + 99, sizeBytes: 1 })).toBe(0);
  });

  it('skips what retention removed, counting what was not done and freeing its holders', () => {
    const { queue, held } = makeQueue();
    window(queue, [null, null, null, null, null]);
    queue.apply({ ...base, type: 'acquire', offsets: [0, 1], memberId: 'm', lockDeadlineMs: 100 });
    queue.apply({ ...base, type: 'ack', offsets: [1] });
    queue.skipTo(3);
    expect(queue.skipped).toBe(2); // 0 (held) and 2; 1 was done
    expect(held.get('m')).toBe(0);
    expect(queue.startOffset).toBe(3);
    expect(queue.fetchOffset).toBe(3); // read again from the new start
  });
});
