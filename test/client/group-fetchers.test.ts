import { PassThrough } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { GroupFetchers, type GroupFetchersHost } from '../../src/client/group-fetchers.js';
import type { ConsumedRecord } from '../../src/client/consume.js';
import { RecordBuffer } from '../../src/client/record-buffer.js';
import type { StrataClient } from '../../src/client/strata-client.js';
import { encodeRecordBatch } from '../../src/format/record-batch-codec.js';
import { eventually } from '../helpers/eventually.js';

function outOfRange(offset: number, low: number, high: number): grpc.ServiceError {
  const metadata = new grpc.Metadata();
  metadata.set('strata-error-code', 'OFFSET_OUT_OF_RANGE');
  metadata.set('strata-retriable', 'false');
  return Object.assign(new Error('out of range'), { code: grpc.status.OUT_OF_RANGE, details: `OFFSET_OUT_OF_RANGE: offset ${offset} is outside [${low}, ${high}]`, metadata });
}

/**
 * One partition 0 whose log holds [range.low, range.high): a subscription from inside it gets one
 * record and then waits; from outside it fails with OFFSET_OUT_OF_RANGE, as the server answers.
 */
function fakeClient(range: { low: number; high: number }, options: { lowMovesAfterListing?: number; lossesAfterRecord?: number } = {}) {
  let losses = options.lossesAfterRecord ?? 0;
  const starts: number[] = [];
  const client = {
    admin: {
      listOffsets: async (_topic: string, spec: string, partitions: number[]) => {
        const answer = partitions.map((partition) => ({ partition, offset: spec === 'earliest' ? range.low : range.high }));
        // Retention racing the reset: what was the log start is gone by the time it is read.
        if (spec === 'earliest' && options.lowMovesAfterListing) {
          range.low += options.lowMovesAfterListing;
          range.high += options.lowMovesAfterListing;
        }
        return answer;
      },
    },
    stubs: {
      consume: {
        subscribe(request: { startOffsets: Record<number, number> }) {
          const start = Number(request.startOffsets[0]);
          starts.push(start);
          const stream = Object.assign(new PassThrough({ objectMode: true }), { cancel: () => stream.destroy() });
          setImmediate(() => {
            if (start < range.low || start > range.high) stream.destroy(outOfRange(start, range.low, range.high));
            else if (start < range.high) {
              stream.write({ partition: 0, fetchOffset: start, nextOffset: start + 1, records: encodeRecordBatch([{ value: `r${start}` }], { baseOffset: start }) });
              // Retention deletes what the reader was about to read, under its feet.
              if (losses-- > 0) {
                range.low += 50;
                range.high += 50;
                setImmediate(() => stream.destroy(outOfRange(start + 1, range.low, range.high)));
              }
            }
          });
          return stream;
        },
      },
    },
  } as unknown as StrataClient;
  return { client, starts };
}

function host(client: StrataClient, position: { next: number | undefined }, events: string[]): GroupFetchersHost {
  return {
    client,
    buffer: new RecordBuffer<ConsumedRecord>(1_000),
    fromBeginning: true,
    owned: () => [{ topic: 't', partition: 0 }],
    resumeOffset: () => position.next,
    onStartResolved: () => undefined,
    onOffsetReset: (_topic, _partition, offset) => {
      events.push(`reset to ${offset}`);
      position.next = offset;
    },
    onFailure: (error) => void events.push(`failed: ${(error as { code?: string }).code}`),
  };
}

describe('GroupFetchers: auto.offset.reset', () => {
  it('starts a partition outside its log again at earliest, and goes on reading', async () => {
    const { client, starts } = fakeClient({ low: 100, high: 105 });
    const events: string[] = [];
    const fetchers = new GroupFetchers(host(client, { next: 7 }, events));
    fetchers.start(false);
    // The second subscription, from the reset offset, is the last thing that happens.
    await eventually(() => starts.length === 2, { what: 'the subscription after the reset' });
    expect(events).toEqual(['reset to 100']);
    expect(starts).toEqual([7, 100]);
    fetchers.stop(() => true);
  });

  it('fails the member only after several resets in a row that read nothing (the log keeps moving away)', async () => {
    const { client } = fakeClient({ low: 100, high: 105 }, { lowMovesAfterListing: 10 });
    const events: string[] = [];
    const fetchers = new GroupFetchers(host(client, { next: 7 }, events));
    fetchers.start(false);
    await eventually(() => events.some((event) => event.startsWith('failed')), { what: 'the member to fail' });
    expect(events).toEqual(['reset to 100', 'reset to 110', 'reset to 120', 'failed: OFFSET_OUT_OF_RANGE']);
    fetchers.stop(() => true);
  });

  it('counts only resets in a row: one that reads a record starts the count again', async () => {
    // Four times in one subscription the log moves past the member just after it read a record.
    const { client, starts } = fakeClient({ low: 100, high: 105 }, { lossesAfterRecord: 4 });
    const events: string[] = [];
    const position = { next: 100 as number | undefined };
    const fetchers = new GroupFetchers(host(client, position, events));
    fetchers.start(false);
    await eventually(() => starts.length === 5, { what: 'the fifth subscription, after the fourth reset' });
    expect(events).toEqual(['reset to 150', 'reset to 200', 'reset to 250', 'reset to 300']);
    expect(starts).toEqual([100, 150, 200, 250, 300]);
    fetchers.stop(() => true);
  });
});
