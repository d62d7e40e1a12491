import type * as grpc from '@grpc/grpc-js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { call } from '../../src/client/admin.js';
import { ProducerFencedError } from '../../src/core/errors.js';
import { StrataClient } from '../../src/client/strata-client.js';
import { encodeRecordBatch } from '../../src/format/record-batch-codec.js';
import type { InitProducerRequest } from '../../src/generated/strata/v1/InitProducerRequest.js';
import type { InitProducerResponse__Output } from '../../src/generated/strata/v1/InitProducerResponse.js';
import type { ProduceRequest } from '../../src/generated/strata/v1/ProduceRequest.js';
import type { ProduceResponse__Output } from '../../src/generated/strata/v1/ProduceResponse.js';
import { rejection } from '../helpers/rejection.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { useInProcessServer } from '../helpers/in-process-server.js';
import { makeTempDir } from '../helpers/temp-dir.js';

function initProducer(client: StrataClient, request: InitProducerRequest): Promise<InitProducerResponse__Output> {
  return call(client.stubs.produce.initProducer.bind(client.stubs.produce), request);
}

/** Sends one produce request on a fresh stream of `client` and returns the server's answer. */
async function produceOnce(client: StrataClient, topic: string, partition: number, records: Buffer): Promise<ProduceResponse__Output> {
  const stream = client.stubs.produce.produce() as grpc.ClientDuplexStream<ProduceRequest, ProduceResponse__Output>;
  const response = new Promise<ProduceResponse__Output>((resolve, reject) => {
    stream.once('data', resolve);
    stream.once('error', reject);
  });
  stream.write({ requestId: 1, topic, partition, records });
  const answer = await response;
  stream.end();
  return answer;
}

const batchOf = (identity: InitProducerResponse__Output, baseSequence: number, value: string) =>
  encodeRecordBatch([{ key: 'k', value }], { producerId: identity.producerId, producerEpoch: identity.producerEpoch, baseSequence });

describe('InitProducer over gRPC', () => {
  const fx = useInProcessServer();

  it('fences the older instance of a named producer on every partition, also one the newer instance never wrote to', async () => {
    await fx.client.admin.createTopic('fenced', { partitions: 3 });
    const older = await initProducer(fx.client, { producerName: 'billing' });
    expect(older.producerEpoch).toBe(0);
    expect(await produceOnce(fx.client, 'fenced', 0, batchOf(older, 0, 'a0'))).toMatchObject({ baseOffset: 0, failure: null });
    expect(await produceOnce(fx.client, 'fenced', 1, batchOf(older, 0, 'b0'))).toMatchObject({ baseOffset: 0, failure: null });

    const newer = await initProducer(fx.client, { producerName: 'billing' });
    expect(newer).toEqual({ producerId: older.producerId, producerEpoch: 1 });
    // The newer instance writes to partition 0 only.
    expect(await produceOnce(fx.client, 'fenced', 0, batchOf(newer, 0, 'a1'))).toMatchObject({ baseOffset: 1, failure: null });

    for (const partition of [0, 1, 2]) {
      const answer = await produceOnce(fx.client, 'fenced', partition, batchOf(older, partition === 2 ? 0 : 1, 'zombie'));
      expect(answer.failure, `partition ${partition}`).toMatchObject({ code: 'PRODUCER_FENCED', retriable: false, grpcStatus: 9 });
    }
    // Nothing of the fenced instance was written.
    expect((await fx.client.admin.describeTopic('fenced')).partitions.map((p) => p.logEndOffset)).toEqual([2, 1, 0]);
    // It cannot take a newer epoch for itself either.
    expect(await rejection(initProducer(fx.client, { current: older }))).toMatchObject({ code: 'PRODUCER_FENCED', retriable: false });
    // Batches without a producer id are not tracked, and not fenced.
    expect(await produceOnce(fx.client, 'fenced', 2, encodeRecordBatch([{ value: 'plain' }]))).toMatchObject({ baseOffset: 0, failure: null });
  });

  it('hands out unique ids, bumps epochs, and refuses bad requests and writes to __producer_ids', async () => {
    const ids = new Set<number>();
    for (let i = 0; i < 20; i++) ids.add((await initProducer(fx.client, {})).producerId);
    expect(ids.size).toBe(20);
    const first = await initProducer(fx.client, {});
    expect(await initProducer(fx.client, { current: first })).toEqual({ producerId: first.producerId, producerEpoch: 1 });
    expect(await rejection(initProducer(fx.client, { current: { producerId: first.producerId, producerEpoch: 40_000 } }))).toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(await rejection(initProducer(fx.client, { producerName: 'x'.repeat(250) }))).toMatchObject({ code: 'INVALID_ARGUMENT' });
    const answer = await produceOnce(fx.client, '__producer_ids', 0, encodeRecordBatch([{ value: '{"type":"block","endId":0}' }]));
    expect(answer.failure).toMatchObject({ code: 'INTERNAL_TOPIC' });
    expect((await fx.client.admin.listTopics()).map((t) => t.name)).not.toContain('__producer_ids');
  });
});

