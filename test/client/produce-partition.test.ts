/**
 * The produce pipeline's recovery, one partition at a time: its phases and their reasons, and the one
 * step that gives it a new generation (newGeneration). Requests are answered by the test, by hand, and
 * time moves only on a ManualClock: every step is deterministic.
 */
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { GenerationRequest, ProducerGeneration } from '../../src/client/produce-partition.js';
import { localGenerations, ProducePipeline, type PipelineOptions, type RecordSink } from '../../src/client/produce-pipeline.js';
import { BatchSinks } from '../../src/client/send-sinks.js';
import { StrataClientError } from '../../src/client/client-error.js';
import { ManualClock } from '../../src/core/clock.js';
import { readBatchHeader } from '../../src/format/record-batch.js';
import { RecordBatchBuilder } from '../../src/format/record-batch-builder.js';
import type { ProduceRequest } from '../../src/generated/strata/v1/ProduceRequest.js';
import type { ProduceServiceClient } from '../../src/generated/strata/v1/ProduceService.js';

type Stream = EventEmitter & { write: (r: ProduceRequest) => boolean; end: () => void; cancel: () => void };

/** A pipeline over a stub that keeps every request for the test to answer, on a manual clock. */
function scripted(options: Partial<PipelineOptions> = {}) {
  const clock = new ManualClock(1_000);
  const streams: Stream[] = [];
  const written: Array<{ stream: Stream; request: ProduceRequest; header: ReturnType<typeof readBatchHeader> }> = [];
  const stub = {
    produce() {
      const stream = new EventEmitter() as Stream;
      stream.write = (request) => {
        written.push({ stream, request, header: readBatchHeader(request.records as Buffer) });
        return true;
      };
      stream.end = () => undefined;
      stream.cancel = () => undefined;
      streams.push(stream);
      return stream;
    },
  } as unknown as ProduceServiceClient;
  const asked: GenerationRequest[] = [];
  const local = localGenerations(7, () => 8);
  const pipeline = new ProducePipeline(stub, {
    newGeneration: (request) => {
      asked.push(request);
      return local(request);
    },
    clock,
    ackLevel: 'ACK_LEVEL_WRITTEN',
    maxInFlightPerPartition: 2,
    maxRequestBytes: 1 << 20,
    retryBackoffMs: 100,
    maxRetryBackoffMs: 1_000,
    requestTimeoutMs: 30_000,
    onSettled: () => undefined,
    ...options,
  });
  const outcomes: string[] = [];
  /** Seals a batch of one record `value` on partition `partition` of topic t. */
  const seal = (value: string, partition = 0, deliveryTimeoutMs = 60_000) => {
    const builder = new RecordBatchBuilder(1 << 14);
    builder.tryAppend(1, null, value);
    const sink: RecordSink = { onAcknowledged: (_i, m) => outcomes.push(`${value}@${m.offset}`), onFailed: (e) => outcomes.push(`${value}: ${e.message}`) };
    const sinks = new BatchSinks();
    sinks.add(sink, 0);
    pipeline.seal('t', partition, builder, sinks, 10, clock.monotonicMs() + deliveryTimeoutMs);
  };
  const answer = (index: number, result: { offset?: number; failure?: { code: string; retriable: boolean } }) => {
    const { stream, request } = written[index]!;
    const failure = result.failure ? { ...result.failure, message: `refused (${result.failure.code})`, grpcStatus: 9 } : null;
    stream.emit('data', { requestId: request.requestId, partition: request.partition, baseOffset: result.offset ?? -1, lastOffset: result.offset ?? -1, durability: 'ACK_LEVEL_WRITTEN', duplicate: false, failure });
  };
  const phaseOf = (partition = 0) => {
    const phase = (pipeline as unknown as { partitionState(t: string, p: number): { phase: { kind: string; reason?: string } } }).partitionState('t', partition).phase;
    return phase.reason ? `${phase.kind}: ${phase.reason}` : phase.kind;
  };
  const stamps = () => written.map(({ header }) => `${header.producerId}/${header.producerEpoch}/${header.baseSequence}`);
  return { clock, streams, written, asked, pipeline, seal, answer, outcomes, phaseOf, stamps };
}

