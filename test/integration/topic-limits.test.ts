import * as grpc from '@grpc/grpc-js';
import { readdir } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StrataClient } from '../../src/client/strata-client.js';
import { MAX_PARTITIONS, MAX_TOPIC_NAME_LENGTH } from '../../src/core/limits.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { rejection } from '../helpers/rejection.js';
import { makeTempDir } from '../helpers/temp-dir.js';

/** Values of every record of partition 0, from the start to the end as the server knows it now. */
async function valuesOf(client: StrataClient, topic: string): Promise<string[]> {
  const end = Number((await client.admin.describeTopic(topic)).partitions[0]!.logEndOffset);
  const values: string[] = [];
  if (end === 0) return values;
  for await (const record of client.consume(topic, { from: 'earliest', partitions: [0] })) {
    values.push(record.value!.toString('utf8'));
    if (record.offset === end - 1) break;
  }
  return values;
}

describe('topic names and partition counts at the limits, through a real server', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let server: ServerProcess | undefined;
  let client: StrataClient | undefined;

  async function start(): Promise<StrataClient> {
    server = await startServerProcess(dir.path);
    client = new StrataClient({ address: server.address });
    return client;
  }

  async function stop(): Promise<void> {
    client?.close();
    client = undefined;
    expect((await server!.stop('SIGTERM')).code).toBe(0);
    server = undefined;
  }

  beforeEach(async () => (dir = await makeTempDir()));
  afterEach(async () => {
    client?.close();
    await server?.stop('SIGKILL');
    await dir.remove();
  });

  it(`creates, produces to, deletes and re-creates a topic of ${MAX_TOPIC_NAME_LENGTH} characters, which survives a restart`, async () => {
    const name = 'x'.repeat(MAX_TOPIC_NAME_LENGTH);
    let admin = await start();
    await admin.admin.createTopic(name, { partitions: 1 });
    let producer = admin.producer();
    await producer.send(name, { value: 'before delete' });
    await producer.close();
    await admin.admin.deleteTopic(name);
    expect(await rejection(admin.admin.describeTopic(name))).toMatchObject({ code: 'TOPIC_NOT_FOUND' });

    await admin.admin.createTopic(name, { partitions: 1 });
    producer = admin.producer();
    await producer.send(name, { value: 'after re-create' });
    await producer.close();
    await stop();

    admin = await start();
    expect((await admin.admin.listTopics()).map((t) => t.name)).toEqual([name]);
    expect(await valuesOf(admin, name)).toEqual(['after re-create']);
    await admin.admin.deleteTopic(name);
    expect(await admin.admin.listTopics()).toEqual([]);
    expect((await readdir(dir.path)).filter((entry) => !entry.startsWith('@') && !entry.startsWith('__'))).toEqual([]);
  }, 60_000);

  it('refuses partitions past the server limit with RESOURCE_EXHAUSTED (PARTITION_LIMIT_REACHED), counting __consumer_offsets', async () => {
    const admin = await start();
    // MAX_PARTITIONS is valid for one topic, but __consumer_offsets already holds some of the server's partitions.
    const refused = await rejection(admin.admin.createTopic('huge', { partitions: MAX_PARTITIONS }));
    expect(refused).toMatchObject({ code: 'PARTITION_LIMIT_REACHED', grpcStatus: grpc.status.RESOURCE_EXHAUSTED, retriable: false });
    await admin.admin.createTopic('small', { partitions: 2 });
    expect(await rejection(admin.admin.createPartitions('small', MAX_PARTITIONS))).toMatchObject({ code: 'PARTITION_LIMIT_REACHED' });
    expect((await admin.admin.listTopics()).map((t) => t.name)).toEqual(['small']);
    expect((await admin.admin.describeTopic('small')).partitionCount).toBe(2);
  });
});