describe('Producer with a producerName', () => {
  const fx = useInProcessServer();

  it('is fenced by a newer Producer of the same name: its pending and later sends fail with PRODUCER_FENCED, and it says so once', async () => {
    await fx.client.admin.createTopic('named', { partitions: 3 });
    const warnings: string[] = [];
    const older = fx.client.producer({ producerName: 'svc', lingerMs: 0, maxInFlightPerPartition: 1, logger: { warn: (_fields, message) => warnings.push(message) } });
    await older.send('named', { value: 'old-0', partition: 0 });
    const other = new StrataClient({ address: fx.address });
    try {
      const newer = other.producer({ producerName: 'svc', lingerMs: 0 });
      await newer.send('named', { value: 'new-1', partition: 1 });
      // Partition 2: neither instance wrote to it. Many sends at once: one in flight, the rest queued.
      const pending = Array.from({ length: 20 }, (_, i) => older.send('named', { value: `old-2.${i}`, partition: 2 }));
      const failures = await Promise.all(pending.map((p) => rejection(p)));
      for (const failure of failures) expect(failure).toMatchObject({ code: 'PRODUCER_FENCED', retriable: false });
      // A class of its own, as every failure (kafkajs's KafkaJSProducerFencedError is the same idea).
      expect(failures[0]).toBeInstanceOf(ProducerFencedError);
      // Later sends fail at once, on any partition.
      expect(await rejection(older.send('named', { value: 'old-0 again', partition: 0 }))).toMatchObject({ code: 'PRODUCER_FENCED' });
      expect(await rejection(older.sendBatch('named', [{ value: 'x' }]))).toMatchObject({ code: 'PRODUCER_FENCED' });
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain('fenced');
      await newer.send('named', { value: 'new-2', partition: 2 });
      await older.close();
      await newer.close();
    } finally {
      other.close();
    }
    expect((await fx.client.admin.describeTopic('named')).partitions.map((p) => p.logEndOffset)).toEqual([1, 1, 1]);
  });
});

describe('producer ids across a SIGKILL of the server', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let server: ServerProcess | undefined;
  beforeEach(async () => (dir = await makeTempDir()));
  afterEach(async () => {
    await server?.stop('SIGKILL');
    server = undefined;
    await dir.remove();
  });

  async function withClient<T>(work: (client: StrataClient) => Promise<T>): Promise<T> {
    const client = new StrataClient({ address: server!.address });
    try {
      return await work(client);
    } finally {
      client.close();
    }
  }

  it('never hands out an id twice, and keeps named producers fenced', async () => {
    const seen = new Set<number>();
    let older: InitProducerResponse__Output | undefined;
    let newer: InitProducerResponse__Output | undefined;
    for (let life = 0; life < 3; life++) {
      server = await startServerProcess(dir.path);
      await withClient(async (client) => {
        for (let i = 0; i < 5; i++) {
          const { producerId } = await initProducer(client, {});
          expect(seen.has(producerId), `id ${producerId} handed out again in life ${life}`).toBe(false);
          seen.add(producerId);
        }
        if (life === 0) {
          await client.admin.createTopic('orders', { partitions: 2 });
          older = await initProducer(client, { producerName: 'billing' });
          newer = await initProducer(client, { producerName: 'billing' });
        } else {
          // Fenced before the kill, fenced after: on a partition neither instance wrote to.
          const answer = await produceOnce(client, 'orders', life - 1, batchOf(older!, 0, 'zombie'));
          expect(answer.failure).toMatchObject({ code: 'PRODUCER_FENCED' });
          expect(await produceOnce(client, 'orders', life - 1, batchOf(newer!, 0, 'live'))).toMatchObject({ failure: null });
        }
      });
      expect((await server.stop('SIGKILL')).signal).toBe('SIGKILL');
      server = undefined;
    }
    expect(seen.size).toBe(15);
  });
});
