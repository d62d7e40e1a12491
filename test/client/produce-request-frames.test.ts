import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BatchesProduceRequest, produceRequestSerializer, recycleProduceFrame } from '../../src/client/produce-request-frames.js';
import type { ProduceRequest } from '../../src/generated/strata/v1/ProduceRequest.js';
import { EventEmitter } from 'node:events';
import { localGenerations, ProducePipeline } from '../../src/client/produce-pipeline.js';
import { ManualClock } from '../../src/core/clock.js';
import { BatchSinks } from '../../src/client/send-sinks.js';
import { RecordBatchBuilder } from '../../src/format/record-batch-builder.js';
import type { ProduceServiceClient } from '../../src/generated/strata/v1/ProduceService.js';
import { loadProtocol } from '../../src/protocol/protocol.js';

const method = loadProtocol().protocol.strata.v1.ProduceService.service.Produce;
const protobufjsSerialize = method.requestSerialize as (request: ProduceRequest) => Buffer;
const decode = method.requestDeserialize as (bytes: Buffer) => unknown;
const serialize = produceRequestSerializer(protobufjsSerialize);

const requestArb = fc.record({
  requestId: fc.oneof(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER })),
  // Lone surrogates included: protobufjs encodes them its own way, so they must take its path.
  topic: fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), fc.string({ unit: fc.integer({ min: 0xd7f0, max: 0xe010 }).map((c) => String.fromCharCode(c)), maxLength: 6 })),
  partition: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff_ffff })),
  records: fc.uint8Array({ maxLength: 3000 }).map((bytes) => Buffer.from(bytes)),
  ackLevel: fc.constantFrom(undefined, 'ACK_LEVEL_UNSPECIFIED', 'ACK_LEVEL_NONE', 'ACK_LEVEL_WRITTEN', 'ACK_LEVEL_DURABLE', 0, 1, 2, 3),
});

