import { describe, expect, it } from 'vitest';
import { Producer } from '../../src/client/producer.js';
import { ProducerIdentity } from '../../src/client/producer-identity.js';
import type { ProduceServiceClient } from '../../src/generated/strata/v1/ProduceService.js';
import { StrataClientError } from '../../src/client/client-error.js';
import { fakeInitProducer } from '../helpers/fake-init-producer.js';
import { readBatchHeader } from '../../src/format/record-batch.js';
import type { ProduceRequest } from '../../src/generated/strata/v1/ProduceRequest.js';
import { rejection } from '../helpers/rejection.js';
import { fakeProduceService } from '../helpers/fake-produce-service.js';
import { advanceUntil, settleOn, track } from '../helpers/manual-time.js';
import * as grpc from '@grpc/grpc-js';
import { ProducerIdRegistry } from '../../src/broker/producer-id-registry.js';
import { InvalidArgumentError, type StrataError } from '../../src/core/errors.js';
import { MAX_PRODUCER_NAME_LENGTH } from '../../src/core/limits.js';
import { silentLogger } from '../../src/core/logger.js';
import type { InitProducerRequest } from '../../src/generated/strata/v1/InitProducerRequest.js';
import { LogManager } from '../../src/storage/log-manager.js';
import { makeTempDir } from '../helpers/temp-dir.js';

/** The producer id, epoch and base sequence of the first batch of a request. */
const stampOf = (request: ProduceRequest) => {
  const header = readBatchHeader(request.records as Buffer);
  return `${header.producerId}/${header.producerEpoch}/${header.baseSequence}`;
};

