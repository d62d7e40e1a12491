import { describe, expect, it } from 'vitest';
import { Producer } from '../../src/client/producer.js';
import { fakeProduceService } from '../helpers/fake-produce-service.js';
import { advanceUntil, settleOn, turn } from '../helpers/manual-time.js';

describe('Producer under a rate quota (KIP-219 client side)', () => {
  it('sends nothing on the stream for the throttle time an answer reports, then everything, in order; reports it', async () => {
    const sentAtMs: number[] = [];
    const { client, clock, logs } = fakeProduceService({
      partitions: 1,
      onRequest: () => sentAtMs.push(clock.monotonicMs()),
      // The first answer says the principal is over its quota for 1 s; the rest are under it.
      throttleTimeMs: (request) => (Number(request.requestId) === 1 ? 1_000 : 0),
    });
    const producer = new Producer(client, { lingerMs: 0, batchBytes: 100, maxInFlightPerPartition: 1 });
    expect(producer.throttle).toEqual({ lastThrottleTimeMs: 0, throttledCount: 0 });
    const first = producer.send('t', { value: 'first', partition: 0 });
    await advanceUntil(clock, () => sentAtMs.length === 1, { what: 'the first request', stepMs: 0 });
    await settleOn(clock, first);
    const rest = Array.from({ length: 5 }, (_, i) => producer.send('t', { value: `v${i}`, partition: 0 }));
    // No time passes: nothing more is sent while the throttle time runs.
    for (let i = 0; i < 20; i++) await turn();
    expect(sentAtMs).toHaveLength(1);
    expect(producer.throttle).toEqual({ lastThrottleTimeMs: 1_000, throttledCount: 1 });
    clock.advance(999);
    for (let i = 0; i < 20; i++) await turn();
    expect(sentAtMs).toHaveLength(1);
    await settleOn(clock, Promise.all(rest));
    expect(sentAtMs[1]).toBeGreaterThanOrEqual(sentAtMs[0]! + 1_000);
    // Nothing dropped, in send order.
    expect(logs[0]).toEqual(['first', 'v0', 'v1', 'v2', 'v3', 'v4']);
    await settleOn(clock, producer.close());
  });

  it('waits only for what the server\'s hold did not cover: the throttle time counts from when the request was sent', async () => {
    const sentAtMs: number[] = [];
    const { client, clock, logs } = fakeProduceService({
      partitions: 1,
      onRequest: () => sentAtMs.push(clock.monotonicMs()),
      // As Strata's server does: the answer held back (600 ms of the 1 s here), then sent.
      answerDelayMs: () => 600,
      throttleTimeMs: (request) => (Number(request.requestId) === 1 ? 1_000 : 0),
    });
    const producer = new Producer(client, { lingerMs: 0, batchBytes: 100, maxInFlightPerPartition: 1 });
    const first = producer.send('t', { value: 'first', partition: 0 });
    await advanceUntil(clock, () => sentAtMs.length === 1, { what: 'the first request', stepMs: 0 });
    const second = producer.send('t', { value: 'second', partition: 0 });
    await settleOn(clock, Promise.all([first, second]));
    expect(sentAtMs[1]! - sentAtMs[0]!).toBeGreaterThanOrEqual(1_000);
    expect(sentAtMs[1]! - sentAtMs[0]!).toBeLessThan(1_600);
    expect(logs[0]).toEqual(['first', 'second']);
    await settleOn(clock, producer.close());
  });
});
