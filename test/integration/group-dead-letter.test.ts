/**
 * The group consumer's failure policy against a real server: a poison record is retried, then ends
 * in the dead-letter topic (created with the source's partition count, the record and its headers
 * as they were, the dead-letter headers added), committed past, and the member goes on with the
 * records after it, including ones produced after it gave up.
 */
import { describe, expect, it } from 'vitest';
import type { ConsumedRecord } from '../../src/client/consumed-record.js';
import { DEAD_LETTER_HEADERS } from '../../src/core/dead-letter-headers.js';
import { eventually } from '../helpers/eventually.js';
import { useInProcessServer } from '../helpers/in-process-server.js';

const GROUPS = { initialRebalanceDelayMs: 100, rebalanceDelayMs: 50, heartbeatIntervalMs: 200, sessionTimeoutMs: 10_000 };

describe('group consumer process() with a dead-letter topic, on a real server', () => {
  const fx = useInProcessServer({ groups: GROUPS });

  it('dead-letters a poison record after maxAttempts, commits past it, and goes on with the rest', async () => {
    const { client } = fx;
    await client.admin.createTopic('orders', { partitions: 3 });
    const producer = client.producer({ lingerMs: 0 });
    const before = Array.from({ length: 30 }, (_, i) => ({ key: `k${i}`, value: `order-${i}`, partition: i % 3 }));
    await producer.sendBatch('orders', before);
    const poison = await producer.send('orders', { key: 'bad', value: 'poison', partition: 1, timestampMs: 1_650_000_000_000, headers: [{ key: 'trace', value: Buffer.from('abc') }] });

    const handled: ConsumedRecord[] = [];
    const attemptsOfPoison: number[] = [];
    const consumer = client.consumer({
      groupId: 'billing',
      topics: ['orders'],
      fromBeginning: true,
      logger: { warn: () => undefined },
      onFailure: { maxAttempts: 3, backoff: { baseMs: 20, factor: 2, maxMs: 100, jitter: 0 } },
    });
    const processing = consumer.process(async (record, { attempt }) => {
      if (record.value?.toString() === 'poison') {
        attemptsOfPoison.push(attempt);
        throw new Error(`cannot bill order ${record.key?.toString()}`);
      }
      handled.push(record);
    });
    await eventually(() => handled.length === 30, { what: 'the 30 good records' });
    // The member goes on after the dead letter: records produced later are handled too.
    const after = Array.from({ length: 6 }, (_, i) => ({ key: `late${i}`, value: `late-${i}`, partition: i % 3 }));
    await producer.sendBatch('orders', after);
    await producer.close();
    await eventually(() => handled.length === 36, { what: 'the records produced after the poison' });
    expect(attemptsOfPoison).toEqual([1, 2, 3]);
    // Per partition, in offset order, none twice.
    for (let p = 0; p < 3; p++) {
      const offsets = handled.filter((r) => r.partition === p).map((r) => r.offset);
      expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
      expect(new Set(offsets).size).toBe(offsets.length);
    }

    // The dead-letter topic: created with 3 partitions, the poison record in partition 1.
    expect((await client.admin.describeTopic('orders.dlq')).partitionCount).toBe(3);
    const letters: ConsumedRecord[] = [];
    for await (const record of client.consume('orders.dlq', { from: 'earliest', partitions: [1] })) {
      letters.push(record);
      break;
    }
    const [letter] = letters;
    expect(letter!.key?.toString()).toBe('bad');
    expect(letter!.value?.toString()).toBe('poison');
    expect(letter!.timestampMs).toBe(1_650_000_000_000);
    const header = (name: string) => letter!.headers.find((h) => h.key === name)?.value?.toString();
    expect(letter!.headers[0]).toEqual({ key: 'trace', value: Buffer.from('abc') });
    expect(header(DEAD_LETTER_HEADERS.sourceTopic)).toBe('orders');
    expect(header(DEAD_LETTER_HEADERS.sourcePartition)).toBe('1');
    expect(header(DEAD_LETTER_HEADERS.sourceOffset)).toBe(String(poison.offset));
    expect(header(DEAD_LETTER_HEADERS.group)).toBe('billing');
    expect(header(DEAD_LETTER_HEADERS.attempts)).toBe('3');
    expect(header(DEAD_LETTER_HEADERS.cause)).toBe('handler-failed');
    expect(header(DEAD_LETTER_HEADERS.error)).toBe('Error: cannot bill order bad');
    const dlqEnd = await client.admin.listOffsets('orders.dlq', 'latest');
    expect(dlqEnd.map((o) => o.offset).reduce((a, b) => a + b, 0)).toBe(1);

    await consumer.close();
    await processing;
    // Everything committed, the poison record included: nothing is left to read again.
    const { lag } = await client.admin.describeGroup('billing');
    expect(lag.filter((l) => l.topic === 'orders').map((l) => l.lagRecords)).toEqual([0, 0, 0]);
  }, 30_000);
});
