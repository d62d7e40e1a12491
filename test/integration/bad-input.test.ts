import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StrataClientError } from '../../src/client/client-error.js';
import { StrataClient } from '../../src/client/strata-client.js';
import { encodeRecordBatch } from '../../src/format/record-batch-codec.js';
import type { ProduceRequest } from '../../src/generated/strata/v1/ProduceRequest.js';
import type { ProduceResponse__Output } from '../../src/generated/strata/v1/ProduceResponse.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { healthClient, reflectionClient } from '../helpers/standard-services.js';
import { rejection } from '../helpers/rejection.js';
import { makeTempDir } from '../helpers/temp-dir.js';

/** Sends raw produce requests on one stream and collects the responses until it ends. */
function produceRaw(client: StrataClient, requests: ProduceRequest[]): Promise<{ responses: ProduceResponse__Output[]; error?: grpc.ServiceError }> {
  return new Promise((resolve) => {
    const call = client.stubs.produce.produce();
    const responses: ProduceResponse__Output[] = [];
    call.on('data', (r: ProduceResponse__Output) => responses.push(r));
    call.on('error', (error: grpc.ServiceError) => resolve({ responses, error }));
    call.on('end', () => resolve({ responses }));
    for (const request of requests) call.write(request);
    call.end();
  });
}