describe('Producer ids from the server', () => {
  it('asks InitProducer once, lazily before the first batch, and stamps every batch with what it got', async () => {
    const stamps: string[] = [];
    const { client, initProducerRequests } = fakeProduceService({ onRequest: (request) => stamps.push(stampOf(request)) });
    const producer = new Producer(client, { lingerMs: 0, producerName: 'billing' });
    expect(initProducerRequests, 'nothing is asked before the first send').toEqual([]);
    await producer.send('t', { value: 'a', partition: 0 });
    await Promise.all([producer.send('t', { value: 'b', partition: 0 }), producer.send('t', { value: 'c', partition: 1 })]);
    await producer.close();
    expect(initProducerRequests).toEqual([{ producerName: 'billing' }]);
    expect(stamps).toEqual(['1/0/0', '1/0/1', '1/0/0']);
  });

  it("renumbers a partition through the server after a batch fails for good: the next epoch is InitProducer's answer", async () => {
    const stamps: string[] = [];
    let refusals = 1;
    const { client, initProducerRequests, logs } = fakeProduceService({
      onRequest: (request) => stamps.push(stampOf(request)),
      failIf: (partition) => partition === 0 && refusals-- > 0,
    });
    const producer = new Producer(client, { lingerMs: 0, retryBackoffMs: 1, maxInFlightPerPartition: 1 });
    await producer.send('t', { value: 'other', partition: 1 });
    expect((await rejection(producer.send('t', { value: 'refused', partition: 0 }))).code).toBe('INVALID_ARGUMENT');
    await producer.send('t', { value: 'after', partition: 0 });
    await producer.send('t', { value: 'other again', partition: 1 });
    await producer.send('t', { value: 'new', partition: 2 });
    await producer.close();
    expect(initProducerRequests).toEqual([{ producerName: '' }, { producerName: '', current: { producerId: 1, producerEpoch: 0 } }]);
    // Partition 0 starts over from 0 under epoch 1; partition 1 had nothing to renumber and goes on
    // under epoch 0 (the bump fences nothing); a partition new to the producer takes the newest epoch.
    expect(stamps).toEqual(['1/0/0', '1/0/0', '1/1/0', '1/0/1', '1/1/0']);
    expect(logs[0]).toEqual(['after']);
  });

  it('refuses an empty or overlong producerName at once (empty is no name on the wire: the producer would go unfenced)', () => {
    const { client } = fakeProduceService();
    expect(() => new Producer(client, { producerName: '' })).toThrow(InvalidArgumentError);
    expect(() => new Producer(client, { producerName: 'x'.repeat(MAX_PRODUCER_NAME_LENGTH + 1) })).toThrow(/producerName has 1 to 249 characters/);
    expect(() => new Producer(client, { producerName: 'x'.repeat(MAX_PRODUCER_NAME_LENGTH) })).not.toThrow();
  });

  it('fails every send with the error when InitProducer is refused, and asks again on the next send', async () => {
    const { client, initProducerRequests } = fakeProduceService();
    const initProducer = client.stubs.produce.initProducer;
    let refusals = 1;
    (client.stubs.produce as unknown as { initProducer: unknown }).initProducer = (request: unknown, options: unknown, callback: (error: unknown) => void) => {
      if (refusals-- > 0) return setImmediate(() => callback(Object.assign(new Error('refused'), { code: 3, details: 'refused by the test' })));
      return (initProducer as unknown as (r: unknown, o: unknown, c: unknown) => void)(request, options, callback);
    };
    const producer = new Producer(client, { lingerMs: 0 });
    expect((await rejection(producer.send('t', { value: 'a', partition: 0 }))).message).toContain('refused by the test');
    await producer.send('t', { value: 'b', partition: 0 });
    await producer.close();
    expect(initProducerRequests).toHaveLength(1);
  });

  it('ProducerIdentity: partitions renumbering from one epoch share one InitProducer call; one from an older epoch adopts the newest', async () => {
    const initProducer = fakeInitProducer(7);
    const fenced: StrataClientError[] = [];
    const reachability = { signal: new AbortController().signal, isReady: true, checkGivenUp: () => undefined, noteFailure: () => undefined };
    const identity = new ProducerIdentity({ initProducer } as unknown as ProduceServiceClient, { callTimeoutMs: 1_000, reachability, onFenced: (e) => fenced.push(e) });
    const [first, again] = await Promise.all([identity.load(), identity.load()]);
    expect(first).toEqual({ producerId: 7, epoch: 0 });
    expect(again).toEqual(first);
    const [p0, p1] = await Promise.all([identity.next(first), identity.next(first)]);
    expect(p0).toEqual({ producerId: 7, epoch: 1 });
    expect(p1).toEqual(p0);
    // A partition still at epoch 0 takes epoch 1 without asking; one at the newest asks for the next.
    expect(await identity.next(first)).toEqual({ producerId: 7, epoch: 1 });
    expect(await identity.next(p0)).toEqual({ producerId: 7, epoch: 2 });
    expect(initProducer.requests).toEqual([
      { producerName: '' },
      { producerName: '', current: { producerId: 7, producerEpoch: 0 } },
      { producerName: '', current: { producerId: 7, producerEpoch: 1 } },
    ]);
    // Fenced: said once, and every later ask fails at once, without a call.
    identity.noteFenced(new StrataClientError('PRODUCER_FENCED', 'a newer instance took over', 9, false));
    identity.noteFenced(new StrataClientError('PRODUCER_FENCED', 'again', 9, false));
    expect(fenced.map((e) => e.message)).toEqual(['a newer instance took over']);
    expect((await rejection(identity.next({ producerId: 7, epoch: 2 }))).code).toBe('PRODUCER_FENCED');
    expect(initProducer.requests).toHaveLength(3);
  });

  it('asks InitProducer again after its backoff while it fails, and fails the records past their delivery time, on the manual clock', async () => {
    const { client, clock } = fakeProduceService();
    const stub = client.stubs.produce as unknown as { initProducer: (request: unknown, options: unknown, callback: (error: unknown) => void) => void };
    const working = stub.initProducer;
    let isUnavailable = true;
    const attemptsAtMs: number[] = [];
    stub.initProducer = (request, options, callback) => {
      if (!isUnavailable) return working(request, options, callback);
      attemptsAtMs.push(clock.nowMs());
      setImmediate(() => callback(Object.assign(new Error('unavailable'), { code: 14, details: 'connect ECONNREFUSED 127.0.0.1:1' })));
    };
    const producer = new Producer(client, { lingerMs: 0, deliveryTimeoutMs: 1_000, retryBackoffMs: 100 });
    const first = track(producer.send('t', { value: 'a', partition: 0 }));
    await advanceUntil(clock, () => first.isSettled, { what: 'the first send settled' });
    expect(first.outcome).toMatch(/rejected: .*ECONNREFUSED/);
    // Asked again after 100, 200, 400 ms of backoff; failed at the first answer past its delivery time.
    expect(clock.nowMs()).toBeGreaterThanOrEqual(1_000);
    expect(attemptsAtMs.length).toBeGreaterThanOrEqual(4);
    expect(attemptsAtMs[1]! - attemptsAtMs[0]!).toBeGreaterThanOrEqual(100);
    // Nothing waits: nothing is asked until a record needs it, and then it goes through.
    const askedWhileIdle = attemptsAtMs.length;
    await advanceUntil(clock, () => clock.nowMs() >= 10_000, { what: '9 idle seconds', stepMs: 100 });
    expect(attemptsAtMs).toHaveLength(askedWhileIdle);
    isUnavailable = false;
    expect(await settleOn(clock, producer.send('t', { value: 'b', partition: 0 }))).toMatchObject({ partition: 0, offset: 0 });
    await settleOn(clock, producer.close());
  });
});

