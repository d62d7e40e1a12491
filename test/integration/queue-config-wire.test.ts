import { describe, expect, it } from 'vitest';
import { useInProcessServer } from '../helpers/in-process-server.js';

const quiet = { warn: () => undefined };

describe('a queue group configuration over the wire, against a real server', () => {
  const server = useInProcessServer();

  it('sets backoff base and jitter to 0 (present on the wire, not "keep"), and an alter leaving them out keeps them', async () => {
    const { client } = server;
    await client.admin.createTopic('exact', { partitions: 1 });
    const queue = client.queue({ groupId: 'exact-g', topics: ['exact'], config: { backoffBaseMs: 0, backoffJitter: 0 }, logger: quiet });
    // The join creates the group with the values it names.
    const joined = queue[Symbol.asyncIterator]();
    const producer = client.producer({ acks: 'durable' });
    await producer.send('exact', { value: 'x' });
    await producer.close();
    const message = (await joined.next()).value!;
    await message.ack();
    expect((await client.admin.describeQueueGroup('exact-g')).config).toMatchObject({ backoffBaseMs: 0, backoffJitter: 0 });
    await queue.close();

    await client.admin.alterQueueGroupConfig('exact-g', { lockDurationMs: 5_000 });
    expect((await client.admin.describeQueueGroup('exact-g')).config).toMatchObject({ lockDurationMs: 5_000, backoffBaseMs: 0, backoffJitter: 0 });
    await client.admin.alterQueueGroupConfig('exact-g', { backoffBaseMs: 500, backoffMaxMs: 1_000, backoffJitter: 0.5 });
    expect((await client.admin.describeQueueGroup('exact-g')).config).toMatchObject({ backoffBaseMs: 500, backoffMaxMs: 1_000, backoffJitter: 0.5 });
  });
});
