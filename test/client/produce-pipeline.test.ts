import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { ProducerSequences } from '../../src/broker/producer-sequences.js';
import { localGenerations, ProducePipeline, type RecordSink } from '../../src/client/produce-pipeline.js';
import { ManualClock } from '../../src/core/clock.js';
import type { ProducePartition } from '../../src/client/produce-partition.js';
import { BatchSinks } from '../../src/client/send-sinks.js';
import type { StrataError } from '../../src/core/errors.js';
import { validateBatches, type BatchHeader } from '../../src/format/record-batch.js';
import type { ProduceServiceClient } from '../../src/generated/strata/v1/ProduceService.js';
import { RecordBatchBuilder } from '../../src/format/record-batch-builder.js';

/** `count` records of one call, all waited for by `sink`. */
function sinksOf(sink: RecordSink, count: number): BatchSinks {
  const sinks = new BatchSinks();
  for (let index = 0; index < count; index++) sinks.add(sink, index);
  return sinks;
}

function builderOf(records: Array<{ key: null; value: string; timestampMs: number }>): RecordBatchBuilder {
  const builder = new RecordBatchBuilder(1 << 16);
  for (const record of records) expect(builder.tryAppend(record.timestampMs, record.key, record.value)).toBe(true);
  return builder;
}

/**
 * A Produce stream in front of the server's ProducerSequences: it appends (to `appended`) the batches
 * it admits, answers duplicates with their offsets, and refuses the rest with the server's error.
 */
function sequencedStub(sequences: ProducerSequences, appended: BatchHeader[]): ProduceServiceClient {
  let offset = 0;
  return {
    produce() {
      const stream = new EventEmitter() as EventEmitter & { write: (r: { requestId: number; records: Buffer }) => boolean; end: () => void };
      stream.write = (request) => {
        const headers = validateBatches(request.records, { maxBatchBytes: 1 << 20 });
        let failure: { code: string; message: string; retriable: boolean; grpcStatus: number } | null = null;
        let result = { baseOffset: -1, lastOffset: -1 };
        try {
          const admission = sequences.admit(headers);
          const count = headers.reduce((n, h) => n + h.recordCount, 0);
          result = { baseOffset: offset, lastOffset: offset + count - 1 };
          if (admission.kind === 'append') {
            offset += count;
            admission.onAppended({ ...result, durability: 'durable' });
            appended.push(...headers);
          } else if (admission.kind === 'duplicate') result = admission.result;
        } catch (error) {
          const refused = error as StrataError;
          failure = { code: refused.code, message: refused.message, retriable: refused.retriable, grpcStatus: 3 };
        }
        setImmediate(() => stream.emit('data', { requestId: request.requestId, partition: 0, ...result, durability: 'ACK_LEVEL_DURABLE', duplicate: false, failure }));
        return true;
      };
      stream.end = () => undefined;
      return stream;
    },
  } as unknown as ProduceServiceClient;
}

/** Producer 9 (10 once its epochs run out), one request in flight; send(n) resolves with the first record's offset. */
function sequencedPipeline(stub: ProduceServiceClient, deliveryTimeoutMs: number) {
  const clock = new ManualClock(0);
  const pipeline = new ProducePipeline(stub, { newGeneration: localGenerations(9, () => 10), clock, ackLevel: 'ACK_LEVEL_WRITTEN', maxInFlightPerPartition: 1, maxRequestBytes: 1 << 20, retryBackoffMs: 5, maxRetryBackoffMs: 5, requestTimeoutMs: 30_000, onSettled: () => undefined });
  const send = (count: number) =>
    new Promise<number>((resolve, reject) => {
      const records = Array.from({ length: count }, (_, i) => ({ key: null, value: `v${i}`, timestampMs: 1 }));
      pipeline.seal('t', 0, builderOf(records), sinksOf({ onAcknowledged: (i, m) => i === 0 && resolve(m.offset), onFailed: reject }, count), 10, clock.monotonicMs() + deliveryTimeoutMs);
    });
  return { pipeline, send };
}

