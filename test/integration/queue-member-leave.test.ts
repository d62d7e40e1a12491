import { describe, expect, it } from 'vitest';
import type { QueueMessage } from '../../src/client/queue-message.js';
import { useInProcessServer } from '../helpers/in-process-server.js';

const quiet = { warn: () => undefined };

async function take(iterator: AsyncIterator<QueueMessage>, count: number): Promise<QueueMessage[]> {
  const messages: QueueMessage[] = [];
  for (let i = 0; i < count; i++) messages.push((await iterator.next()).value as QueueMessage);
  return messages;
}

describe('a queue member that closes, against a real server', () => {
  const server = useInProcessServer();

  it('spends no delivery attempt of the records after its own: its last answers say it is leaving, so the places they free stay empty', async () => {
    const { client } = server;
    await client.admin.createTopic('leave', { partitions: 1 });
    const producer = client.producer({ acks: 'durable' });
    await producer.sendBatch('leave', Array.from({ length: 10 }, (_, i) => ({ value: `v${i}` })));
    await producer.close();

    // The answers go with the leave (a long linger), as `strata queue consume --max-messages` sends them.
    const first = client.queue({ groupId: 'g', topics: ['leave'], inFlightLimit: 2, answerLingerMs: 60_000, logger: quiet });
    const acks = (await take(first[Symbol.asyncIterator](), 2)).map((m) => m.ack());
    await first.close();
    await Promise.all(acks);
    // Without `leaving`, the server acquired offsets 2 and 3 for the member in the places the acks
    // freed, and its leave released them after a backoff, one delivery attempt spent.
    expect((await client.admin.describeQueueGroup('g')).total).toMatchObject({ depth: 8, inFlight: 0, waitingForRetry: 0, redeliveries: 0 });

    const second = client.queue({ groupId: 'g', topics: ['leave'], inFlightLimit: 2, logger: quiet });
    const next = await take(second[Symbol.asyncIterator](), 2);
    expect(next.map((m) => [m.offset, m.deliveryCount])).toEqual([
      [2, 1],
      [3, 1],
    ]);
    await Promise.all(next.map((m) => m.ack()));
    await second.close();
  });
});
