import { beforeAll, describe, expect, it } from 'vitest';
import type { ConsumedRecord } from '../../src/client/consume.js';
import { FAIR_SLICE_RECORDS } from '../../src/core/limits.js';
import { useInProcessServer } from '../helpers/in-process-server.js';

const TOPIC = 'fair';
const BACKLOG_RECORDS = 100_000;
const OTHER_RECORDS = 5_000;
/**
 * The most records of other partitions consume() hands out before a partition's first record or
 * between two of its records, while it still has records to read. Round robin with slices of 64 over
 * 3 partitions gives 128 while every partition has a response in the read-ahead (measured: 148 to
 * 360 here, the rest being a partition whose next response was not read yet: while the read-ahead
 * waits for the stream, the iterator gives the event loop, and this in-process server, a turn every
 * 5 ms; at 20 ms it was up to 1,744). Before round robin it was a response of the backlog or two:
 * 1,184 records at 64 KiB, 5,000 to 9,472 at 1 MiB (depending on the order the server sent them in).
 */
const MAX_GAP_RECORDS = 768;
/**
 * The same for consumeBatches(), an array per response: arrays of other partitions between two of one
 * partition (2 when every partition has one read ahead). This server sends the partitions' responses
 * nearly in turn, so the old code came close (2 to 4), and a loaded machine gave the new one 4 as well
 * (a partition whose next response was not read yet): over a real server this only guards against
 * starvation (a backlog handed out first is over a hundred arrays); test/client/consume-iterator.test.ts proves
 * the exact round robin on a stream where one partition's responses got ahead.
 */
const MAX_GAP_RESPONSES = 6;

describe('fair hand-out across partitions in consume() and consumeBatches()', () => {
  const fixture = useInProcessServer();

  beforeAll(async () => {
    const { client } = fixture;
    await client.admin.createTopic(TOPIC, { partitions: 3 });
    const producer = client.producer();
    const value = 'v'.repeat(100);
    for (let sent = 0; sent < BACKLOG_RECORDS; sent += 10_000) await producer.sendBatch(TOPIC, Array.from({ length: 10_000 }, () => ({ partition: 0, value })));
    for (const partition of [1, 2]) await producer.sendBatch(TOPIC, Array.from({ length: OTHER_RECORDS }, () => ({ partition, value })));
    await producer.close();
  });

  /**
   * Follows what is handed out, in order: per partition, the longest run of other partitions'
   * records (or arrays) before its first or between two of its own (every partition has records from the start).
   */
  function gapMeter() {
    const handed = [0, 0, 0];
    const lastSeenAt = [-1, -1, -1];
    const maxGap = [0, 0, 0];
    const nextOffset = [0, 0, 0];
    let total = 0;
    return {
      handed,
      maxGap,
      get total() {
        return total;
      },
      /** One unit: a record, or an array of one partition's records. */
      see(records: readonly ConsumedRecord[]) {
        const partition = records[0]!.partition;
        for (const record of records) {
          expect(record.partition).toBe(partition);
          expect(record.offset).toBe(nextOffset[partition]);
          nextOffset[partition]!++;
        }
        maxGap[partition] = Math.max(maxGap[partition]!, total - lastSeenAt[partition]! - 1);
        lastSeenAt[partition] = total;
        handed[partition]! += records.length;
        total++;
      },
      get isDone() {
        return handed[1] === OTHER_RECORDS && handed[2] === OTHER_RECORDS;
      },
    };
  }

  for (const maxBytes of [64 * 1024, undefined]) {
    it(`consume() (maxBytes ${maxBytes ?? 'default, 1 MiB'}): a partition with a ${BACKLOG_RECORDS}-record backlog does not starve the others`, async () => {
      const meter = gapMeter();
      for await (const record of fixture.client.consume(TOPIC, { from: 'earliest', ...(maxBytes ? { maxBytes } : {}) })) {
        meter.see([record]);
        if (meter.isDone) break;
      }
      console.log(`consume() maxBytes ${maxBytes ?? 'default'}: ${meter.total} records handed before partitions 1 and 2 were done (${meter.handed[0]} of the backlog); longest gaps of partitions 1 and 2: ${meter.maxGap[1]}, ${meter.maxGap[2]} records`);
      expect(FAIR_SLICE_RECORDS).toBe(64);
      expect(meter.maxGap[1]).toBeLessThanOrEqual(MAX_GAP_RECORDS);
      expect(meter.maxGap[2]).toBeLessThanOrEqual(MAX_GAP_RECORDS);
      // The backlog was not drained first: round robin hands it about as many records as each other partition.
      expect(meter.handed[0]).toBeLessThan(OTHER_RECORDS + MAX_GAP_RECORDS);
    });
  }

  it(`consumeBatches(): arrays (one response each) are handed round robin across partitions`, async () => {
    const meter = gapMeter();
    for await (const records of fixture.client.consumeBatches(TOPIC, { from: 'earliest', maxBytes: 64 * 1024 })) {
      meter.see(records);
      if (meter.isDone) break;
    }
    console.log(`consumeBatches() maxBytes 64 KiB: ${meter.total} arrays handed before partitions 1 and 2 were done (${meter.handed[0]} records of the backlog); longest gaps of partitions 1 and 2: ${meter.maxGap[1]}, ${meter.maxGap[2]} arrays`);
    expect(meter.maxGap[1]).toBeLessThanOrEqual(MAX_GAP_RESPONSES);
    expect(meter.maxGap[2]).toBeLessThanOrEqual(MAX_GAP_RESPONSES);
  });
});
