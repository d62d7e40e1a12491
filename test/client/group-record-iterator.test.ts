import { describe, expect, it } from 'vitest';
import type { ConsumedRecord } from '../../src/client/consume.js';
import { GroupRecordIterator } from '../../src/client/group-record-iterator.js';
import { RecordBuffer } from '../../src/client/record-buffer.js';
import { systemClock } from '../../src/core/clock.js';

const record = (partition: number, offset: number): ConsumedRecord => ({ topic: 't', partition, offset, timestampMs: 0, key: null, value: null, headers: [] });

function host(revoked = new Set<number>()) {
  const state = { closes: 0, handed: [] as number[], asks: 0, failure: undefined as Error | undefined };
  const buffer = new RecordBuffer<ConsumedRecord>(100);
  const iterator = new GroupRecordIterator({
    clock: systemClock,
    beforeNext: () => state.asks++,
    handOne: (r) => {
      if (revoked.has(r.partition)) return false;
      state.handed.push(r.offset);
      return true;
    },
    buffer,
    failure: () => state.failure,
    close: async () => {
      state.closes++;
      buffer.close();
    },
  });
  return { state, buffer, iterator };
}

describe('GroupRecordIterator', () => {
  it('hands records in order, also to next() calls made before earlier ones settled; skips revoked partitions', async () => {
    const { state, buffer, iterator } = host(new Set([1]));
    const pending = Array.from({ length: 6 }, () => iterator.next());
    await buffer.pushAll([record(0, 0), record(1, 0), record(0, 1)]);
    await buffer.pushAll([record(0, 2), record(0, 3), record(1, 1), record(0, 4), record(0, 5)]);
    const results = await Promise.all(pending);
    expect(iterator[Symbol.asyncIterator]()).toBe(iterator);
    expect(results.map((r) => r.value!.offset)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(results.every((r) => r.value!.partition === 0)).toBe(true);
    expect(state.handed).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('return() closes the member once; the member failing ends the loop with its error, after closing', async () => {
    const first = host();
    await first.buffer.pushAll([record(0, 0), record(0, 1)]);
    expect((await first.iterator.next()).value!.offset).toBe(0);
    expect((await first.iterator.return!()).done).toBe(true);
    expect((await first.iterator.next()).done).toBe(true);
    expect(first.state.closes).toBe(1);

    const failing = host();
    const waiting = failing.iterator.next();
    failing.state.failure = new Error('fenced');
    failing.buffer.close();
    await expect(waiting).rejects.toThrow('fenced');
    expect(failing.state.closes).toBe(1);
    expect((await failing.iterator.next()).done).toBe(true);
  });
});
