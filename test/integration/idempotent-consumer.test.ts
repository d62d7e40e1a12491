/**
 * IdempotentConsumer in front of both consumers' process(), over a real server: a message its
 * producer wrote twice (same strata-message-id, another offset, another partition) is handled once
 * and the copy is still committed or acked; a record read again (an offsets reset, an expired queue
 * lock) is skipped by its key; a malformed message id goes to the dead-letter topic.
 */
import { describe, expect, it } from 'vitest';
import type { ConsumedRecord } from '../../src/client/consumed-record.js';
import { IdempotentConsumer, MESSAGE_ID_HEADER } from '../../src/client/idempotent-consumer.js';
import { MemoryProcessedKeyStore } from '../../src/client/memory-processed-key-store.js';
import type { QueueMessage } from '../../src/client/queue-message.js';
import type { StrataClient } from '../../src/client/strata-client.js';
import { eventually } from '../helpers/eventually.js';
import { useInProcessServer } from '../helpers/in-process-server.js';

const quiet = { warn: () => undefined };

/**
 * Ids m0..m5 across both partitions, m1 and m4 sent again into the other partition (as a producer
 * resending after a restart might), two records without an id, one with an empty id (malformed).
 */
async function produce(client: StrataClient, topic: string): Promise<{ records: number }> {
  await client.admin.createTopic(topic, { partitions: 2 });
  const producer = client.producer({ acks: 'durable' });
  const withId = (id: string, partition: number) => ({ value: `v-${id}`, partition, headers: { [MESSAGE_ID_HEADER]: id } });
  const records = [
    ...['m0', 'm1', 'm2', 'm3', 'm4', 'm5'].map((id, i) => withId(id, i % 2)),
    withId('m1', 0),
    withId('m4', 1),
    { value: 'no-id-a', partition: 0 },
    { value: 'no-id-b', partition: 1 },
    { value: 'bad-id', partition: 0, headers: { [MESSAGE_ID_HEADER]: '' } },
  ];
  await producer.sendBatch(topic, records);
  await producer.close();
  return { records: records.length };
}

const valueOf = (r: { value: Buffer | null }) => r.value!.toString();
const HANDLED_ONCE = ['no-id-a', 'no-id-b', 'v-m0', 'v-m1', 'v-m2', 'v-m3', 'v-m4', 'v-m5'];

describe('IdempotentConsumer with both consumers (real server)', () => {
  const server = useInProcessServer();

  it('group consumer process(): a duplicate message is handled once and committed past; after an offsets reset every record is skipped', async () => {
    const { client } = server;
    const { records } = await produce(client, 'orders-g');
    const idem = new IdempotentConsumer({ store: new MemoryProcessedKeyStore() });
    const handled: string[] = [];
    const attempts: number[] = [];
    const consumer = client.consumer({ groupId: 'idem-g', topics: ['orders-g'], fromBeginning: true, logger: quiet, autoCommitIntervalMs: 50, onFailure: { maxAttempts: 2, backoff: { baseMs: 0 } } });
    const processing = consumer.process(
      idem.handler(async (record: ConsumedRecord, _tx, { attempt }) => {
        handled.push(valueOf(record));
        attempts.push(attempt);
      }),
    );
    const lagIsZero = async () => {
      const { lag } = await client.admin.describeGroup('idem-g');
      return lag.length === 2 && lag.every((p) => p.lagRecords === 0);
    };
    await eventually(lagIsZero, { what: 'every record committed past', timeoutMs: 20_000 });
    expect([...handled].sort()).toEqual(HANDLED_ONCE);
    expect(attempts.every((a) => a === 1)).toBe(true);
    expect(idem.counts).toEqual({ processed: 8, duplicates: 2 });
    // The malformed id went to the dead-letter topic at once (NonRetriableError), not handled.
    const dlq = await client.admin.listOffsets('orders-g.dlq', 'latest');
    expect(dlq.reduce((sum, p) => sum + p.offset, 0)).toBe(1);

    // Read again from the start (as after a rebalance, or a reset): every record is known by its key.
    await client.admin.resetOffsets('idem-g', { topic: 'orders-g', to: 'earliest', execute: true });
    await eventually(async () => idem.counts.duplicates === 2 + records - 1 && (await lagIsZero()), { what: 'the group read everything again and committed past it', timeoutMs: 20_000 });
    expect(handled).toHaveLength(8);
    // The malformed record is dead-lettered again (it has no key to be skipped by): a second letter.
    const dlqAfter = await client.admin.listOffsets('orders-g.dlq', 'latest');
    expect(dlqAfter.reduce((sum, p) => sum + p.offset, 0)).toBe(2);
    await consumer.close();
    await processing;
  });

  it('queue process() with concurrency: a duplicate is handled once and acked, a redelivery after an expired lock is skipped, a malformed id is rejected', async () => {
    const { client } = server;
    const { records } = await produce(client, 'orders-q');
    const idem = new IdempotentConsumer({ store: new MemoryProcessedKeyStore() });
    const handled: string[] = [];
    const warnings: string[] = [];
    const queue = client.queue({
      groupId: 'idem-q',
      topics: ['orders-q'],
      config: { lockDurationMs: 300, backoffBaseMs: 0, backoffMaxMs: 1, maxDeliveryAttempts: 10 },
      logger: { warn: (_fields, message) => void warnings.push(message) },
    });
    let onRedelivered!: () => void;
    const redelivered = new Promise<void>((resolve) => (onRedelivered = resolve));
    const handle = idem.handler(async (message: QueueMessage) => {
      handled.push(valueOf(message));
      // Outlive the lock: the server hands m2 out again (to this, the only member) while this
      // handler still runs; its copy waits for this call in the helper and is then skipped by its key.
      if (valueOf(message) === 'v-m2' && message.deliveryCount === 1) await redelivered;
    });
    const processing = queue.process(
      async (message) => {
        if (valueOf(message) === 'v-m2' && message.deliveryCount > 1) onRedelivered();
        await handle(message);
      },
      { concurrency: 4 },
    );
    const described = await eventually(
      async () => {
        const d = await client.admin.describeQueueGroup('idem-q');
        return handled.length >= 8 && d.total.deadLettered === 1 && d.total.depth === 0 && d.total.inFlight === 0 ? d : false;
      },
      { what: 'every record acked or dead-lettered', timeoutMs: 20_000 },
    );
    expect([...handled].sort()).toEqual(HANDLED_ONCE);
    expect(described.total.deadLettered).toBe(1);
    expect(described.total.redeliveries).toBeGreaterThanOrEqual(1);
    // Two message duplicates and at least the one redelivery of m2 skipped; the late ack of the slow first delivery failed.
    expect(idem.counts.processed).toBe(8);
    expect(idem.counts.duplicates).toBeGreaterThanOrEqual(3);
    expect(records).toBe(11);
    await queue.close();
    await processing;
    // process() waited for every answer's result: the slow first delivery's ack came after its lock.
    expect(warnings).toContain('queue answer failed');
  });
});
