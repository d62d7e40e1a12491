import { describe, expect, it } from 'vitest';
import { BatchBufferPool } from '../../src/client/batch-buffer-pool.js';
import { Producer } from '../../src/client/producer.js';
import { RecordBatchBuilder } from '../../src/format/record-batch-builder.js';
import type { ProduceRequest } from '../../src/generated/strata/v1/ProduceRequest.js';
import { SeededRandom } from '../../src/core/seeded-random.js';
import { fakeProduceService } from '../helpers/fake-produce-service.js';
import { settleOn } from '../helpers/manual-time.js';

describe('BatchBufferPool', () => {
  it('reuses only whole buffers it allocated, up to its byte bound', () => {
    const pool = new BatchBufferPool(16_384, 2 * 16_384);
    const a = pool.allocate(16_384);
    const b = pool.allocate(16_384);
    const c = pool.allocate(16_384);
    expect(a.buffer.byteLength).toBe(16_384);
    pool.recycle(a.subarray(0, 1000));
    pool.recycle(b);
    pool.recycle(c); // past the bound: dropped
    expect(pool.freeCount).toBe(2);
    expect(pool.allocate(16_384).buffer).toBe(b.buffer);
    expect(pool.allocate(16_384).buffer).toBe(a.buffer);
    // Not its own: a slice of Node's shared pool, another size, a copy.
    pool.recycle(Buffer.allocUnsafe(100));
    pool.recycle(pool.allocate(1000));
    pool.recycle(Buffer.from(c));
    expect(pool.freeCount).toBe(0);
  });

  it('gets back the buffers of batches a builder copied out (gzip, or under half used)', () => {
    const pool = new BatchBufferPool(16_384, 1 << 20);
    for (const compression of ['gzip', 'none'] as const) {
      const builder = new RecordBatchBuilder(16_384, { compression, allocate: pool.allocate, release: pool.recycle });
      builder.tryAppend(1, null, Buffer.alloc(100));
      const batch = builder.build();
      expect(batch.length).toBeLessThan(8192);
      expect(pool.freeCount, compression).toBe(1);
      // The batch is its own copy: taking the freed buffer again cannot touch it.
      const copy = Buffer.from(batch);
      pool.allocate(16_384).fill(0xee);
      expect(batch.equals(copy), compression).toBe(true);
      expect(pool.freeCount).toBe(0);
    }
  });
});

describe('Producer batch buffer reuse', () => {
  it('never changes the bytes of a batch between its request and its answer, while it reuses buffers', async () => {
    const seed = Date.now() % 100_000;
    const random = new SeededRandom(seed);
    const arrayBuffers = new Set<ArrayBufferLike>();
    const sentBytes = new Map<ProduceRequest, Buffer>();
    let changed = 0;
    const { client, clock, logs: written, requestCount } = fakeProduceService({
      partitions: 2,
      // Answered late (0-3 ms of the producer's clock) and out of order: many batches in flight while buffers are reused.
      answerDelayMs: () => random.int(0, 3),
      onRequest: (request) => {
        const records = request.records as Buffer;
        arrayBuffers.add(records.buffer);
        sentBytes.set(request, Buffer.from(records));
      },
      onAnswer: (request) => {
        if (!(request.records as Buffer).equals(sentBytes.get(request)!)) changed++;
        sentBytes.delete(request);
      },
    });
    // One batch per request, so the requests show the batches' own buffers.
    const producer = new Producer(client, { lingerMs: 1, batchBytes: 4096, maxBatchBytes: 4096, maxRequestBytes: 4096 });
    const values = Array.from({ length: 20_000 }, (_, i) => `value-${i}`.padEnd(64, '.'));
    // Two calls at a time: batches settle while new ones are built.
    let calls: Array<Promise<unknown>> = [];
    for (let i = 0; i < values.length; i += 500) {
      calls.push(producer.sendBatch('t', values.slice(i, i + 500).map((value, j) => ({ value, partition: (i + j) % 2 }))));
      if (calls.length === 2) await settleOn(clock, calls.shift()!);
    }
    await settleOn(clock, Promise.all(calls));
    calls = [];
    await settleOn(clock, producer.close());
    expect(changed, `seed ${seed}`).toBe(0);
    expect(written[0]).toEqual(values.filter((_, i) => i % 2 === 0));
    expect(written[1]).toEqual(values.filter((_, i) => i % 2 === 1));
    // Reuse happened: far fewer buffers than requests.
    expect(arrayBuffers.size, `seed ${seed}`).toBeLessThan(requestCount() / 2);
  });
});
