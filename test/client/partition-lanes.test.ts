import { describe, expect, it } from 'vitest';
import type { ConsumedRecord } from '../../src/client/consumed-record.js';
import { FAIR_SLICE_RECORDS } from '../../src/core/limits.js';
import { MIN_READ_AHEAD_BYTES, PartitionLanes, READ_AHEAD_RESPONSES, readAheadBytesFor } from '../../src/client/partition-lanes.js';
import { encodeRecordBatch } from '../../src/format/record-batch-codec.js';
import type { SubscribeResponse__Output } from '../../src/generated/strata/v1/SubscribeResponse.js';

/** A response of `partition` holding `count` records from `fromOffset`, in batches of `batchRecords`. */
function response(partition: number, fromOffset: number, count: number, batchRecords = 50): SubscribeResponse__Output {
  const batches: Buffer[] = [];
  for (let offset = fromOffset; offset < fromOffset + count; offset += batchRecords) {
    const size = Math.min(batchRecords, fromOffset + count - offset);
    batches.push(encodeRecordBatch(Array.from({ length: size }, (_, i) => ({ value: `p${partition}-${offset + i}` })), { baseOffset: offset }));
  }
  return { partition, fetchOffset: fromOffset, nextOffset: fromOffset + count, records: Buffer.concat(batches), highWatermark: 0, logStartOffset: 0, throttleTimeMs: 0 };
}

/** Responses of each partition in turn as listed: `[partition, count]` pairs, offsets running on per partition. */
function responses(plan: Array<[number, number]>): SubscribeResponse__Output[] {
  const next = new Map<number, number>();
  return plan.map(([partition, count]) => {
    const from = next.get(partition) ?? 0;
    next.set(partition, from + count);
    return response(partition, from, count);
  });
}

/** A stream of `list` that counts how many were read. */
function streamOf(list: SubscribeResponse__Output[]) {
  const state = { read: 0 };
  async function* generate() {
    for (const r of list) {
      state.read++;
      yield r;
    }
  }
  return { stream: generate(), state };
}

async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
}

function drainSlices(lanes: PartitionLanes): ConsumedRecord[][] {
  const slices: ConsumedRecord[][] = [];
  while (lanes.takeSlice()) slices.push(lanes.sliceRecords.slice(lanes.sliceStart, lanes.sliceEnd));
  return slices;
}

