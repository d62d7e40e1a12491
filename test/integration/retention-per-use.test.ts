import { describe, expect, it } from 'vitest';
import { GroupNotFoundError, InvalidConfigError, PartitionOverflowError } from '../../src/core/errors.js';
import { makeBatch } from '../helpers/batches.js';
import { eventually } from '../helpers/eventually.js';
import { useInProcessServer } from '../helpers/in-process-server.js';
import { rejection } from '../helpers/rejection.js';

const quiet = { warn: () => undefined, info: () => undefined, error: () => undefined, debug: () => undefined };

/**
 * Retention per use and overflow against a real server: the consumption-progress port as bootstrap
 * builds it from the committed offsets and the queue groups. Topics are created on the log manager
 * directly where they need 1 KiB segments (the API's minimum is 1 MiB).
 */
describe('retention per use and overflow, end to end', () => {
  const server = useInProcessServer();

  const produce = async (topic: string, count: number, prefix = 'r') => {
    const producer = server.client.producer({ acks: 'durable' });
    for (let i = 0; i < count; i++) await producer.send(topic, { value: `${prefix}${i}-${'x'.repeat(150)}`, partition: 0 });
    await producer.close();
  };
  const partition = (topic: string) => server.server.logManager.describeTopic(topic).partitions[0]!;

  it('retention.after.ack: once a queue group acks everything the closed segments go; a consumer group that has not committed keeps them', async () => {
    const { logManager } = server.server;
    await logManager.createTopic('tasks', 1, { 'segment.bytes': '1024', 'retention.ms': '-1', 'retention.after.ack': 'true' });
    await produce('tasks', 20);
    const segmentCount = partition('tasks').segmentCount;
    expect(segmentCount).toBeGreaterThan(3);

    // A topic no group reads keeps its records.
    await logManager.runRetention();
    expect(partition('tasks')).toMatchObject({ logStartOffset: 0, segmentCount });

    // A consumer group reads the topic (its member is subscribed) and has committed nothing.
    const audit = server.client.consumer({ groupId: 'audit', topics: ['tasks'], fromBeginning: true, autoCommitIntervalMs: 3_600_000, logger: quiet });
    const auditRecords = audit[Symbol.asyncIterator]();
    expect((await auditRecords.next()).value).toMatchObject({ offset: 0 });

    const workers = server.client.queue({ groupId: 'workers', topics: ['tasks'], logger: quiet });
    const messages = workers[Symbol.asyncIterator]();
    for (let i = 0; i < 20; i++) await (await messages.next()).value!.ack();
    await eventually(async () => (await server.client.admin.describeQueueGroup('workers')).total.depth === 0, { what: 'the queue group has acked all 20 records' });

    await logManager.runRetention();
    expect(partition('tasks')).toMatchObject({ logStartOffset: 0, segmentCount });

    // The consumer group goes (its commit of what it read is deleted with it): now the queue group alone decides.
    await audit.close();
    // Deleted as soon as its member is gone (GROUP_NOT_EMPTY until then; GROUP_NOT_FOUND: it had nothing left to delete).
    await eventually(
      () => server.client.admin.deleteGroup('audit').then(
        () => true,
        (error: unknown) => (error instanceof GroupNotFoundError ? true : Promise.reject(error)),
      ),
      { what: 'the audit group is gone' },
    );
    await logManager.runRetention();
    expect(partition('tasks')).toMatchObject({ segmentCount: 1, logEndOffset: 20 });
    expect(partition('tasks').logStartOffset).toBeGreaterThan(0);
    // Nothing any group had not consumed was removed.
    expect(logManager.unconsumedRemovedRecords()).toEqual([]);

    // The queue group goes on from where it was.
    await produce('tasks', 1, 'late');
    const late = (await messages.next()).value!;
    expect(late.offset).toBe(20);
    await late.ack();
    await workers.close();
  });

  it('counts what size retention removes before a consumer group committed past it', async () => {
    const { logManager } = server.server;
    await logManager.createTopic('events', 1, { 'segment.bytes': '1024', 'retention.bytes': '0' });
    await produce('events', 20);
    await server.client.admin.resetOffsets('slow', { topic: 'events', to: { offset: 2 }, execute: true });
    await logManager.runRetention();
    const { logStartOffset } = partition('events');
    expect(logStartOffset).toBeGreaterThan(2);
    expect(logManager.unconsumedRemovedRecords()).toContainEqual({ kind: 'consumer', groupId: 'slow', topic: 'events', partition: 0, records: logStartOffset - 2 });
  });

  it('overflow=reject: the producer retries PARTITION_OVERFLOW with backoff and succeeds once a queue group catches up', async () => {
    const { client } = server;
    await client.admin.createTopic('jobs', { partitions: 1, config: { 'max.unconsumed.records': '5', overflow: 'reject' } });
    const workers = client.queue({ groupId: 'job-workers', topics: ['jobs'], logger: quiet });
    const messages = workers[Symbol.asyncIterator]();
    const producer = client.producer({ acks: 'durable', retryBackoffMs: 20, deliveryTimeoutMs: 30_000 });
    for (let i = 0; i < 5; i++) await producer.send('jobs', { value: `j${i}`, partition: 0 });

    // A raw append is refused whole with the code of its own.
    const log = server.server.logManager.partition('jobs', 0);
    expect(await rejection(server.server.broker.produce('jobs', 0, makeBatch('raw', 1), undefined))).toMatchObject({ code: 'PARTITION_OVERFLOW', retriable: true });
    expect(log.logEndOffset).toBe(5);
    // A producer whose delivery timeout runs out first gets the error, as the client's class.
    const impatient = client.producer({ acks: 'durable', retryBackoffMs: 20, deliveryTimeoutMs: 300 });
    expect(await rejection(impatient.send('jobs', { value: 'late', partition: 0 }))).toBeInstanceOf(PartitionOverflowError);
    await impatient.close();

    const sixth = producer.send('jobs', { value: 'j5', partition: 0 });
    // It waits, retried: the partition holds 5 unconsumed records.
    await eventually(() => log.logEndOffset === 5 && !settled(sixth), { what: 'the sixth send is being retried' });
    const first = (await messages.next()).value!;
    await first.ack();
    await expect(sixth).resolves.toMatchObject({ offset: 5 });
    for (let i = 1; i < 6; i++) await (await messages.next()).value!.ack();
    await producer.close();
    await workers.close();
  });

  it('an overflow limit set by AlterTopicConfig on a running topic applies to the next produce, and lifting it lets produces in again', async () => {
    const { client } = server;
    await client.admin.createTopic('altered-jobs', { partitions: 1 });
    const { broker } = server.server;
    for (let i = 0; i < 3; i++) await broker.produce('altered-jobs', 0, makeBatch(`a${i}`, 1), undefined);
    await client.admin.alterTopicConfig('altered-jobs', { set: { 'max.unconsumed.records': '3', overflow: 'reject' } });
    expect(await rejection(broker.produce('altered-jobs', 0, makeBatch('over', 1), undefined))).toMatchObject({ code: 'PARTITION_OVERFLOW' });
    const overflowAlone = await rejection(client.admin.alterTopicConfig('altered-jobs', { delete: ['max.unconsumed.records'] }));
    expect(overflowAlone, 'overflow without a max is refused, as at creation').toBeInstanceOf(InvalidConfigError);
    await client.admin.alterTopicConfig('altered-jobs', { delete: ['max.unconsumed.records', 'overflow'] });
    await expect(broker.produce('altered-jobs', 0, makeBatch('in', 1), undefined)).resolves.toMatchObject({ baseOffset: 3 });
  });

  it('overflow=drop-oldest: the log start moves so 5 unconsumed records stay; the queue group goes on from there, its loss counted', async () => {
    const { client } = server;
    await client.admin.createTopic('latest', { partitions: 1, config: { 'max.unconsumed.records': '5', overflow: 'drop-oldest' } });
    const workers = client.queue({ groupId: 'latest-workers', topics: ['latest'], inFlightLimit: 1, logger: quiet });
    const messages = workers[Symbol.asyncIterator]();
    const producer = client.producer({ acks: 'durable' });
    await producer.send('latest', { value: 'v0', partition: 0 });
    // The member holds offset 0 unanswered, so the group's start stays at 0 while 11 more arrive.
    const held = (await messages.next()).value!;
    expect(held.offset).toBe(0);
    for (let i = 1; i < 12; i++) await producer.send('latest', { value: `v${i}`, partition: 0 });
    await producer.close();
    expect(partition('latest')).toMatchObject({ logStartOffset: 7, logEndOffset: 12 });
    expect(server.server.logManager.unconsumedRemovedRecords()).toContainEqual({ kind: 'queue', groupId: 'latest-workers', topic: 'latest', partition: 0, records: 7 });
    await held.ack().catch(() => undefined);
    // A record the window read before the move may still be handed out once (the group moves its
    // start past removed records on its next timer); its answer is refused. From 7 on, all arrive.
    const offsets: number[] = [];
    for (;;) {
      const message = (await messages.next()).value!;
      if (message.offset < 7) {
        await message.ack().catch(() => undefined);
        continue;
      }
      offsets.push(message.offset);
      await message.ack();
      if (message.offset === 11) break;
    }
    expect(offsets).toEqual([7, 8, 9, 10, 11]);
    await workers.close();
  });

  it('refuses bad overflow config at creation and changes nothing', async () => {
    const { client } = server;
    const bad: Array<Record<string, string>> = [
      { 'max.unconsumed.records': '10' },
      { 'max.unconsumed.bytes': '-5', overflow: 'reject' },
      { 'max.unconsumed.records': '10', overflow: 'foo' },
      { overflow: 'drop-oldest' },
      { 'retention.after.ack': 'maybe' },
    ];
    for (const config of bad) {
      expect(await rejection(client.admin.createTopic('bad-overflow', { partitions: 1, config }))).toBeInstanceOf(InvalidConfigError);
    }
    expect((await client.admin.listTopics()).map((t) => t.name)).not.toContain('bad-overflow');
    // Internal topics take no config from clients at all.
    expect(await rejection(client.admin.createTopic('__consumer_offsets', { partitions: 1, config: { 'max.unconsumed.records': '1', overflow: 'reject' } }))).toMatchObject({ code: 'INTERNAL_TOPIC' });
  });
});

const states = new WeakMap<Promise<unknown>, boolean>();
/** Whether a promise has settled (watched from the first call on). */
function settled(promise: Promise<unknown>): boolean {
  if (!states.has(promise)) {
    states.set(promise, false);
    promise.then(
      () => states.set(promise, true),
      () => states.set(promise, true),
    );
  }
  return states.get(promise)!;
}
