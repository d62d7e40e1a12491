import { describe, expect, it } from 'vitest';
import { partitionForKey } from '../../src/client/murmur2.js';
import { Producer } from '../../src/client/producer.js';
import { BatchTooLargeError, InvalidArgumentError } from '../../src/core/errors.js';
import { decodeRecordBatch } from '../../src/format/record-batch-codec.js';
import { decodeAll } from '../helpers/batches.js';
import { fakeProduceService, type FakeProduceServiceOptions } from '../helpers/fake-produce-service.js';
import { advanceUntil, settleOn, track } from '../helpers/manual-time.js';

const PARTITIONS = 4;

/** The fake service (its clock is the producer's), and `on(promise)`: the promise, settled while the clock moves on. */
function fakeService(options: Omit<FakeProduceServiceOptions, 'partitions'> = {}) {
  const service = fakeProduceService({ ...options, partitions: PARTITIONS });
  return { ...service, on: <T>(promise: Promise<T>) => settleOn(service.clock, promise) };
}

describe('Producer.sendBatch', () => {
  it('answers each record with its partition and offset, in the order given; keys go where send() puts them', async () => {
    const { client, logs, on } = fakeService();
    const producer = new Producer(client, { lingerMs: 1, batchBytes: 300 });
    const records = Array.from({ length: 200 }, (_, i) => ({ key: `k${i % 13}`, value: `v${i}` }));
    const results = await on(producer.sendBatch('t', records));
    await on(producer.close());
    expect(results).toHaveLength(200);
    results.forEach((m, i) => {
      expect(m.partition).toBe(partitionForKey(Buffer.from(`k${i % 13}`), PARTITIONS));
      expect(logs[m.partition]![m.offset]).toBe(`v${i}`);
      expect(m.durability).toBe('durable');
    });
    // Per partition, the records are in the log in the order they were given.
    for (let p = 0; p < PARTITIONS; p++) {
      expect(logs[p]).toEqual(records.filter((_, i) => results[i]!.partition === p).map((r) => r.value));
    }
  });

  it('sends queued batches of a partition together, and each record still gets its own offset', async () => {
    const { client, logs, requestCount, multiBatchRequestCount, on } = fakeService();
    // One request in flight per partition and small batches: batches queue up behind it.
    const producer = new Producer(client, { lingerMs: 0, batchBytes: 200, maxInFlightPerPartition: 1 });
    const records = Array.from({ length: 400 }, (_, i) => ({ value: `v${i}`, partition: i % 2 }));
    const results = await on(producer.sendBatch('t', records));
    await on(producer.close());
    expect(multiBatchRequestCount()).toBeGreaterThan(0);
    expect(requestCount()).toBeLessThan(400 / 5);
    results.forEach((m, i) => expect(logs[m.partition]![m.offset]).toBe(`v${i}`));
    expect(logs[0]).toEqual(records.filter((r) => r.partition === 0).map((r) => r.value));
  });

  it('keeps the order of send() and sendBatch() calls per partition, also while the topic metadata loads', async () => {
    const { client, logs, on } = fakeService({ describeDelayMs: 20 });
    const producer = new Producer(client, { lingerMs: 0, batchBytes: 200 });
    const expected: string[][] = Array.from({ length: PARTITIONS }, () => []);
    const calls: Array<Promise<unknown>> = [];
    for (let i = 0; i < 50; i++) {
      const partition = i % PARTITIONS;
      if (i % 3 === 0) {
        const batch = [0, 1, 2].map((j) => ({ value: `b${i}.${j}`, partition: (partition + j) % PARTITIONS }));
        for (const r of batch) expected[r.partition]!.push(r.value);
        calls.push(producer.sendBatch('t', batch));
      } else {
        expected[partition]!.push(`s${i}`);
        calls.push(producer.send('t', { value: `s${i}`, partition }));
      }
    }
    await on(Promise.all(calls));
    await on(producer.close());
    expect(logs).toEqual(expected);
  });

  it('refuses the whole call when one record is too large or names a partition outside the topic, queueing nothing', async () => {
    const { client, clock, logs, requestCount, on } = fakeService();
    // The buffer holds one largest record: a single leaked byte of room would block the last call.
    const producer = new Producer(client, { maxBatchBytes: 1000, batchBytes: 500, maxBufferedBytes: 1000 });
    await on(producer.send('t', { value: 'warm', partition: 0 }));
    await expect(on(producer.sendBatch('t', [{ value: 'a' }, { value: 'x'.repeat(2000) }]))).rejects.toBeInstanceOf(BatchTooLargeError);
    await expect(on(producer.sendBatch('t', [{ value: 'a', partition: 1 }, { value: 'b', partition: PARTITIONS }]))).rejects.toBeInstanceOf(InvalidArgumentError);
    await on(producer.flush());
    expect(requestCount()).toBe(1);
    expect(logs.flat()).toEqual(['warm']);
    // The buffer accounting is intact: a call that needs the whole buffer still goes through.
    const whole = 'y'.repeat(1000 - 20);
    const sent = producer.sendBatch('t', [{ value: whole, partition: 2 }]);
    // Sent within its linger (the default 5 ms): no buffer room was left behind to wait for.
    const state = track(sent);
    await advanceUntil(clock, () => state.isSettled, { what: 'the call that needs the whole buffer', maxMs: 5 });
    const [m] = await sent;
    expect(logs[2]![m!.offset]).toBe(whole);
    await on(producer.close());
  });

  it('rejects with the first failure when any record fails; the records of healthy partitions are written', async () => {
    const { client, logs, on } = fakeService({ failIf: (partition) => partition === 3 });
    const producer = new Producer(client, { lingerMs: 0 });
    const call = producer.sendBatch('t', [0, 1, 2, 3].map((p) => ({ value: `v${p}`, partition: p })));
    await expect(on(call)).rejects.toMatchObject({ message: expect.stringContaining('refused by the test') });
    await on(producer.close());
    expect(logs).toEqual([['v0'], ['v1'], ['v2'], []]);
  });

  it('an unknown topic rejects the call; an empty call resolves at once; a closed producer refuses', async () => {
    const { client, clock, on } = fakeService();
    const producer = new Producer(client, {});
    await expect(on(producer.sendBatch('nope', [{ value: 'a' }]))).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(await on(producer.sendBatch('t', []))).toEqual([]);
    await on(producer.close());
    await expect(on(producer.sendBatch('t', [{ value: 'a' }]))).rejects.toMatchObject({ code: 'PRODUCER_CLOSED' });
  });

  it('waits for buffer room record by record when a call is larger than the whole buffer', async () => {
    const { client, logs, on } = fakeService();
    const producer = new Producer(client, { lingerMs: 0, batchBytes: 400, maxBatchBytes: 400, maxBufferedBytes: 1000 });
    const records = Array.from({ length: 100 }, (_, i) => ({ value: `v${String(i).padStart(30, '0')}`, partition: 0 }));
    const results = await on(producer.sendBatch('t', records));
    await on(producer.close());
    expect(results.map((m) => m.offset)).toEqual(records.map((_, i) => i));
    expect(logs[0]).toEqual(records.map((r) => r.value));
  });

  it('a record that encoding would refuse fails its own call at once; the records around it are sent', async () => {
    const { client, logs, on } = fakeService();
    const producer = new Producer(client, { lingerMs: 5 });
    const good1 = producer.send('t', { value: 'g1', partition: 0 });
    await expect(on(producer.send('t', { value: 'bad', partition: 0, timestampMs: 1.5 }))).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(on(producer.send('t', { value: 'bad', partition: 0, timestampMs: -5 }))).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(on(producer.send('t', { value: 42 as unknown as string, partition: 0 }))).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(on(producer.send('t', { value: 'bad', partition: 0, headers: { h: 7 as unknown as string } }))).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(on(producer.sendBatch('t', [{ value: 'ok', partition: 0 }, { value: 'bad', partition: 0, timestampMs: Number.NaN }]))).rejects.toBeInstanceOf(InvalidArgumentError);
    const good2 = producer.send('t', { value: 'g2', partition: 0 });
    expect([(await on(good1)).offset, (await on(good2)).offset]).toEqual([0, 1]);
    await on(producer.close());
    expect(logs[0]).toEqual(['g1', 'g2']);
  });

  it('takes the records as they are at the call: reusing the array and objects afterwards changes nothing, also while metadata loads', async () => {
    const { client, logs, on } = fakeService({ describeDelayMs: 20 });
    const producer = new Producer(client, { lingerMs: 1 });
    // The first calls wait for the topic's metadata (the slow path), holding the records meanwhile.
    const reused = { value: 'v0', partition: 1 };
    const singles = [0, 1, 2].map((i) => {
      reused.value = `v${i}`;
      return producer.send('t', reused);
    });
    reused.value = 'x'.repeat(100_000);
    const array = [{ value: 'a', partition: 2 }, { value: 'b', partition: 2 }];
    const batch = producer.sendBatch('t', array);
    array.length = 0;
    array.push({ value: 'c', partition: 2 });
    const second = producer.sendBatch('t', array);
    array[0]!.value = 'changed';
    expect((await on(Promise.all(singles))).map((m) => m.offset)).toEqual([0, 1, 2]);
    expect((await on(batch)).map((m) => m.offset)).toEqual([0, 1]);
    expect((await on(second)).map((m) => m.offset)).toEqual([2]);
    await on(producer.close());
    expect(logs[1]).toEqual(['v0', 'v1', 'v2']);
    expect(logs[2]).toEqual(['a', 'b', 'c']);
  });

  it('a quiet partition\'s open batch holds little memory; a busy one fills whole batches', async () => {
    const { client, logs, on } = fakeService();
    const producer = new Producer(client, { lingerMs: 1000, batchBytes: 1 << 20, maxBatchBytes: 1 << 20 });
    await on(producer.sendBatch('t', [{ value: 'warm-up', partition: 0 }]).catch(() => undefined));
    const before = process.memoryUsage().arrayBuffers;
    const open = Array.from({ length: 200 }, (_, i) => producer.sendBatch('t', [{ value: `q${i}`, partition: i % PARTITIONS }]));
    // 200 small records in open batches (one per partition): far less than 4 batchBytes (4 MiB).
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(1 << 20);
    await on(producer.flush());
    await on(Promise.all(open));
    const busy = await on(producer.sendBatch('t', Array.from({ length: 20_000 }, (_, i) => ({ value: `busy-${i}`.padEnd(100, '.'), partition: 3 }))));
    expect(busy).toHaveLength(20_000);
    await on(producer.close());
    expect(logs[3]!.filter((v) => v.startsWith('busy-'))).toHaveLength(20_000);
  });

  it('takes a record timestamp as timestampMs or as timestamp (a Date, or ms), on every path, and refuses bad or differing ones', async () => {
    const timestamps: number[] = [];
    const { client, clock, on } = fakeService({ describeDelayMs: 5, onRequest: (request) => timestamps.push(...decodeAll(request.records as Buffer).map((r) => r.timestampMs)) });
    const producer = new Producer(client, { lingerMs: 0 });
    // The first call waits for the topic's metadata (the slow path); the later ones do not.
    await on(
      producer.sendBatch('t', [
        { value: 'a', partition: 0, timestampMs: 1_000 },
        { value: 'b', partition: 0, timestamp: new Date(2_000) },
        { value: 'c', partition: 0, timestamp: 3_000 },
        { value: 'd', partition: 0, timestamp: '4000' },
      ]),
    );
    await on(producer.send('t', { value: 'e', partition: 0, timestamp: 5_000 }));
    await on(producer.sendBatch('t', [{ value: 'f', partition: 0, timestamp: new Date(6_000), timestampMs: 6_000 }]));
    // null is no timestamp (kafkajs's reading): the time of the call, on the producer's clock.
    clock.advance(1_234);
    const calledAtMs = clock.nowMs();
    await on(producer.send('t', { value: 'g', partition: 0, timestamp: null }));
    const notTimes = [true, [7], {}].map((timestamp) => ({ timestamp: timestamp as unknown as number }));
    for (const bad of [{ timestamp: 'soon' }, { timestamp: '' }, { timestamp: -1 }, { timestamp: new Date(Number.NaN) }, { timestamp: 1.5 }, { timestampMs: 1, timestamp: 2 }, ...notTimes]) {
      await expect(on(producer.send('t', { value: 'bad', partition: 0, ...bad })), JSON.stringify(bad)).rejects.toBeInstanceOf(InvalidArgumentError);
    }
    await on(producer.close());
    expect(timestamps.slice(0, 6)).toEqual([1_000, 2_000, 3_000, 4_000, 5_000, 6_000]);
    expect(timestamps[6]).toBe(calledAtMs);
    expect(timestamps).toHaveLength(7);
  });

  it("fails at once, alone, a record whose batch the topic would refuse (its max.message.bytes), instead of sending it", async () => {
    const { client, logs, requestCount, on } = fakeService({ maxMessageBytes: 4096 });
    const producer = new Producer(client, { lingerMs: 1 });
    const small = producer.send('t', { value: 'fits', partition: 0 });
    const big = producer.send('t', { value: 'x'.repeat(5000), partition: 0 });
    await expect(on(big)).rejects.toBeInstanceOf(BatchTooLargeError);
    await expect(on(small)).resolves.toMatchObject({ partition: 0 });
    // Batches of that topic stay within its limit too.
    const many = await on(producer.sendBatch('t', Array.from({ length: 200 }, (_, i) => ({ value: `v${i}`.padEnd(100, '.'), partition: 1 }))));
    await on(producer.close());
    expect(many).toHaveLength(200);
    expect(logs[0]).toEqual(['fits']);
    expect(requestCount()).toBeGreaterThanOrEqual(1 + Math.ceil((200 * 110) / 4096));
  });

  it("sends a header list as it is (order, a repeated key, a null value: a consumed record's headers), and refuses a malformed one", async () => {
    const sent: Buffer[] = [];
    const { client, on } = fakeService({ onRequest: (request) => void sent.push(request.records as Buffer) });
    const producer = new Producer(client, { lingerMs: 0 });
    const headers = [
      { key: 'trace', value: Buffer.from('a') },
      { key: 'empty', value: null },
      { key: 'trace', value: Buffer.from('b') },
    ];
    await on(producer.send('t', { value: 'v', headers, partition: 0 }));
    await expect(producer.send('t', { value: 'v', headers: [{ key: 'x', value: 'not a buffer' }] as never })).rejects.toThrow(InvalidArgumentError);
    await on(producer.close());
    expect(sent).toHaveLength(1);
    expect(decodeRecordBatch(sent[0]!, 0).records[0]!.headers).toEqual(headers);
  });

  it('refuses an acks level it does not know', async () => {
    const { client, clock, on } = fakeService();
    expect(() => new Producer(client, { acks: 'all' as never })).toThrow(InvalidArgumentError);
  });

  it('asks for the topic again when a record names a partition past the count it knows (partitions were added)', async () => {
    let partitions = 2;
    const { client, clock, logs } = fakeProduceService({ partitions: 4 });
    const on = <T>(promise: Promise<T>) => settleOn(clock, promise);
    const describeTopic = client.admin.describeTopic.bind(client.admin);
    (client.admin as { describeTopic: typeof describeTopic }).describeTopic = async (topic) => ({ ...(await describeTopic(topic)), partitionCount: partitions });
    const producer = new Producer(client, { lingerMs: 0 });
    await on(producer.send('t', { value: 'before', partition: 1 }));
    await expect(on(producer.send('t', { value: 'nowhere', partition: 3 }))).rejects.toBeInstanceOf(InvalidArgumentError);
    partitions = 4;
    await expect(on(producer.send('t', { value: 'added', partition: 3 }))).resolves.toMatchObject({ partition: 3 });
    await expect(on(producer.sendBatch('t', [{ value: 'batched', partition: 2 }]))).resolves.toHaveLength(1);
    await on(producer.close());
    expect(logs[3]).toEqual(['added']);
    expect(logs[2]).toEqual(['batched']);
  });
});