const flushMicrotasks = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('a partition of the produce pipeline', () => {
  it('asks newGeneration for its first batch, once per partition, and numbers its batches from 0', () => {
    const p = scripted();
    p.seal('a', 0);
    p.seal('b', 0);
    p.seal('c', 1);
    expect(p.asked.map((r) => [r.partition, r.reason, r.current])).toEqual([
      [0, 'first-batch', undefined],
      [1, 'first-batch', undefined],
    ]);
    expect(p.stamps()).toEqual(['7/0/0', '7/0/1', '7/0/0']);
    expect(p.phaseOf(0)).toBe('sending');
  });

  it('a retriable failure: draining until every in-flight answer, backing off on the clock, then the same bytes again', async () => {
    const p = scripted();
    p.seal('a');
    p.seal('b');
    p.answer(0, { failure: { code: 'TOO_MANY_PENDING_APPENDS', retriable: true } });
    // b is still in flight: nothing is resent before its answer.
    expect(p.phaseOf()).toBe('draining: retriable-failure');
    p.answer(1, { failure: { code: 'OUT_OF_ORDER_SEQUENCE', retriable: true } });
    expect(p.phaseOf()).toBe('backing-off: retriable-failure');
    p.seal('c'); // waits behind the retries
    p.clock.advance(99);
    expect(p.written).toHaveLength(2);
    p.clock.advance(1);
    expect(p.phaseOf()).toBe('sending');
    // a and b again, unchanged and alone (two in flight at most), then c behind them.
    expect(p.stamps()).toEqual(['7/0/0', '7/0/1', '7/0/0', '7/0/1']);
    p.answer(2, { offset: 0 });
    expect(p.stamps()[4]).toBe('7/0/2');
    p.answer(3, { offset: 1 });
    p.answer(4, { offset: 2 });
    expect(p.outcomes).toEqual(['a@0', 'b@1', 'c@2']);
    expect(p.asked).toHaveLength(1); // no new generation: the server still has the sequence
    await flushMicrotasks();
  });

  it('the backoff doubles with each failure up to maxRetryBackoffMs, and starts over after an acknowledgement', () => {
    const p = scripted({ maxInFlightPerPartition: 1 });
    p.seal('a');
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      p.answer(p.written.length - 1, { failure: { code: 'TOO_MANY_PENDING_APPENDS', retriable: true } });
      const before = p.written.length;
      let waitedMs = 0;
      while (p.written.length === before) {
        p.clock.advance(1);
        waitedMs++;
      }
      delays.push(waitedMs);
    }
    expect(delays).toEqual([100, 200, 400, 800, 1_000]);
    p.answer(p.written.length - 1, { offset: 0 });
    p.seal('b');
    p.answer(p.written.length - 1, { failure: { code: 'TOO_MANY_PENDING_APPENDS', retriable: true } });
    p.clock.advance(99);
    expect(p.stamps()).toHaveLength(7);
    p.clock.advance(1);
    expect(p.stamps()).toHaveLength(8);
  });

  it('UNKNOWN_PRODUCER: a new generation (reason unknown-producer) renumbers everything waiting from 0, after the backoff', async () => {
    const p = scripted();
    p.seal('a');
    p.answer(0, { offset: 0 });
    p.seal('b');
    p.seal('c');
    p.answer(0 + 1, { failure: { code: 'UNKNOWN_PRODUCER', retriable: true } });
    p.answer(2, { failure: { code: 'OUT_OF_ORDER_SEQUENCE', retriable: true } });
    expect(p.phaseOf()).toBe('backing-off: unknown-producer');
    p.clock.advance(100);
    expect(p.asked.map((r) => [r.reason, r.current])).toEqual([
      ['first-batch', undefined],
      ['unknown-producer', { producerId: 7, epoch: 0 }],
    ]);
    expect(p.stamps().slice(3)).toEqual(['7/1/0', '7/1/1']);
    await flushMicrotasks();
  });

  it('a batch refused for good: it fails alone, an unanswered one fails saying it may be written, the rest start over at once under a new epoch', async () => {
    const p = scripted({ maxInFlightPerPartition: 2 });
    p.seal('a');
    p.seal('b');
    p.seal('c'); // queued behind two in flight
    p.answer(0, { failure: { code: 'INVALID_ARGUMENT', retriable: false } });
    expect(p.phaseOf()).toBe('draining: batch-refused');
    p.streams[0]!.emit('error', Object.assign(new Error('connection reset'), { code: 14 })); // b: outcome unknown
    expect(p.phaseOf()).toBe('backing-off: batch-refused');
    p.clock.advance(100);
    expect(p.asked.map((r) => r.reason)).toEqual(['first-batch', 'batch-refused']);
    expect(p.outcomes).toEqual(['a: refused (INVALID_ARGUMENT)', expect.stringMatching(/^b: .*may have been written/)]);
    expect(p.stamps().slice(2)).toEqual(['7/1/0']);
    p.answer(2, { offset: 5 });
    expect(p.outcomes.at(-1)).toBe('c@5');
  });

  it('an asynchronous newGeneration: batches wait for it, nothing is in flight while it is asked, batches sealed meanwhile get its numbers', async () => {
    let resolveGeneration: ((g: ProducerGeneration) => void) | undefined;
    const p = scripted({ newGeneration: () => new Promise((resolve) => (resolveGeneration = resolve)) });
    p.seal('a');
    p.seal('b');
    expect(p.phaseOf()).toBe('renumbering: first-batch');
    expect(p.written).toHaveLength(0);
    resolveGeneration!({ producerId: 42, epoch: 3 });
    await flushMicrotasks();
    expect(p.phaseOf()).toBe('sending');
    // a and b, never sent, travel together from sequence 0; c goes out behind them.
    expect(p.stamps()).toEqual(['42/3/0']);
    p.seal('c');
    expect(p.stamps()).toEqual(['42/3/0', '42/3/2']);
  });

  it('newGeneration failing: retriable is asked again after the backoff, non-retriable fails the batches waiting', async () => {
    const answers: Array<() => ProducerGeneration> = [
      () => {
        throw new StrataClientError('SERVER_BUSY', 'try later', 14, true);
      },
      () => {
        throw new StrataClientError('PRODUCER_FENCED', 'a newer producer took over', 9, false);
      },
      () => ({ producerId: 5, epoch: 0 }),
    ];
    const p = scripted({ newGeneration: async () => answers.shift()!() });
    p.seal('a');
    await flushMicrotasks();
    expect(p.phaseOf()).toBe('backing-off: first-batch');
    p.clock.advance(100);
    await flushMicrotasks();
    expect(p.outcomes).toEqual(['a: a newer producer took over']);
    p.clock.advance(200);
    await flushMicrotasks();
    // Nothing waits for a generation: it is asked for again by the next batch, not on a timer.
    expect(p.phaseOf()).toBe('sending');
    p.seal('b');
    await flushMicrotasks();
    expect(p.stamps()).toEqual(['5/0/0']);
  });

  it('a newGeneration that answers an epoch not newer than the current one is a bug: an assertion, not a silent fencing', () => {
    const p = scripted({ newGeneration: () => ({ producerId: 7, epoch: 0 }) });
    p.seal('a');
    p.answer(0, { failure: { code: 'UNKNOWN_PRODUCER', retriable: true } });
    expect(() => p.clock.advance(100)).toThrow(/newer epoch/);
  });

  it('past the int32 sequence: the numbered batches go out first (sequence-exhausted), then the next epoch from 0, with no backoff', async () => {
    const p = scripted();
    p.seal('a');
    const state = (p.pipeline as unknown as { partitionState(t: string, p: number): { nextSequence: number } }).partitionState('t', 0);
    state.nextSequence = 0x7fff_ffff;
    p.seal('b'); // the last sequence
    p.seal('c'); // past it: waits (two in flight already)
    expect(p.stamps()).toEqual(['7/0/0', `7/0/${0x7fff_ffff}`]);
    p.answer(0, { offset: 0 });
    // Room in flight, but c has no sequence: it waits for b's answer and a new generation.
    expect(p.phaseOf()).toBe('draining: sequence-exhausted');
    expect(p.written).toHaveLength(2);
    p.answer(1, { offset: 1 });
    expect(p.asked.map((r) => r.reason)).toEqual(['first-batch', 'sequence-exhausted']);
    expect(p.stamps()[2]).toBe('7/1/0');
  });

  it('closed while backing off: the backoff is cancelled', () => {
    const p = scripted();
    p.seal('a');
    p.answer(0, { failure: { code: 'TOO_MANY_PENDING_APPENDS', retriable: true } });
    p.pipeline.close();
    p.clock.advance(10_000);
    expect(p.written).toHaveLength(1);
  });
});
