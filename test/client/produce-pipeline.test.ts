import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { ProducePipeline } from '../../src/client/produce-pipeline.js';
import type { ProduceServiceClient } from '../../src/generated/strata/v1/ProduceService.js';

describe('ProducePipeline', () => {
  it('opens a new stream after one broke while blocked by flow control (no send hangs)', async () => {
    let opened = 0;
    const streams: EventEmitter[] = [];
    const stub = {
      produce() {
        opened++;
        const stream = new EventEmitter() as EventEmitter & { write: (r: { requestId: number }) => boolean; end: () => void };
        const isFirst = opened === 1;
        // The first stream is full (write() says so) and then dies; the second one works.
        stream.write = (request) => {
          if (!isFirst) setImmediate(() => stream.emit('data', { requestId: request.requestId, baseOffset: 7, lastOffset: 7, durability: 'ACK_LEVEL_WRITTEN', failure: null }));
          return !isFirst;
        };
        stream.end = () => undefined;
        streams.push(stream);
        return stream;
      },
    } as unknown as ProduceServiceClient;
    const pipeline = new ProducePipeline(stub, { producerId: 1, ackLevel: 'ACK_LEVEL_WRITTEN', maxInFlightPerPartition: 5, maxRequestBytes: 1 << 20, retryBackoffMs: 5, maxRetryBackoffMs: 5, requestTimeoutMs: 30_000, compression: 'none', onSettled: () => undefined });
    const settled = new Promise<number>((resolve, reject) =>
      pipeline.seal('t', 0, [{ key: null, value: 'a', timestampMs: 1 }], [{ onAcknowledged: (_i, m) => resolve(m.offset), onFailed: reject }], [0], 10, Date.now() + 60_000),
    );
    streams[0]!.emit('error', Object.assign(new Error('connection reset'), { code: 14 }));
    expect(await settled).toBe(7);
    expect(opened).toBe(2);
  });
});
