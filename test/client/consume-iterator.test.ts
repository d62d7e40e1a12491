import { Readable } from 'node:stream';
import { eventually } from '../helpers/eventually.js';
import { describe, expect, it } from 'vitest';
import { StrataClientError } from '../../src/client/client-error.js';
import { consume, consumeBatches } from '../../src/client/consume.js';
import { patchBaseOffset } from '../../src/format/record-batch.js';
import type { StrataClient } from '../../src/client/strata-client.js';
import { encodeRecordBatch } from '../../src/format/record-batch-codec.js';
import { CONSUME_MS_BETWEEN_YIELDS } from '../../src/client/yield-to-event-loop.js';
import { ManualClock, systemClock, type Clock } from '../../src/core/clock.js';

/** A client whose Subscribe stream yields `responses` batches of 5 records each, then ends. */
function fakeClient(responseCount: number, fetchOffset = 0, clock: Clock = systemClock) {
  const state = { cancelled: 0 };
  const responses = Array.from({ length: responseCount }, (_, r) => ({
    partition: 0,
    fetchOffset: r === 0 ? fetchOffset : r * 10,
    nextOffset: (r + 1) * 10,
    // Two batches of 5 records per response: offsets r*10 .. r*10+9.
    records: Buffer.concat([0, 5].map((delta) => encodeRecordBatch(Array.from({ length: 5 }, (_, i) => ({ value: `v${r * 10 + delta + i}` })), { baseOffset: r * 10 + delta }))),
  }));
  const client = {
    clock,
    stubs: {
      consume: {
        subscribe() {
          const call = Readable.from(responses) as Readable & { cancel(): void };
          call.cancel = () => {
            state.cancelled++;
            call.destroy();
          };
          return call;
        },
      },
    },
  } as unknown as StrataClient;
  return { client, state, responses };
}

