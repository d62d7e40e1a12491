import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEAD_LETTER_HEADERS } from '../../src/core/dead-letter-headers.js';
import type { ConsumedRecord } from '../../src/client/consumed-record.js';
import { MAX_QUEUE_ANSWERS_PER_REQUEST } from '../../src/core/limits.js';
import type { QueueServiceClient } from '../../src/generated/strata/v1/QueueService.js';
import { eventually } from '../helpers/eventually.js';
import { useInProcessServer } from '../helpers/in-process-server.js';
import { healthClient } from '../helpers/standard-services.js';
import { ack, rawBytesSession, RawCallError, rawQueueClient, RawQueueSession, rawUnary, reject, release, type RawDelivered } from '../helpers/raw-queue-session.js';

/** Quick retries, so that released records come back within a test (the default base is a second). */
const FAST_RETRY = { backoffBaseMs: 10, backoffMaxMs: 50 };

describe('queue sessions over gRPC, with a raw client of the proto', () => {
  const server = useInProcessServer();
  let queue: QueueServiceClient;
  const sessions: RawQueueSession[] = [];
  const open = (options: { paused?: boolean } = {}) => {
    const session = new RawQueueSession(queue, options);
    sessions.push(session);
    return session;
  };
  const produce = async (topic: string, count: number, partitions = 1, from = 0) => {
    const producer = server.client.producer();
    await producer.sendBatch(topic, Array.from({ length: count }, (_, i) => ({ key: `k${from + i}`, value: `v${from + i}`, partition: (from + i) % partitions, headers: { origin: 'test' } })));
    await producer.close();
  };
  const describeGroup = (groupId: string) => rawUnary(queue.describeQueueGroup.bind(queue), { groupId });
  const byOffset = (records: RawDelivered[]) => [...records].sort((a, b) => a.partition - b.partition || a.offset - b.offset);

  beforeAll(() => {
    queue = rawQueueClient(server.address);
  });
  afterAll(() => {
    for (const session of sessions) session.close();
    queue?.close();
  });

  it('delivers records with their delivery count and lock, within the in-flight limit, and takes acks', async () => {
    await server.client.admin.createTopic('jobs', { partitions: 2 });
    await produce('jobs', 10, 2);
    const member = open();
    const joined = await member.join({ groupId: 'workers', topics: ['jobs'], inFlightLimit: 4, clientId: 'raw-1' });
    expect(joined.memberId).not.toBe('');
    expect(joined.config).toMatchObject({ lockDurationMs: 30_000, maxDeliveryAttempts: 5, ordering: 'QUEUE_ORDERING_NONE', delivery: 'QUEUE_DELIVERY_GUARANTEE_AT_LEAST_ONCE', deadLetterTopicSuffix: '.dlq' });
    const first = await member.waitForDeliveries(4);
    expect(first).toHaveLength(4);
    for (const record of first) {
      expect(record.deliveryCount).toBe(1);
      expect(record.lockDeadlineMs).toBeGreaterThan(Date.now() + 20_000);
      expect(record.record.value!.toString()).toBe(`v${record.offset * 2 + record.partition}`);
      expect(record.record.headers).toEqual([{ key: 'origin', value: Buffer.from('test') }]);
    }
    const described = await describeGroup('workers');
    expect(described.members).toEqual([expect.objectContaining({ memberId: joined.memberId, clientId: 'raw-1', inFlight: 4, inFlightLimit: 4, topics: ['jobs'] })]);
    expect(described.total).toMatchObject({ depth: 10, inFlight: 4 });

    // Each answer frees a place: acking two brings two more.
    const results = await member.answer(first.slice(0, 2).map(ack));
    expect(results.results.map((r) => r.failure)).toEqual([null, null]);
    await member.waitForDeliveries(6);
    // Ack everything as it comes: all ten, each once.
    const acked = new Set<string>(first.slice(0, 2).map((r) => `${r.partition}/${r.offset}`));
    while (acked.size < 10) {
      await member.waitForDeliveries(acked.size + 1);
      const pending = member.delivered.filter((r) => !acked.has(`${r.partition}/${r.offset}`));
      const answered = await member.answer(pending.map(ack));
      expect(answered.results.every((r) => r.failure === null)).toBe(true);
      for (const r of pending) acked.add(`${r.partition}/${r.offset}`);
    }
    expect(member.delivered).toHaveLength(10);
    const done = await describeGroup('workers');
    expect(done.total).toMatchObject({ depth: 0, inFlight: 0 });
    expect(done.partitions.map((p) => [p.partition, p.startOffset, p.highWatermark])).toEqual([
      [0, 5, 5],
      [1, 5, 5],
    ]);
    // New records reach the member that waits.
    await produce('jobs', 2, 2, 10);
    const more = await member.waitForDeliveries(12);
    expect(byOffset(more.slice(10)).map((r) => r.record.value!.toString())).toEqual(['v10', 'v11']);
    await member.answer(more.slice(10).map(ack));
  });

  it('answers bad answers one by one with a typed failure, changes nothing, keeps the stream and spares the other member', async () => {
    await server.client.admin.createTopic('bad', { partitions: 1 });
    await produce('bad', 6);
    const a = open();
    const b = open();
    await a.join({ groupId: 'bad-input', topics: ['bad'], inFlightLimit: 3 });
    const [a0, a1, a2] = await a.waitForDeliveries(3);
    await b.join({ groupId: 'bad-input', topics: ['bad'], inFlightLimit: 3 });
    const [b0] = await b.waitForDeliveries(3);

    expect((await a.answer([ack(a0!)])).results[0]!.failure).toBeNull();
    const results = await a.answer([
      { topic: 'bad', partition: 0, offset: 999, type: 'QUEUE_ANSWER_TYPE_ACK' }, // unknown
      ack(a0!), // already acknowledged
      ack(b0!), // another member's
      release(a1!, -1), // a negative delay (uint32 on the wire: 2^32 - 1, over the maximum)
      { ...ack(a1!), type: 'QUEUE_ANSWER_TYPE_UNSPECIFIED' }, // no answer type
      { topic: 'missing', partition: 0, offset: 0, type: 'QUEUE_ANSWER_TYPE_ACK' }, // unknown topic
      ack(a2!), // good, between bad ones
    ]);
    expect(results.results.map((r) => [r.topic, Number(r.offset), r.failure?.code ?? 'OK'])).toEqual([
      ['bad', 999, 'QUEUE_RECORD_NOT_ACQUIRED'],
      ['bad', a0!.offset, 'QUEUE_RECORD_NOT_ACQUIRED'],
      ['bad', b0!.offset, 'QUEUE_RECORD_NOT_ACQUIRED'],
      ['bad', a1!.offset, 'INVALID_ARGUMENT'],
      ['bad', a1!.offset, 'INVALID_ARGUMENT'],
      ['missing', 0, 'QUEUE_RECORD_NOT_ACQUIRED'],
      ['bad', a2!.offset, 'OK'],
    ]);
    expect(results.results[0]!.failure).toMatchObject({ retriable: false, grpcStatus: grpc.status.FAILED_PRECONDITION });
    expect(results.results[3]!.failure).toMatchObject({ retriable: false, grpcStatus: grpc.status.INVALID_ARGUMENT });

    // Too many answers in one request: refused whole, one failure, nothing applied.
    const tooMany = await a.answer(Array.from({ length: MAX_QUEUE_ANSWERS_PER_REQUEST + 1 }, () => ack(a1!)));
    expect(tooMany.results).toHaveLength(1);
    expect(tooMany.results[0]!.failure).toMatchObject({ code: 'INVALID_ARGUMENT' });
    // Extending a lock the member does not hold fails alone; its own extends.
    const extended = await a.extend([{ topic: 'bad', partition: 0, offset: b0!.offset }, { topic: 'bad', partition: 0, offset: a1!.offset }], 60_000);
    expect(extended.results.map((r) => r.failure?.code ?? 'OK')).toEqual(['QUEUE_RECORD_NOT_ACQUIRED', 'OK']);
    expect(Number(extended.results[1]!.lockDeadlineMs)).toBeGreaterThan(Date.now() + 50_000);

    // Nothing changed: a1 is still a's, b0 still b's, and both streams go on.
    const state = await describeGroup('bad-input');
    expect(state.members.map((m) => m.inFlight).sort()).toEqual([1, 3]);
    expect((await a.answer([ack(a1!)])).results[0]!.failure).toBeNull();
    expect((await b.answer([ack(b0!)])).results[0]!.failure).toBeNull();
    expect(a.end).toBeUndefined();
    expect(b.end).toBeUndefined();
  });

  it('ends a stream that does not join first, joins twice or sends garbage with INVALID_ARGUMENT; the others go on', async () => {
    await server.client.admin.createTopic('wire', { partitions: 1 });
    await produce('wire', 4);
    const good = open();
    await good.join({ groupId: 'wire', topics: ['wire'], inFlightLimit: 1, config: FAST_RETRY });
    const [held] = await good.waitForDeliveries(1);

    const noJoin = open();
    noJoin.send({ answers: { requestId: 1, answers: [ack(held!)] } });
    expect(await noJoin.waitForEnd()).toMatchObject({ status: grpc.status.INVALID_ARGUMENT, code: 'INVALID_ARGUMENT' });

    const empty = open();
    empty.send({});
    expect(await empty.waitForEnd()).toMatchObject({ status: grpc.status.INVALID_ARGUMENT, code: 'INVALID_ARGUMENT' });

    const garbage = rawBytesSession(queue as unknown as grpc.Client);
    garbage.call.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]));
    expect(await garbage.ended).toMatchObject({ status: grpc.status.INVALID_ARGUMENT, code: 'INVALID_ARGUMENT' });

    // A second join on a joined stream ends it, and the member's records go back at once.
    const twice = open();
    await twice.join({ groupId: 'wire', topics: ['wire'], inFlightLimit: 1 });
    const [taken] = await twice.waitForDeliveries(1);
    twice.send({ join: { groupId: 'wire', topics: ['wire'] } });
    expect(await twice.waitForEnd()).toMatchObject({ status: grpc.status.INVALID_ARGUMENT, code: 'INVALID_ARGUMENT' });

    // Joins the coordinator refuses end their stream with its typed error.
    const unknownTopic = open();
    unknownTopic.send({ join: { groupId: 'wire-2', topics: ['nope'] } });
    expect(await unknownTopic.waitForEnd()).toMatchObject({ status: grpc.status.NOT_FOUND, code: 'TOPIC_NOT_FOUND' });
    const tooMuch = open();
    tooMuch.send({ join: { groupId: 'wire-2', topics: ['wire'], inFlightLimit: 10_001 } });
    expect(await tooMuch.waitForEnd()).toMatchObject({ status: grpc.status.INVALID_ARGUMENT, code: 'INVALID_ARGUMENT' });

    // The good member was never touched: it still holds its record, answers it, and gets the next
    // ones, the record the double joiner held among them (delivered a second time).
    expect(good.end).toBeUndefined();
    expect((await good.answer([ack(held!)])).results[0]!.failure).toBeNull();
    const seen: RawDelivered[] = [];
    while (seen.length < 3) {
      await good.waitForDeliveries(seen.length + 2);
      const next = good.delivered[seen.length + 1]!;
      seen.push(next);
      expect((await good.answer([ack(next)])).results[0]!.failure).toBeNull();
    }
    const again = seen.find((r) => r.offset === taken!.offset);
    expect(again?.deliveryCount).toBe(2);
    expect((await describeGroup('wire')).total).toMatchObject({ depth: 0, inFlight: 0 });
  });

  it('releases a broken or ended stream\'s records at once, and a released record comes back with its count', async () => {
    await server.client.admin.createTopic('handover', { partitions: 1 });
    await produce('handover', 3);
    const leaving = open();
    await leaving.join({ groupId: 'handover', topics: ['handover'], inFlightLimit: 3, config: FAST_RETRY });
    const held = await leaving.waitForDeliveries(3);
    // Released by its member: back after its delay, to the same member, counted.
    expect((await leaving.answer([release(held[0]!, 20, 'busy')])).results[0]!.failure).toBeNull();
    const back = (await leaving.waitForDeliveries(4))[3]!;
    expect([back.offset, back.deliveryCount]).toEqual([held[0]!.offset, 2]);
    // A clean end (half-close): the stream ends OK and its records go to the next member.
    leaving.call.end();
    expect(await leaving.waitForEnd()).toMatchObject({ status: grpc.status.OK });
    const next = open();
    await next.join({ groupId: 'handover', topics: ['handover'], inFlightLimit: 3 });
    const taken = await next.waitForDeliveries(3);
    expect(taken.map((r) => [r.offset, r.deliveryCount]).sort()).toEqual([
      [0, 3],
      [1, 2],
      [2, 2],
    ]);
    // A cancelled stream (a crashed process): the same.
    next.call.cancel();
    const third = open();
    await third.join({ groupId: 'handover', topics: ['handover'], inFlightLimit: 3 });
    expect((await third.waitForDeliveries(3)).map((r) => r.deliveryCount).sort()).toEqual([3, 3, 4]);
    await third.answer(third.delivered.map(ack));
  });

  it('dead-letters a rejected record, and a record after max delivery attempts, with its headers, while the rest flows', async () => {
    await server.client.admin.createTopic('orders', { partitions: 2 });
    await produce('orders', 6, 2);
    const member = open();
    await member.join({ groupId: 'dlq-group', topics: ['orders'], inFlightLimit: 10, config: { ...FAST_RETRY, maxDeliveryAttempts: 2 } });
    const firstRound = await member.waitForDeliveries(6);
    const rejected = firstRound.find((r) => r.partition === 1 && r.offset === 0)!;
    const poison = firstRound.find((r) => r.partition === 0 && r.offset === 1)!;
    const others = firstRound.filter((r) => r !== rejected && r !== poison);
    const results = await member.answer([reject(rejected, 'cannot parse'), release(poison, 0, 'timeout 1'), ...others.map(ack)]);
    expect(results.results.every((r) => r.failure === null)).toBe(true);
    // The poison record comes back once (attempt 2 of 2); its second release dead-letters it.
    const again = (await member.waitForDeliveries(7))[6]!;
    expect([again.partition, again.offset, again.deliveryCount]).toEqual([0, 1, 2]);
    expect((await member.answer([release(again, 0, 'timeout 2')])).results[0]!.failure).toBeNull();

    const letters: ConsumedRecord[] = [];
    const reader = server.client.consume('orders.dlq', { from: 'earliest' })[Symbol.asyncIterator]();
    while (letters.length < 2) letters.push((await reader.next()).value as ConsumedRecord);
    await reader.return?.(undefined);
    const header = (letter: ConsumedRecord, key: string) => letter.headers.find((h) => h.key === key)?.value?.toString();
    const byCause = Object.fromEntries(letters.map((l) => [header(l, DEAD_LETTER_HEADERS.cause), l]));
    expect(Object.keys(byCause).sort()).toEqual(['max-delivery-attempts', 'rejected']);
    const rejectedLetter = byCause['rejected']!;
    expect(rejectedLetter.partition).toBe(1);
    expect([rejectedLetter.key?.toString(), rejectedLetter.value?.toString(), rejectedLetter.timestampMs]).toEqual([rejected.record.key?.toString(), rejected.record.value?.toString(), rejected.record.timestampMs]);
    expect(rejectedLetter.headers[0]).toEqual({ key: 'origin', value: Buffer.from('test') });
    expect([DEAD_LETTER_HEADERS.sourceTopic, DEAD_LETTER_HEADERS.sourcePartition, DEAD_LETTER_HEADERS.sourceOffset, DEAD_LETTER_HEADERS.group, DEAD_LETTER_HEADERS.attempts, DEAD_LETTER_HEADERS.error].map((k) => header(rejectedLetter, k))).toEqual(['orders', '1', '0', 'dlq-group', '1', 'cannot parse']);
    const poisonLetter = byCause['max-delivery-attempts']!;
    expect(poisonLetter.partition).toBe(0);
    expect([header(poisonLetter, DEAD_LETTER_HEADERS.sourceOffset), header(poisonLetter, DEAD_LETTER_HEADERS.attempts), header(poisonLetter, DEAD_LETTER_HEADERS.error)]).toEqual(['1', '2', 'timeout 2']);
    expect((await server.client.admin.describeTopic('orders.dlq')).partitionCount).toBe(2);

    const described = await describeGroup('dlq-group');
    expect(described.total).toMatchObject({ depth: 0, inFlight: 0, deadLettered: 2, deadLetterDepth: 2 });
    // The rest flowed meanwhile, and still does.
    await produce('orders', 2, 2, 6);
    const later = await member.waitForDeliveries(9);
    expect(later.slice(7).map((r) => r.deliveryCount)).toEqual([1, 1]);
    await member.answer(later.slice(7).map(ack));
  });

  it('serves the admin calls with typed errors: list, describe, alter, reset and delete', async () => {
    await server.client.admin.createTopic('admin', { partitions: 1 });
    await produce('admin', 3);
    const member = open();
    await member.join({ groupId: 'ops', topics: ['admin'], inFlightLimit: 10, clientId: 'ops-1' });
    await member.answer((await member.waitForDeliveries(3)).map(ack));

    const { groups } = await rawUnary(queue.listQueueGroups.bind(queue), {});
    expect(groups).toContainEqual({ groupId: 'ops', memberCount: 1, topics: ['admin'] });
    const altered = await rawUnary(queue.alterQueueGroupConfig.bind(queue), { groupId: 'ops', config: { maxDeliveryAttempts: 9, ordering: 'QUEUE_ORDERING_KEY' } });
    expect(altered.config).toMatchObject({ maxDeliveryAttempts: 9, ordering: 'QUEUE_ORDERING_KEY', lockDurationMs: 30_000 });
    expect((await describeGroup('ops')).config).toMatchObject({ maxDeliveryAttempts: 9, ordering: 'QUEUE_ORDERING_KEY' });

    const refusal = (promise: Promise<unknown>) => promise.then(() => Promise.reject(new Error('expected a refusal')), (error: RawCallError) => error);
    const reset = { groupId: 'ops', topic: 'admin', to: { point: 'START_POINT_EARLIEST' as const } };
    expect(await refusal(rawUnary(queue.resetQueueGroup.bind(queue), reset))).toMatchObject({ status: grpc.status.FAILED_PRECONDITION, code: 'QUEUE_GROUP_NOT_EMPTY' });
    expect(await refusal(rawUnary(queue.deleteQueueGroup.bind(queue), { groupId: 'ops' }))).toMatchObject({ status: grpc.status.FAILED_PRECONDITION, code: 'QUEUE_GROUP_NOT_EMPTY' });
    expect(await refusal(describeGroup('nosuch'))).toMatchObject({ status: grpc.status.NOT_FOUND, code: 'QUEUE_GROUP_NOT_FOUND' });
    expect(await refusal(rawUnary(queue.deleteQueueGroup.bind(queue), { groupId: 'nosuch' }))).toMatchObject({ status: grpc.status.NOT_FOUND, code: 'QUEUE_GROUP_NOT_FOUND' });
    expect(await refusal(rawUnary(queue.alterQueueGroupConfig.bind(queue), { groupId: 'ops', config: { backoffJitter: 5 } }))).toMatchObject({ status: grpc.status.INVALID_ARGUMENT, code: 'INVALID_ARGUMENT' });

    const health = healthClient(server.address);
    const status = await new Promise<{ status: string }>((resolve, reject) => health.check({ service: 'strata.v1.QueueService' }, (e, r) => (e ? reject(e) : resolve(r))));
    health.close();
    expect(status.status).toBe('SERVING');

    member.call.end();
    await member.waitForEnd();
    await eventually(async () => (await describeGroup('ops')).members.length === 0, { what: 'the member gone from describe' });
    expect(await refusal(rawUnary(queue.resetQueueGroup.bind(queue), { groupId: 'ops', topic: 'admin' }))).toMatchObject({ status: grpc.status.INVALID_ARGUMENT, code: 'INVALID_ARGUMENT' });
    const { partitions } = await rawUnary(queue.resetQueueGroup.bind(queue), reset);
    expect(partitions.map((p) => [p.partition, Number(p.startOffset), Number(p.depth!.depth)])).toEqual([[0, 0, 3]]);
    // After the reset the three records are handed out again, fresh.
    const again = open();
    await again.join({ groupId: 'ops', topics: ['admin'], inFlightLimit: 10 });
    expect((await again.waitForDeliveries(3)).map((r) => r.deliveryCount)).toEqual([1, 1, 1]);
    again.call.end();
    await again.waitForEnd();
    await rawUnary(queue.deleteQueueGroup.bind(queue), { groupId: 'ops' });
    expect((await rawUnary(queue.listQueueGroups.bind(queue), {})).groups.map((g) => g.groupId)).not.toContain('ops');
  });
});