/** The state of partition t/0 (reached into, to start a producer near the end of its sequence). */
function partitionOf(pipeline: ProducePipeline): ProducePartition {
  return (pipeline as unknown as { partitionState(t: string, p: number): ProducePartition }).partitionState('t', 0);
}

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
    const clock = new ManualClock(0);
    const pipeline = new ProducePipeline(stub, { newGeneration: localGenerations(1, () => 2), clock, ackLevel: 'ACK_LEVEL_WRITTEN', maxInFlightPerPartition: 5, maxRequestBytes: 1 << 20, retryBackoffMs: 5, maxRetryBackoffMs: 5, requestTimeoutMs: 30_000, onSettled: () => undefined });
    const settled = new Promise<number>((resolve, reject) =>
      pipeline.seal('t', 0, builderOf([{ key: null, value: 'a', timestampMs: 1 }]), sinksOf({ onAcknowledged: (_i, m) => resolve(m.offset), onFailed: reject }, 1), 10, clock.monotonicMs() + 60_000),
    );
    streams[0]!.emit('error', Object.assign(new Error('connection reset'), { code: 14 }));
    // The retry waits out its backoff on the clock: nothing is sent again before it.
    clock.advance(4);
    expect(opened).toBe(1);
    clock.advance(1);
    expect(await settled).toBe(7);
    expect(opened).toBe(2);
  });

  it('past 2^31 - 1 records of a partition, goes on under the next epoch from sequence 0 (sequences are int32), past the last epoch under a new producer id', async () => {
    const sequences = new ProducerSequences();
    const seen: BatchHeader[] = [];
    const { pipeline, send } = sequencedPipeline(sequencedStub(sequences, seen), 60_000);
    await send(2); // epoch 0, sequences 0-1: the server knows the producer
    // A long-lived producer near the end of the int32 range (2^31 - 4 records sent on this partition).
    partitionOf(pipeline).nextSequence = 2 ** 31 - 4;
    (sequences as unknown as { producers: Map<number, { nextSequence: number }> }).producers.get(9)!.nextSequence = 2 ** 31 - 4;
    await send(3); // 2^31 - 4 .. 2^31 - 2: still fits
    await send(3); // would pass 2^31 - 1: next epoch, from 0
    await send(1);
    // The last epoch an int16 holds: the next start-over takes a fresh producer id, from epoch 0.
    const state = partitionOf(pipeline);
    state.generation = { producerId: 9, epoch: 0x7fff };
    state.nextSequence = 2 ** 31 - 4;
    Object.assign((sequences as unknown as { producers: Map<number, object> }).producers.get(9)!, { producerEpoch: 0x7fff, nextSequence: 2 ** 31 - 4 });
    await send(3); // 2^31 - 4 .. 2^31 - 2 at epoch 32767: still fits
    await send(2); // would pass 2^31 - 1 at the last epoch: producer 10, epoch 0, from 0
    await send(1);
    expect(seen.map((h) => [h.producerId, h.producerEpoch, h.baseSequence, h.recordCount])).toEqual([
      [9, 0, 0, 2],
      [9, 0, 2 ** 31 - 4, 3],
      [9, 1, 0, 3],
      [9, 1, 3, 1],
      [9, 0x7fff, 2 ** 31 - 4, 3],
      [10, 0, 0, 2],
      [10, 0, 2, 1],
    ]);
    pipeline.close();
  });

  for (const atLastEpoch of [false, true]) {
    it(`keeps the log in send order when the sequence starts over while batches are queued (${atLastEpoch ? 'new producer id' : 'new epoch'})`, async () => {
      const sequences = new ProducerSequences();
      const appended: BatchHeader[] = [];
      const { pipeline, send } = sequencedPipeline(sequencedStub(sequences, appended), 5_000);
      await send(1);
      const state = partitionOf(pipeline);
      const entry = (sequences as unknown as { producers: Map<number, { nextSequence: number; producerEpoch: number }> }).producers.get(9)!;
      state.nextSequence = entry.nextSequence = 2 ** 31 - 4;
      if (atLastEpoch) state.generation = { producerId: 9, epoch: (entry.producerEpoch = 0x7fff) };
      const epoch = atLastEpoch ? 0x7fff : 0;
      // b1 goes out; b2 (old generation) and b3 (the new one, from 0) wait in the queue together.
      const offsets = await Promise.all([send(1), send(2), send(2)]);
      expect(offsets).toEqual([1, 2, 4]);
      expect(appended.slice(1).map((h) => `${h.producerId}/${h.producerEpoch}/${h.baseSequence}`)).toEqual([`9/${epoch}/${2 ** 31 - 4}`, `9/${epoch}/${2 ** 31 - 3}`, atLastEpoch ? '10/0/0' : '9/1/0']);
      pipeline.close();
    });
  }
});