describe('consume() iterator', () => {
  it('hands out every record once, in order, also to next() calls made before earlier ones settled', async () => {
    const { client } = fakeClient(3);
    const iterator = consume(client, 't', { from: 'earliest' });
    const results = await Promise.all(Array.from({ length: 32 }, () => iterator.next()));
    expect(results.filter((r) => !r.done).map((r) => r.value!.offset)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    expect(results.slice(30).every((r) => r.done)).toBe(true);
    expect((await iterator.next()).done).toBe(true);
  });

  it('skips the records of the first batch below the offset it was read from', async () => {
    const { client } = fakeClient(2, 7);
    const offsets: number[] = [];
    for await (const record of consume(client, 't', { from: 7 })) offsets.push(record.offset);
    expect(offsets).toEqual([7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
  });

  it('a break cancels the stream; an abort hands out nothing more, even of records already read', async () => {
    const broken = fakeClient(3);
    let count = 0;
    for await (const record of consume(broken.client, 't', { from: 'earliest' })) {
      expect(record.value!.toString()).toBe(`v${count}`);
      if (++count === 3) break;
    }
    expect(broken.state.cancelled).toBeGreaterThan(0);

    const aborted = fakeClient(3);
    const controller = new AbortController();
    const seen: number[] = [];
    for await (const record of consume(aborted.client, 't', { from: 'earliest', signal: controller.signal })) {
      seen.push(record.offset);
      if (record.offset === 2) controller.abort();
    }
    expect(seen).toEqual([0, 1, 2]);
    expect(aborted.state.cancelled).toBeGreaterThan(0);
  });

  it('a batch that does not decode rejects next() with DATA_LOSS (not CORRUPT_BATCH, a bad request), cancels the stream and ends the iteration', async () => {
    const { client, state, responses } = fakeClient(3);
    const second = responses[1]!.records;
    second.writeUInt8(second.readUInt8(second.length - 1) ^ 0xff, second.length - 1); // the CRC of the response's second batch no longer holds
    const iterator = consume(client, 't', { from: 'earliest' });
    const offsets: number[] = [];
    await expect(
      (async () => {
        for (;;) {
          const result = await iterator.next();
          if (result.done) return;
          offsets.push(result.value.offset);
        }
      })(),
    ).rejects.toMatchObject({ code: 'DATA_LOSS', retriable: false, message: expect.stringMatching(/^partition t\/0: a batch the server sent \(read from offset 10\) does not decode: .*CRC/) });
    expect(offsets).toEqual(Array.from({ length: 15 }, (_, i) => i));
    expect(state.cancelled).toBeGreaterThan(0);
    expect((await iterator.next()).done).toBe(true);
  });

  it('refuses records the server sent under offsets that do not run on from where it read: DATA_LOSS, not retried', async () => {
    const cases: Array<[string, (responses: ReturnType<typeof fakeClient>['responses']) => void]> = [
      // The second batch of the second response claims offsets 20..24 instead of 15..19.
      ['a gap between batches', (responses) => patchBaseOffset(responses[1]!.records, responses[1]!.records.length / 2, 20)],
      // The second response, read from 10, starts at 12.
      ['a first batch after the offset read from', (responses) => patchBaseOffset(responses[1]!.records, 0, 12)],
      ['a next offset past the batches', (responses) => void (responses[1]!.nextOffset = 30)],
    ];
    for (const [name, damage] of cases) {
      const { client, responses } = fakeClient(3);
      damage(responses);
      const offsets: number[] = [];
      const outcome = await (async () => {
        for await (const record of consume(client, 't', { from: 'earliest' })) offsets.push(record.offset);
      })().then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(outcome, name).toBeInstanceOf(StrataClientError);
      expect(outcome, name).toMatchObject({ code: 'DATA_LOSS', retriable: false, message: expect.stringMatching(/partition t\/0: the server sent/) });
      expect(offsets, name).toEqual(Array.from({ length: offsets.length }, (_, i) => i));
      expect(offsets.length, name).toBeLessThanOrEqual(20);
    }
  });
});

/** Responses of several partitions in the order listed (`[partition, records]`), offsets running on per partition. */
function plannedResponses(plan: Array<[number, number]>) {
  const next = new Map<number, number>();
  return plan.map(([partition, count]) => {
    const from = next.get(partition) ?? 0;
    next.set(partition, from + count);
    const records = encodeRecordBatch(Array.from({ length: count }, (_, i) => ({ value: `p${partition}-${from + i}` })), { baseOffset: from });
    return { partition, fetchOffset: from, nextOffset: from + count, records };
  });
}

/**
 * A client whose Subscribe streams serve `responses` from the request's start offsets on (a partition
 * without one from 0); the first stream fails with UNAVAILABLE after `failAfter` responses, if given.
 */
function multiPartitionClient(responses: ReturnType<typeof plannedResponses>, failAfter?: number) {
  const requests: Array<Record<number, number>> = [];
  const calls: Readable[] = [];
  const client = {
    clock: systemClock,
    stubs: {
      consume: {
        subscribe(request: { startOffsets: Record<number, number> }) {
          requests.push({ ...request.startOffsets });
          const isFirst = requests.length === 1;
          const served = responses.filter((r) => r.fetchOffset >= (request.startOffsets[r.partition] ?? 0));
          async function* serve() {
            for (const [i, r] of served.entries()) {
              if (isFirst && i === failAfter) throw Object.assign(new Error('connection dropped'), { code: 14 });
              yield r;
            }
          }
          const call = Readable.from(serve()) as Readable & { cancel(): void };
          call.cancel = () => call.destroy();
          calls.push(call);
          return call;
        },
      },
    },
  } as unknown as StrataClient;
  return { client, requests, calls };
}

describe('consume() and the event loop', () => {
  it('a loop that keeps the CPU busy over held records still lets timers run (a turn every CONSUME_MS_BETWEEN_YIELDS)', async () => {
    // 3,000 records, all read ahead at once (no I/O needed to hand them out), and a handler that
    // spends 1 ms on each without ever awaiting anything of its own.
    const { client } = fakeClient(300);
    let handed = 0;
    let handedWhenTimerRan: number | undefined;
    setTimeout(() => (handedWhenTimerRan = handed), 0);
    for await (const record of consume(client, 't', { from: 'earliest' })) {
      expect(record.offset).toBe(handed);
      handed++;
      const busyUntilMs = Date.now() + 1;
      while (Date.now() < busyUntilMs);
      if (handedWhenTimerRan !== undefined || handed === 3_000) break;
    }
    // A turn at least every 20 ms of handing out: the timer ran after about 20 records, not after
    // all 3,000 (which only promises, resolved at once, would have handed out first).
    expect(CONSUME_MS_BETWEEN_YIELDS).toBe(20);
    expect(handedWhenTimerRan).toBeDefined();
    expect(handedWhenTimerRan!).toBeLessThanOrEqual(5 * CONSUME_MS_BETWEEN_YIELDS);
  });

  it('times its turns on the monotonic clock: a wall clock stepped back an hour does not hold the event loop off', async () => {
    // Virtual time: each record takes 1 ms on the manual clock, and the wall clock steps back an hour
    // at the first one. Read on the wall clock, the next turn would be due in an hour of records.
    const clock = new ManualClock(1_700_000_000_000);
    const { client } = fakeClient(300, 0, clock);
    let handed = 0;
    let handedAtTurn: number | undefined;
    for await (const record of consume(client, 't', { from: 'earliest' })) {
      expect(record.offset).toBe(handed);
      if (handed === 0) {
        clock.stepWallClock(-3_600_000);
        setImmediate(() => (handedAtTurn ??= handed));
      }
      handed++;
      clock.advance(1);
      if (handedAtTurn !== undefined || handed === 3_000) break;
    }
    expect(handedAtTurn).toBeDefined();
    expect(handedAtTurn!).toBeLessThanOrEqual(CONSUME_MS_BETWEEN_YIELDS + 1);
  });

  it('also when a batch holds many records: a slow loop gets short slices, so the clock is read (and turns come) on time', async () => {
    // One partition, responses of one batch of 500 records each: a lone partition's slice may be a whole batch.
    const responses = Array.from({ length: 4 }, (_, r) => ({
      partition: 0,
      fetchOffset: r * 500,
      nextOffset: (r + 1) * 500,
      records: encodeRecordBatch(Array.from({ length: 500 }, (_, i) => ({ value: `v${r * 500 + i}` })), { baseOffset: r * 500 }),
    }));
    const client = {
      clock: systemClock,
      stubs: {
        consume: {
          subscribe() {
            const call = Readable.from(responses) as Readable & { cancel(): void };
            call.cancel = () => call.destroy();
            return call;
          },
        },
      },
    } as unknown as StrataClient;
    const handedWhenTimersRan: number[] = [];
    let handed = 0;
    const timer = setInterval(() => handedWhenTimersRan.push(handed), 1);
    try {
      for await (const record of consume(client, 't', { from: 'earliest' })) {
        expect(record.offset).toBe(handed);
        handed++;
        const busyUntilMs = Date.now() + 1;
        while (Date.now() < busyUntilMs);
        if (handedWhenTimersRan.length >= 4) break;
      }
    } finally {
      clearInterval(timer);
    }
    // Turns about every 20 records (20 ms at 1 ms a record), never a whole batch of 500 between two.
    const gaps = handedWhenTimersRan.map((n, i) => n - (handedWhenTimersRan[i - 1] ?? 0));
    expect(Math.max(...gaps)).toBeLessThanOrEqual(5 * CONSUME_MS_BETWEEN_YIELDS);
  });
});

describe('consume() across partitions', () => {
  // A stream where a backlog's responses got ahead of the other partitions' ones.
  const skewed = () => plannedResponses([[0, 200], [0, 200], [0, 200], [0, 200], [1, 100], [2, 100], [0, 200]]);

  it('hands out records round robin, 64 of a partition at a time, whatever order the responses came in', async () => {
    const { client } = multiPartitionClient(skewed());
    const partitions: number[] = [];
    const nextOffset = [0, 0, 0];
    for await (const record of consume(client, 't', { from: 'earliest' })) {
      expect(record.offset).toBe(nextOffset[record.partition]);
      nextOffset[record.partition]!++;
      partitions.push(record.partition);
    }
    expect(nextOffset).toEqual([1000, 100, 100]);
    // Runs of one partition: 64 while others have records (the first, before partitions 1 and 2 were read, may be longer).
    const runs: Array<[number, number]> = [];
    for (const p of partitions) {
      const last = runs[runs.length - 1];
      if (last && last[0] === p) last[1]++;
      else runs.push([p, 1]);
    }
    const beforeOthersDone = runs.slice(1, runs.findLastIndex(([p]) => p !== 0) + 1);
    expect(beforeOthersDone.every(([, length]) => length <= 64)).toBe(true);
    // Partitions 1 and 2 were done long before the backlog: after its first batch (200 records, handed
    // whole while it alone had records), turns of at most 64 each until their 100 ran out (the old
    // order handed them out after all 800 of the backlog read before them).
    expect(partitions.lastIndexOf(1)).toBeLessThan(200 + 5 * 64);
    expect(partitions.lastIndexOf(2)).toBeLessThan(200 + 5 * 64);
  });

  it('consumeBatches() hands one response per array, round robin across partitions', async () => {
    const { client, calls } = multiPartitionClient(skewed());
    const arrays: Array<[number, number, number]> = [];
    for await (const records of consumeBatches(client, 't', { from: 'earliest' })) {
      expect(new Set(records.map((r) => r.partition)).size).toBe(1);
      arrays.push([records[0]!.partition, records[0]!.offset, records.length]);
      // A loop slow on its first array: the rest of the stream is read ahead meanwhile (waited for as
      // such: the stream has ended, every response taken from it; a count of turns is a race under load).
      if (arrays.length === 1) await eventually(() => calls[0]!.readableEnded, { what: 'the stream read ahead to its end' });
    }
    // Partition 0's lane had its turn when the others arrived: they come after it, one response each.
    expect(arrays).toEqual([
      [0, 0, 200],
      [0, 200, 200],
      [1, 0, 100],
      [2, 0, 100],
      [0, 400, 200],
      [0, 600, 200],
      [0, 800, 200],
    ]);
  });

  it('after a dropped connection, resubscribes after the last response read ahead and hands out each record once, in order', async () => {
    const responses = plannedResponses([[0, 50], [1, 50], [0, 50], [1, 50], [0, 50], [1, 50]]);
    const { client, requests } = multiPartitionClient(responses, 3);
    const seen: string[] = [];
    for await (const record of consume(client, 't', { from: 'earliest' })) seen.push(`${record.partition}:${record.offset}`);
    // Three responses were read before the drop: partition 0 from 100, partition 1 from 50.
    expect(requests).toEqual([{}, { 0: 100, 1: 50 }]);
    for (const partition of [0, 1]) {
      expect(seen.filter((s) => s.startsWith(`${partition}:`))).toEqual(Array.from({ length: 150 }, (_, i) => `${partition}:${i}`));
    }
  });
});