describe('bad input gets a typed error and hurts nobody else', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let server: ServerProcess;
  let client: StrataClient;
  beforeAll(async () => {
    dir = await makeTempDir();
    server = await startServerProcess(dir.path);
    client = new StrataClient({ address: server.address });
    await client.admin.createTopic('good', { partitions: 2 });
  });
  afterAll(async () => {
    client?.close();
    await server?.stop('SIGKILL');
    await dir.remove();
  });

  it('answers admin mistakes with NOT_FOUND, ALREADY_EXISTS and INVALID_ARGUMENT', async () => {
    const missing = await rejection(client.admin.describeTopic('missing'));
    expect(missing).toMatchObject({ code: 'TOPIC_NOT_FOUND', grpcStatus: grpc.status.NOT_FOUND, retriable: false });
    expect(await rejection(client.admin.createTopic('good', { partitions: 1 }))).toMatchObject({ code: 'TOPIC_ALREADY_EXISTS', grpcStatus: grpc.status.ALREADY_EXISTS });
    for (const name of ['a/b', '..', '', 'x'.repeat(250), 'ümlaut']) {
      expect(await rejection(client.admin.createTopic(name, { partitions: 1 })), name).toMatchObject({ code: 'INVALID_TOPIC_NAME', grpcStatus: grpc.status.INVALID_ARGUMENT });
    }
    expect(await rejection(client.admin.createTopic('zero', { partitions: 0 }))).toMatchObject({ grpcStatus: grpc.status.INVALID_ARGUMENT });
    expect(await rejection(client.admin.createTopic('cfg', { partitions: 1, config: { 'retention.ms': 'soon' } }))).toMatchObject({ code: 'INVALID_CONFIG' });
    // Tiny segments would let one producer use up the server's file descriptors (as Kafka 4, 1 MiB at least).
    const tinySegments = await rejection(client.admin.createTopic('tiny', { partitions: 1, config: { 'segment.bytes': '1024' } }));
    expect(tinySegments).toMatchObject({ code: 'INVALID_CONFIG', grpcStatus: grpc.status.INVALID_ARGUMENT });
    expect(tinySegments.message).toMatch(/segment\.bytes 1024 is below/);
    expect(await rejection(client.admin.createPartitions('good', 1))).toMatchObject({ grpcStatus: grpc.status.INVALID_ARGUMENT });
    expect((await client.admin.listTopics()).map((t) => t.name)).toEqual(['good']);
    // The internal offsets topic may be read, never deleted or repartitioned by a client.
    expect(await rejection(client.admin.deleteTopic('__consumer_offsets'))).toMatchObject({ code: 'INTERNAL_TOPIC', grpcStatus: grpc.status.INVALID_ARGUMENT });
    expect(await rejection(client.admin.createPartitions('__consumer_offsets', 9))).toMatchObject({ code: 'INTERNAL_TOPIC' });
    expect((await client.admin.describeTopic('__consumer_offsets')).partitionCount).toBe(8);
    // Deleting a group that is not there is GROUP_NOT_FOUND (as Kafka's GROUP_ID_NOT_FOUND), not a success.
    const deleteGroup = new Promise((resolve, reject) => client.stubs.admin.deleteGroup({ groupId: 'nosuch' }, (e, r) => (e ? reject(StrataClientError.fromServiceError(e)) : resolve(r))));
    expect(await rejection(deleteGroup)).toMatchObject({ code: 'GROUP_NOT_FOUND', grpcStatus: grpc.status.NOT_FOUND });
    // A closed client answers with the same typed error as any failure, not a bare Error thrown by grpc-js.
    const closed = new StrataClient({ address: server.address });
    closed.close();
    expect(await rejection(closed.admin.listTopics())).toBeInstanceOf(StrataClientError);
  });

  it('fails bad produce requests one by one while the stream and other requests go on', async () => {
    const valid = () => encodeRecordBatch([{ key: 'k', value: 'v' }]);
    const corrupt = valid();
    corrupt[corrupt.length - 1]! ^= 0xff;
    const tooLarge = encodeRecordBatch([{ value: Buffer.alloc(1024 * 1024) }]);
    const { responses, error } = await produceRaw(client, [
      { requestId: 1, topic: 'good', partition: 0, records: valid() },
      { requestId: 2, topic: 'missing', partition: 0, records: valid() },
      { requestId: 3, topic: 'good', partition: 7, records: valid() },
      { requestId: 4, topic: 'good', partition: 0, records: corrupt },
      { requestId: 5, topic: 'good', partition: 0, records: Buffer.from('not a batch') },
      { requestId: 6, topic: 'good', partition: 0, records: tooLarge },
      { requestId: 7, topic: 'good', partition: 0, records: valid() },
      { requestId: 8, topic: '__consumer_offsets', partition: 0, records: encodeRecordBatch([{ key: 'g', value: 'not an offset record' }]) },
    ]);
    expect(error).toBeUndefined();
    const byId = new Map(responses.map((r) => [r.requestId, r]));
    expect(byId.get(1)).toMatchObject({ baseOffset: 0, failure: null });
    expect(byId.get(2)!.failure).toMatchObject({ code: 'TOPIC_NOT_FOUND', grpcStatus: grpc.status.NOT_FOUND });
    expect(byId.get(3)!.failure).toMatchObject({ code: 'PARTITION_NOT_FOUND', grpcStatus: grpc.status.NOT_FOUND });
    expect(byId.get(4)!.failure).toMatchObject({ code: 'CORRUPT_BATCH', grpcStatus: grpc.status.INVALID_ARGUMENT });
    expect(byId.get(5)!.failure).toMatchObject({ code: 'CORRUPT_BATCH', grpcStatus: grpc.status.INVALID_ARGUMENT });
    expect(byId.get(6)!.failure).toMatchObject({ code: 'BATCH_TOO_LARGE', grpcStatus: grpc.status.RESOURCE_EXHAUSTED });
    // Nothing of the bad requests was written: the next good one follows the first directly.
    expect(byId.get(7)).toMatchObject({ baseOffset: 1, failure: null, durability: 'ACK_LEVEL_DURABLE' });
    expect(byId.get(8)!.failure).toMatchObject({ code: 'INTERNAL_TOPIC', grpcStatus: grpc.status.INVALID_ARGUMENT });
    expect((await client.admin.describeTopic('__consumer_offsets')).partitions[0]!.logEndOffset).toBe(0);
  });

  it('ends a stream that sends a message over the size limit with RESOURCE_EXHAUSTED, and only that stream', async () => {
    const { error } = await produceRaw(client, [{ requestId: 1, topic: 'good', partition: 1, records: Buffer.alloc(3 * 1024 * 1024) }]);
    expect(error?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    const producer = client.producer();
    expect((await producer.send('good', { key: 'after', value: 'fine' })).offset).toBeGreaterThanOrEqual(0);
    await producer.close();
  });

  it('ends a stream of garbage bytes with INVALID_ARGUMENT while another client keeps producing', async () => {
    const RawClient = grpc.makeGenericClientConstructor(
      {
        Produce: {
          path: '/strata.v1.ProduceService/Produce',
          requestStream: true,
          responseStream: true,
          requestSerialize: (b: Buffer) => b,
          requestDeserialize: (b: Buffer) => b,
          responseSerialize: (b: Buffer) => b,
          responseDeserialize: (b: Buffer) => b,
        },
      },
      'RawProduce',
    );
    const raw = new RawClient(server.address, grpc.credentials.createInsecure()) as unknown as { Produce: () => grpc.ClientDuplexStream<Buffer, Buffer>; close: () => void };
    const producer = client.producer({ lingerMs: 0 });
    const bystander = Promise.all(Array.from({ length: 50 }, (_, i) => producer.send('good', { key: `b${i}`, value: 'ok' })));
    const status = await new Promise<grpc.StatusObject>((resolve) => {
      const call = raw.Produce();
      call.on('data', () => undefined);
      call.on('error', () => undefined);
      call.on('status', resolve);
      // A field tag with wire type 7 does not exist: no protobuf decoder accepts this.
      call.write(Buffer.from([0x0f, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x07]));
    });
    raw.close();
    expect(status.code).toBe(grpc.status.INVALID_ARGUMENT);
    // A unary call with garbage too (field 2 with wire type 7, which does not exist): INVALID_ARGUMENT.
    const RawAdmin = grpc.makeGenericClientConstructor(
      {
        DescribeTopic: {
          path: '/strata.v1.AdminService/DescribeTopic',
          requestStream: false,
          responseStream: false,
          requestSerialize: (b: Buffer) => b,
          requestDeserialize: (b: Buffer) => b,
          responseSerialize: (b: Buffer) => b,
          responseDeserialize: (b: Buffer) => b,
        },
      },
      'RawAdmin',
    );
    const rawAdmin = new RawAdmin(server.address, grpc.credentials.createInsecure()) as unknown as { DescribeTopic: (b: Buffer, cb: (e: grpc.ServiceError | null) => void) => void; close: () => void };
    const unaryError = await new Promise<grpc.ServiceError | null>((resolve) => rawAdmin.DescribeTopic(Buffer.from([0x17, 0x01]), resolve));
    rawAdmin.close();
    expect(unaryError?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect((await bystander).length).toBe(50);
    await producer.close();
  });

  it('answers garbage sent to the health and reflection services with INVALID_ARGUMENT, and they keep serving', async () => {
    const identity = (b: Buffer) => b;
    const rawMethod = (path: string, requestStream: boolean, responseStream: boolean) => ({ path, requestStream, responseStream, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity });
    const Raw = grpc.makeGenericClientConstructor(
      {
        Check: rawMethod('/grpc.health.v1.Health/Check', false, false),
        List: rawMethod('/grpc.health.v1.Health/List', false, false),
        Watch: rawMethod('/grpc.health.v1.Health/Watch', false, true),
        Reflect: rawMethod('/grpc.reflection.v1.ServerReflection/ServerReflectionInfo', true, true),
        ReflectAlpha: rawMethod('/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo', true, true),
      },
      'RawLibraries',
    );
    const raw = new Raw(server.address, grpc.credentials.createInsecure()) as unknown as Record<string, (...args: unknown[]) => grpc.ClientReadableStream<Buffer> & grpc.ClientDuplexStream<Buffer, Buffer>> & { close: () => void };
    // Field 2 with wire type 7, which does not exist: no protobuf decoder accepts this (the health
    // service's decoder reads field 1 without looking at its wire type, so garbage there decodes).
    const garbage = Buffer.from([0x17, 0x01]);
    const statusOf = (call: grpc.ClientReadableStream<Buffer>) =>
      new Promise<grpc.StatusObject>((resolve) => {
        call.on('data', () => undefined);
        call.on('error', () => undefined);
        call.on('status', resolve);
      });
    try {
      for (const unary of ['Check', 'List']) {
        const error = await new Promise<grpc.ServiceError | null>((resolve) => raw[unary]!(garbage, (e: grpc.ServiceError | null) => resolve(e)));
        expect(error?.code, unary).toBe(grpc.status.INVALID_ARGUMENT);
        expect(error?.details, unary).toMatch(/^INVALID_ARGUMENT: the request is not a valid protobuf message/);
      }
      expect((await statusOf(raw.Watch!(garbage))).code).toBe(grpc.status.INVALID_ARGUMENT);
      for (const method of ['Reflect', 'ReflectAlpha']) {
        const call = raw[method]!();
        const status = statusOf(call);
        call.write(garbage);
        expect((await status).code, method).toBe(grpc.status.INVALID_ARGUMENT);
      }
    } finally {
      raw.close();
    }
    const health = healthClient(server.address);
    const response = await new Promise<{ status: string }>((resolve, reject) => health.check({ service: '' }, (e, r) => (e ? reject(e) : resolve(r))));
    health.close();
    expect(response.status).toBe('SERVING');
  });

  it('answers offsets outside the log with OUT_OF_RANGE and the valid range', async () => {
    const fetch = (offset: number) =>
      new Promise<unknown>((resolve, reject) =>
        client.stubs.consume.fetch({ topic: 'good', partition: 0, offset, maxBytes: 1024 }, (error, response) => (error ? reject(StrataClientError.fromServiceError(error)) : resolve(response))),
      );
    const error = await rejection(fetch(1_000_000));
    expect(error).toMatchObject({ code: 'OFFSET_OUT_OF_RANGE', grpcStatus: grpc.status.OUT_OF_RANGE });
    expect(error.message).toMatch(/\[0, \d+\]/);
    const iterator = client.consume('good', { startOffsets: { 0: 1_000_000 }, partitions: [0] })[Symbol.asyncIterator]();
    expect(await rejection(iterator.next())).toMatchObject({ code: 'OFFSET_OUT_OF_RANGE', grpcStatus: grpc.status.OUT_OF_RANGE });
    expect(await rejection(client.admin.listOffsets('missing', 'earliest'))).toMatchObject({ grpcStatus: grpc.status.NOT_FOUND });
  });

  it('serves grpc.health.v1 and server reflection', async () => {
    const health = healthClient(server.address);
    for (const service of ['', 'strata.v1.ProduceService']) {
      const response = await new Promise<{ status: string }>((resolve, reject) => health.check({ service }, (e, r) => (e ? reject(e) : resolve(r))));
      expect(response.status).toBe('SERVING');
    }
    health.close();

    const reflection = reflectionClient(server.address);
    const names = await new Promise<string[]>((resolve, reject) => {
      const call = reflection.serverReflectionInfo();
      call.on('data', (r) => {
        resolve(r.listServicesResponse!.service.map((s: { name: string }) => s.name));
        call.end();
      });
      call.on('error', reject);
      call.write({ listServices: '' });
    });
    reflection.close();
    expect(names).toEqual(expect.arrayContaining(['strata.v1.AdminService', 'strata.v1.ProduceService', 'strata.v1.ConsumeService']));
  });
});
