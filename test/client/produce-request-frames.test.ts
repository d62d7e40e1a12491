import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BatchesProduceRequest, produceRequestSerializer, recycleProduceFrame } from '../../src/client/produce-request-frames.js';
import type { ProduceRequest } from '../../src/generated/strata/v1/ProduceRequest.js';
import { loadProtocol } from '../../src/protocol/protocol.js';

const method = loadProtocol().protocol.strata.v1.ProduceService.service.Produce;
const protobufjsSerialize = method.requestSerialize as (request: ProduceRequest) => Buffer;
const decode = method.requestDeserialize as (bytes: Buffer) => unknown;
const serialize = produceRequestSerializer(protobufjsSerialize);

const requestArb = fc.record({
  requestId: fc.oneof(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER })),
  topic: fc.string({ unit: 'binary', maxLength: 40 }),
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
});