describe('PartitionLanes', () => {
  it('hands out slices of FAIR_SLICE_RECORDS round robin, in offset order per partition, whatever order the responses came in', async () => {
    // A backlog's responses first, then two other partitions' (as a stream where the backlog got ahead).
    const { stream } = streamOf(responses([[0, 500], [0, 500], [0, 500], [1, 200], [2, 230]]));
    const lanes = new PartitionLanes('t', MIN_READ_AHEAD_BYTES);
    lanes.fill(stream);
    await settle();
    expect(lanes.isEnded).toBe(true);
    const slices = drainSlices(lanes);
    const partitions = slices.map((s) => s[0]!.partition);
    // One turn each while all three have records (batch boundaries may split a turn into two slices).
    const turns = slices.reduce<Array<{ partition: number; count: number }>>((list, s) => {
      const last = list[list.length - 1];
      if (last && last.partition === s[0]!.partition) last.count += s.length;
      else list.push({ partition: s[0]!.partition, count: s.length });
      return list;
    }, []);
    expect(turns.slice(0, 6).map((t) => t.partition)).toEqual([0, 1, 2, 0, 1, 2]);
    expect(turns.slice(0, 6).every((t) => t.count === FAIR_SLICE_RECORDS)).toBe(true);
    for (const slice of slices) expect(new Set(slice.map((r) => r.partition)).size).toBe(1);
    for (const partition of [0, 1, 2]) {
      const offsets = slices.filter((s) => s[0]!.partition === partition).flatMap((s) => s.map((r) => r.offset));
      expect(offsets).toEqual(Array.from({ length: [1500, 200, 230][partition]! }, (_, i) => i));
    }
    // Partition 1 was done after its fourth turn, the backlog having had four.
    const lastOfOne = partitions.lastIndexOf(1);
    expect(slices.slice(0, lastOfOne + 1).flat().filter((r) => r.partition === 0).length).toBe(4 * FAIR_SLICE_RECORDS);
  });

  it('takeResponse hands one response per turn, round robin', async () => {
    const { stream } = streamOf(responses([[0, 40], [0, 40], [0, 40], [1, 10], [1, 10], [2, 5]]));
    const lanes = new PartitionLanes('t', MIN_READ_AHEAD_BYTES);
    lanes.fill(stream);
    await settle();
    const taken: Array<[number, number, number]> = [];
    for (let records = lanes.takeResponse(); records; records = lanes.takeResponse()) {
      expect(new Set(records.map((r) => r.partition)).size).toBe(1);
      taken.push([records[0]!.partition, records[0]!.offset, records.length]);
    }
    expect(taken).toEqual([
      [0, 0, 40],
      [1, 0, 10],
      [2, 0, 5],
      [0, 40, 40],
      [1, 10, 10],
      [0, 80, 40],
    ]);
  });

  it('reads ahead while it holds less than its bound, then only as records are taken', async () => {
    const list = responses(Array.from({ length: 200 }, (_, i) => [i % 2, 100] as [number, number]));
    const responseBytes = list[0]!.records.length;
    const readAheadBytes = 10 * responseBytes;
    const { stream, state } = streamOf(list);
    const lanes = new PartitionLanes('t', readAheadBytes);
    lanes.fill(stream);
    await settle();
    // Held: less than the bound before the last read, so at most the bound and one response more.
    expect(state.read).toBe(10);
    expect(lanes.isEnded).toBe(false);
    // A response read again only once one was handed out completely.
    for (let i = 0; i < 2; i++) lanes.takeSlice();
    await settle();
    expect(state.read).toBe(10);
    // Four turns: both partitions' first responses handed out, and the lanes past them.
    for (let handed = 0; handed <= 4 * FAIR_SLICE_RECORDS && lanes.takeSlice(); ) handed += lanes.sliceEnd - lanes.sliceStart;
    await settle();
    expect(state.read).toBeGreaterThan(10);
    expect(state.read).toBeLessThanOrEqual(12);
    await lanes.close();
    expect(lanes.isEnded).toBe(true);
  });

  it('a lone lane hands out a decoded batch per slice; a lane that joins has its turn after at most FAIR_SLICE_RECORDS more', async () => {
    // The stream hands out what the test pushes, when it pushes it, and ends when the lanes close (as a cancelled call).
    const queue: SubscribeResponse__Output[] = [];
    let wake: (() => void) | undefined;
    const lanes = new PartitionLanes('t', MIN_READ_AHEAD_BYTES);
    lanes.signal.addEventListener('abort', () => wake?.());
    async function* generate() {
      for (;;) {
        while (queue.length === 0 && !lanes.signal.aborted) await new Promise<void>((resolve) => (wake = resolve));
        if (lanes.signal.aborted) return;
        yield queue.shift()!;
      }
    }
    const push = (r: SubscribeResponse__Output) => {
      queue.push(r);
      wake?.();
    };
    lanes.fill(generate());
    push(response(0, 0, 600, 200));
    await settle();
    // Nobody to be fair to: the slice is the whole batch of 200, not 64 of it.
    expect(lanes.takeSlice()).toBe(true);
    expect([lanes.sliceStart, lanes.sliceEnd]).toEqual([0, 200]);
    push(response(1, 0, 100, 100));
    await settle();
    // Partition 0 had its turn (200 >= 64): partition 1 next, 64 of it, then partition 0's 64.
    const next = () => {
      expect(lanes.takeSlice()).toBe(true);
      return [lanes.sliceRecords[lanes.sliceStart]!.partition, lanes.sliceRecords[lanes.sliceStart]!.offset, lanes.sliceEnd - lanes.sliceStart];
    };
    expect([next(), next(), next()]).toEqual([
      [1, 0, 64],
      [0, 200, 64],
      [1, 64, 36],
    ]);
    // Alone again: the rest of its batch, then whole batches.
    expect([next(), next()]).toEqual([
      [0, 264, 136],
      [0, 400, 200],
    ]);
    await lanes.close();
  });

  it('the bound: 2 responses of maxBytes, at least 1 MiB', () => {
    expect(READ_AHEAD_RESPONSES).toBe(2);
    expect(MIN_READ_AHEAD_BYTES).toBe(1024 * 1024);
    expect(readAheadBytesFor(undefined)).toBe(2 * 1024 * 1024);
    expect(readAheadBytesFor(64 * 1024)).toBe(1024 * 1024);
    expect(readAheadBytesFor(16 * 1024 * 1024)).toBe(32 * 1024 * 1024);
  });

  it('a response that does not decode fails every later take, also of other partitions', async () => {
    const list = responses([[0, 100], [1, 100]]);
    const bad = list[0]!.records;
    bad.writeUInt8(bad.readUInt8(bad.length - 1) ^ 0xff, bad.length - 1); // the CRC of its last batch no longer holds
    const { stream } = streamOf(list);
    const lanes = new PartitionLanes('t', MIN_READ_AHEAD_BYTES);
    lanes.fill(stream);
    await settle();
    const offsets: number[] = [];
    const take = () => {
      while (lanes.takeSlice()) for (let i = lanes.sliceStart; i < lanes.sliceEnd; i++) offsets.push(lanes.sliceRecords[i]!.partition * 1000 + lanes.sliceRecords[i]!.offset);
    };
    expect(take).toThrow(expect.objectContaining({ code: 'DATA_LOSS' }));
    expect(take).toThrow(expect.objectContaining({ code: 'DATA_LOSS' }));
    expect(() => lanes.takeResponse()).toThrow(expect.objectContaining({ code: 'DATA_LOSS' }));
    // Partition 0's records before the bad batch (its first batch of 50) went out, in order, and no later one.
    expect(offsets.filter((o) => o < 1000)).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });
});
