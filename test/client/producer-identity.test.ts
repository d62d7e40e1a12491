import { describe, expect, it } from 'vitest';
import { Producer } from '../../src/client/producer.js';
import { readBatchHeader } from '../../src/format/record-batch.js';
import type { ProduceRequest } from '../../src/generated/strata/v1/ProduceRequest.js';
import { rejection } from '../helpers/rejection.js';
import { fakeProduceService } from '../helpers/fake-produce-service.js';

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
});