describe('ProducerIdentity against the real registry', () => {
  it("keeps its name when a bump's answer is lost: the bump asked again gets the epoch the server already gave, not PRODUCER_FENCED", async () => {
    const dir = await makeTempDir();
    const logs = await LogManager.open({ dataDir: dir.path, logger: silentLogger });
    try {
      const registry = await ProducerIdRegistry.open(logs, silentLogger);
      let losesNextBump = true;
      // InitProducer as the server answers it; the first bump is recorded and its answer lost (the
      // call's deadline passed while the server wrote it).
      const initProducer = (request: InitProducerRequest, _options: unknown, callback: (error: unknown, response?: unknown) => void): void => {
        const current = request.current ? { producerId: Number(request.current.producerId), producerEpoch: Number(request.current.producerEpoch) } : undefined;
        registry.initProducer({ ...(request.producerName ? { name: request.producerName } : {}), ...(current ? { current } : {}) }).then(
          (identity) => {
            if (current && losesNextBump) {
              losesNextBump = false;
              return callback(Object.assign(new Error('deadline'), { code: 4, details: 'Deadline exceeded' }));
            }
            callback(null, identity);
          },
          (error: StrataError) => callback(Object.assign(new Error(error.message), { code: 9, details: `${error.code}: ${error.message}`, metadata: codeMetadata(error.code) })),
        );
      };
      const fenced: StrataClientError[] = [];
      const reachability = { signal: new AbortController().signal, isReady: true, checkGivenUp: () => undefined, noteFailure: () => undefined };
      const identity = new ProducerIdentity({ initProducer } as unknown as ProduceServiceClient, { name: 'billing', callTimeoutMs: 1_000, reachability, onFenced: (e) => fenced.push(e) });
      const first = await identity.load();
      const lost = await rejection(identity.next(first));
      expect(lost.retriable, 'a timed-out bump is asked again').toBe(true);
      // The partition asks again after its backoff, from the same epoch.
      expect(await identity.next(first)).toEqual({ producerId: first.producerId, epoch: first.epoch + 1 });
      expect(fenced).toEqual([]);
      expect(identity.fenced).toBeUndefined();
    } finally {
      await logs.close();
      await dir.remove();
    }
  });
});

function codeMetadata(code: string): grpc.Metadata {
  const metadata = new grpc.Metadata();
  metadata.set('strata-error-code', code);
  metadata.set('strata-retriable', 'false');
  return metadata;
}
