import { EventEmitter } from 'node:events';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { systemClock } from '../../src/core/clock.js';
import { GroupConsumer } from '../../src/client/group-consumer.js';
import type { StrataClient } from '../../src/client/strata-client.js';
import { encodeRecordBatch } from '../../src/format/record-batch-codec.js';

/** Responses of one partition from `from`: batches of 8 records, one batch a response, offsets 0..79. */
function responses(partition: number, from: number) {
  const out = [];
  for (let base = 0; base < 80; base += 8) {
    if (base + 8 <= from) continue;
    const records = encodeRecordBatch(Array.from({ length: 8 }, (_, i) => ({ value: `p${partition}-${base + i}` })), { baseOffset: base });
    out.push({ partition, fetchOffset: Math.max(base, from), nextOffset: base + 8, records });
  }
  return out;
}

describe('GroupConsumer from latest', () => {
  it("a fetcher restarted by a new assignment resumes where it was, not at a later 'latest'", async () => {
    let latestOffset = 0;
    const heartbeats: Array<EventEmitter & { write: (r: unknown) => void; end: () => void }> = [];
    let epoch = 1;
    const assign = (partitions: number[]) =>
      heartbeats.at(-1)!.emit('data', { memberId: 'm1', memberEpoch: epoch, heartbeatIntervalMs: 60_000, assignment: [{ topic: 't', partitions }], failure: null, offsetsEpoch: 0 });
    const client = {
      callTimeoutMs: 5_000,
      clock: systemClock,
      // 'latest' is 0 when the member starts, and 40 by the time of the new assignment.
      admin: {
        listOffsets: async (_topic: string, _spec: unknown, partitions: number[]) => partitions.map((partition) => ({ partition, offset: latestOffset })),
      },
      stubs: {
        groups: {
          groupHeartbeat() {
            const stream = Object.assign(new EventEmitter(), { write: () => undefined, end: () => undefined });
            heartbeats.push(stream);
            setImmediate(() => assign([0, 1]));
            return stream;
          },
          commitOffsets: (_request: unknown, _options: unknown, callback: (error: null, response: object) => void) => setImmediate(() => callback(null, {})),
          fetchOffsets: (request: { topics: string[] }, _options: unknown, callback: (error: null, response: object) => void) =>
            setImmediate(() => callback(null, { topics: request.topics.map((topic) => ({ topic, partitions: [] })) })),
        },
        consume: {
          subscribe(request: { partitions: number[]; startOffsets: Record<number, number> }) {
            const perPartition = request.partitions.map((p) => responses(p, request.startOffsets[p] ?? 0));
            const interleaved = [];
            for (let i = 0; perPartition.some((list) => i < list.length); i++) for (const list of perPartition) if (i < list.length) interleaved.push(list[i]!);
            const call = Readable.from(interleaved) as Readable & { cancel(): void };
            call.cancel = () => call.destroy();
            return call;
          },
        },
      },
    } as unknown as StrataClient;
    const consumer = new GroupConsumer(client, { groupId: 'g', topics: ['t'], bufferRecords: 10 });
    const seen: Record<number, number[]> = { 0: [], 1: [], 2: [] };
    let count = 0;
    for await (const record of consumer) {
      seen[record.partition]!.push(record.offset);
      if (++count === 4) {
        epoch++;
        latestOffset = 40;
        assign([0, 1, 2]); // the topic's fetchers go on, and one starts for a third partition
      }
      // A handler that awaits something (not a race guard): the fetchers run between records.
      await new Promise((resolve) => setTimeout(resolve, 1));
      if ((seen[0]!.length === 80 && seen[1]!.length === 80) || count === 400) break;
    }
    // Partitions 0 and 1 began at 0 ('latest' then) and went on from where they were: nothing skipped.
    expect(seen[0]).toEqual(Array.from({ length: 80 }, (_, i) => i));
    expect(seen[1]).toEqual(Array.from({ length: 80 }, (_, i) => i));
    // The partition added later starts at the 'latest' of its time.
    expect(seen[2]![0]).toBe(40);
  });
});