describe('the ProduceRequest serializer', () => {
  it('writes what protobufjs reads back as the same request protobufjs would have written', () => {
    fc.assert(
      fc.property(requestArb, (fields) => {
        const request = { ...fields, ackLevel: fields.ackLevel as ProduceRequest['ackLevel'] } as ProduceRequest;
        if (request.ackLevel === undefined) delete request.ackLevel;
        const ours = Buffer.from(serialize(request));
        expect(decode(ours)).toEqual(decode(protobufjsSerialize(request)));
        recycleProduceFrame(request);
      }),
      { numRuns: 300 },
    );
  });

  it('writes several batches one after another, as protobufjs writes their concatenation', () => {
    fc.assert(
      fc.property(requestArb, fc.array(fc.uint8Array({ minLength: 1, maxLength: 500 }), { minLength: 1, maxLength: 5 }), (fields, parts) => {
        const batches = parts.map((bytes) => Buffer.from(bytes));
        const recordsBytes = batches.reduce((n, b) => n + b.length, 0);
        const ackLevel = (fields.ackLevel ?? 'ACK_LEVEL_UNSPECIFIED') as ProduceRequest['ackLevel'];
        const request = new BatchesProduceRequest(fields.requestId, fields.topic, fields.partition, batches, recordsBytes, ackLevel);
        const concatenated: ProduceRequest = { requestId: fields.requestId, topic: fields.topic, partition: fields.partition, records: Buffer.concat(batches), ackLevel };
        expect(decode(Buffer.from(serialize(request)))).toEqual(decode(protobufjsSerialize(concatenated)));
        // Whoever reads `records` (a fake stream, protobufjs) gets the concatenation.
        expect(request.records.equals(concatenated.records as Buffer)).toBe(true);
        expect(decode(protobufjsSerialize(request))).toEqual(decode(protobufjsSerialize(concatenated)));
        recycleProduceFrame(request);
      }),
      { numRuns: 200 },
    );
  });

  it('hands anything outside its fast path to protobufjs', () => {
    for (const request of [
      { requestId: '12', topic: 't', partition: 1, records: Buffer.alloc(3) },
      { requestId: 1, topic: 't', partition: 1, records: new Uint8Array(3) },
      { requestId: 1, topic: 't', partition: 1, records: Buffer.alloc(3), ackLevel: 'NOT_A_LEVEL' },
    ] as unknown as ProduceRequest[]) {
      let fellBack = false;
      const withSpy = produceRequestSerializer((r) => ((fellBack = true), protobufjsSerialize(r)));
      withSpy(request);
      expect(fellBack).toBe(true);
    }
  });

  it('reuses a buffer only after it is given back', () => {
    const first: ProduceRequest = { requestId: 1, topic: 't', partition: 0, records: Buffer.alloc(100, 1) };
    const second: ProduceRequest = { requestId: 2, topic: 't', partition: 0, records: Buffer.alloc(100, 2) };
    const firstBytes = serialize(first);
    const copy = Buffer.from(firstBytes);
    const secondBytes = serialize(second);
    // Not given back: the second request has a buffer of its own, and the first's bytes stay as written.
    expect(secondBytes.buffer).not.toBe(firstBytes.buffer);
    expect(firstBytes.equals(copy)).toBe(true);
    recycleProduceFrame(first);
    recycleProduceFrame(first); // twice: the second time it is not ours any more
    const third: ProduceRequest = { requestId: 3, topic: 't', partition: 0, records: Buffer.alloc(100, 3) };
    const fourth: ProduceRequest = { requestId: 4, topic: 't', partition: 0, records: Buffer.alloc(100, 4) };
    expect(serialize(third).buffer).toBe(firstBytes.buffer);
    expect(serialize(fourth).buffer).not.toBe(firstBytes.buffer);
    recycleProduceFrame(second);
    recycleProduceFrame(third);
    recycleProduceFrame(fourth);
  });

  it('makes room for a new size when its free buffers are full of another size', () => {
    const small = Array.from({ length: 300 }, (_, i): ProduceRequest => ({ requestId: i, topic: 't', partition: 0, records: Buffer.alloc(100) }));
    for (const request of small) serialize(request);
    for (const request of small) recycleProduceFrame(request); // 4 MiB of 16 KiB buffers: full
    const big = (id: number): ProduceRequest => ({ requestId: id, topic: 't', partition: 0, records: Buffer.alloc(40_000) });
    const first = big(1);
    const firstBytes = serialize(first);
    recycleProduceFrame(first);
    expect(serialize(big(2)).buffer).toBe(firstBytes.buffer);
  });

  it('gets a request\'s buffer back from the pipeline once the request is answered, never from a stream that died', async () => {
    const written: Array<{ requestId: number; bytes: Buffer }> = [];
    const streams: Array<EventEmitter & { write: (r: ProduceRequest) => boolean; end: () => void }> = [];
    const stub = {
      produce() {
        const stream = new EventEmitter() as EventEmitter & { write: (r: ProduceRequest) => boolean; end: () => void };
        stream.write = (request) => {
          written.push({ requestId: request.requestId as number, bytes: serialize(request) });
          return true;
        };
        stream.end = () => undefined;
        streams.push(stream);
        return stream;
      },
    } as unknown as ProduceServiceClient;
    const clock = new ManualClock(0);
    const pipeline = new ProducePipeline(stub, { newGeneration: localGenerations(1, () => 2), clock, ackLevel: 'ACK_LEVEL_WRITTEN', maxInFlightPerPartition: 5, maxRequestBytes: 1 << 20, retryBackoffMs: 1, maxRetryBackoffMs: 1, requestTimeoutMs: 30_000, onSettled: () => undefined });
    const answered: number[] = [];
    const seal = (value: string) => {
      const builder = new RecordBatchBuilder(1 << 14);
      builder.tryAppend(1, null, value);
      const sinks = new BatchSinks();
      sinks.add({ onAcknowledged: (_i, m) => answered.push(m.offset), onFailed: () => undefined }, 0);
      pipeline.seal('t', 0, builder, sinks, 10, 60_000);
    };
    const answer = (stream: EventEmitter, requestId: number, offset: number) =>
      stream.emit('data', { requestId, partition: 0, baseOffset: offset, lastOffset: offset, durability: 'ACK_LEVEL_WRITTEN', duplicate: false, failure: null });
    seal('a');
    answer(streams[0]!, written[0]!.requestId, 0);
    seal('b');
    // a was answered: b's bytes go into a's buffer.
    expect(written[1]!.bytes.buffer).toBe(written[0]!.bytes.buffer);
    // b's stream dies unanswered: b is sent again, and not into the buffer grpc-js may still be reading.
    streams[0]!.emit('error', Object.assign(new Error('connection reset'), { code: 14 }));
    // The retry goes out once its backoff has passed on the clock.
    clock.advance(1);
    expect(written).toHaveLength(3);
    expect(written[2]!.bytes.buffer).not.toBe(written[1]!.bytes.buffer);
    answer(streams[1]!, written[2]!.requestId, 1);
    expect(answered).toEqual([0, 1]);
    pipeline.close();
  });
});
