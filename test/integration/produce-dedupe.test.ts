import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, InvalidMessageIdError } from '../../src/core/errors.js';
import { MESSAGE_ID_HEADER } from '../../src/format/message-ids.js';
import type { ConsumedRecord } from '../../src/client/consume.js';
import type { StrataClient } from '../../src/client/strata-client.js';
import { useInProcessServer } from '../helpers/in-process-server.js';

async function readAll(client: StrataClient, topic: string, count: number): Promise<ConsumedRecord[]> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 20_000);
  const records: ConsumedRecord[] = [];
  try {
    for await (const record of client.consume(topic, { from: 'earliest', signal: controller.signal })) {
      records.push(record);
      if (records.length >= count) break;
    }
  } finally {
    clearTimeout(timer);
  }
  return records;
}

describe('the client with message ids, over a server', () => {
  const fixture = useInProcessServer();

  it('send() and sendBatch() say duplicate: true with the original offset per record, and the topic holds each id once', async () => {
    const { client } = fixture;
    await client.admin.createTopic('orders', { partitions: 1, config: { 'dedupe.window.ms': '60000' } });
    const producer = client.producer({ lingerMs: 0 });
    try {
      const first = await producer.send('orders', { value: 'o-1', messageId: 'order-1' });
      expect(first).toEqual({ topic: 'orders', partition: 0, offset: 0, durability: 'durable' });
      expect(await producer.send('orders', { value: 'o-1 again', messageId: 'order-1' })).toEqual({ topic: 'orders', partition: 0, offset: 0, durability: 'durable', duplicate: true });
      const results = await producer.sendBatch('orders', [
        { value: 'o-2', messageId: 'order-2' },
        { value: 'o-1 third time', messageId: 'order-1' },
        { value: 'no id' },
        { value: 'o-2 in the same call', messageId: 'order-2' },
        { value: 'o-3', messageId: 'order-3', headers: { trace: 'abc' } },
      ]);
      expect(results.map((r) => [r.offset, r.duplicate ?? false])).toEqual([
        [1, false],
        [0, true],
        [2, false],
        [1, true],
        [3, false],
      ]);
    } finally {
      await producer.close();
    }
    const records = await readAll(client, 'orders', 4);
    expect(records.map((r) => r.value!.toString())).toEqual(['o-1', 'o-2', 'no id', 'o-3']);
    expect(records[3]!.headers).toEqual([
      { key: 'trace', value: Buffer.from('abc') },
      { key: MESSAGE_ID_HEADER, value: Buffer.from('order-3') },
    ]);
  });

  it('refuses a bad messageId in the client, and a bad id header from the server with INVALID_MESSAGE_ID', async () => {
    const { client } = fixture;
    await client.admin.createTopic('checked', { partitions: 1, config: { 'dedupe.window.ms': '60000' } });
    const producer = client.producer({ lingerMs: 0 });
    try {
      await expect(producer.send('checked', { value: 'x', messageId: '' })).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(producer.send('checked', { value: 'x', messageId: 'x'.repeat(201) })).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(producer.send('checked', { value: 'x', messageId: '\uD800' })).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(producer.send('checked', { value: 'x', messageId: 'a', headers: { [MESSAGE_ID_HEADER]: 'b' } })).rejects.toBeInstanceOf(InvalidArgumentError);
      const error = await producer.send('checked', { value: 'x', headers: { [MESSAGE_ID_HEADER]: Buffer.from([0xff]) } }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidMessageIdError);
    } finally {
      await producer.close().catch(() => undefined);
    }
  });

  it('refuses a window past 7 days at topic creation', async () => {
    await expect(fixture.client.admin.createTopic('too-long', { partitions: 1, config: { 'dedupe.window.ms': String(7 * 86_400_000 + 1) } })).rejects.toMatchObject({ code: 'INVALID_CONFIG' });
  });

  it('still knows an id after a server restart', async () => {
    const { client } = fixture;
    await client.admin.createTopic('kept', { partitions: 1, config: { 'dedupe.window.ms': '60000' } });
    const before = client.producer({ lingerMs: 0 });
    await before.send('kept', { value: 'v', messageId: 'm-1' });
    await before.close();
    await fixture.restart();
    const after = fixture.client.producer({ lingerMs: 0 });
    try {
      expect(await after.send('kept', { value: 'v', messageId: 'm-1' })).toMatchObject({ offset: 0, duplicate: true });
      expect(await after.send('kept', { value: 'w', messageId: 'm-2' })).toMatchObject({ offset: 1 });
    } finally {
      await after.close();
    }
  });
});
