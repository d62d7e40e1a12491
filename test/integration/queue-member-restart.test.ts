import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { QueueMessage } from '../../src/client/queue-message.js';
import { StrataClient } from '../../src/client/strata-client.js';
import { QueueRecordNotAcquiredError } from '../../src/core/errors.js';
import { eventually } from '../helpers/eventually.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const RECORDS = 20;

describe('a queue member across a restart of its server (SIGTERM)', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let server: ServerProcess;
  let client: StrataClient;
  beforeAll(async () => {
    dir = await makeTempDir();
    server = await startServerProcess(dir.path);
    client = new StrataClient({ address: server.address });
  });
  afterAll(async () => {
    client?.close();
    await server?.stop('SIGKILL');
    await dir.remove();
  });

  it('joins again and goes on: answers of the old session fail, its unanswered records come again, every record acknowledged once', async () => {
    await client.admin.createTopic('jobs', { partitions: 1 });
    const producer = client.producer({ acks: 'durable' });
    await producer.sendBatch('jobs', Array.from({ length: RECORDS }, (_, i) => ({ value: `job-${i}` })));
    await producer.close();

    const warnings: string[] = [];
    const queue = client.queue({ groupId: 'restart', topics: ['jobs'], inFlightLimit: 5, config: { backoffBaseMs: 10, backoffMaxMs: 50 }, logger: { warn: (_fields, message) => void warnings.push(message) } });
    const iterator = queue[Symbol.asyncIterator]();
    const before: QueueMessage[] = [];
    for (let i = 0; i < 5; i++) before.push((await iterator.next()).value as QueueMessage);
    await Promise.all(before.slice(0, 2).map((m) => m.ack()));
    const ackedOffsets = before.slice(0, 2).map((m) => m.offset);

    // The same port, so the client's channel finds it again.
    await server.stop('SIGTERM');
    server = await startServerProcess(dir.path, ['--port', String(server.port)]);

    // The iteration goes on in a new session; the first message after the restart arrives there.
    const next = (await iterator.next()).value as QueueMessage;
    expect(warnings).toContain('queue session lost: joining again');
    for (const old of before.slice(2)) expect(await old.ack().catch((error: unknown) => error)).toBeInstanceOf(QueueRecordNotAcquiredError);

    await next.ack();
    ackedOffsets.push(next.offset);
    while (ackedOffsets.length < RECORDS) {
      const message = (await iterator.next()).value as QueueMessage;
      await message.ack();
      ackedOffsets.push(message.offset);
    }
    // Nothing acknowledged came again, and nothing was lost.
    expect([...ackedOffsets].sort((a, b) => a - b)).toEqual(Array.from({ length: RECORDS }, (_, i) => i));
    const described = await eventually(async () => {
      const d = await client.admin.describeQueueGroup('restart');
      return d.total.depth === 0 ? d : false;
    }, { what: 'the group done' });
    expect(described.partitions[0]!.startOffset).toBe(RECORDS);
    await queue.close();
  });
});
