import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StrataClientError } from '../../src/client/client-error.js';
import { StrataClient } from '../../src/client/strata-client.js';
import { ERROR_CODE_METADATA_KEY } from '../../src/protocol/protocol.js';
import { eventually } from '../helpers/eventually.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { healthClient, reflectionClient } from '../helpers/standard-services.js';
import { makeTempDir } from '../helpers/temp-dir.js';

describe('graceful shutdown', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let server: ServerProcess;
  beforeAll(async () => {
    dir = await makeTempDir();
    server = await startServerProcess(dir.path);
  });
  afterAll(async () => {
    await server?.stop('SIGKILL');
    await dir.remove();
  });

  it('ends open streams with UNAVAILABLE, keeps every acknowledged record, exits 0 with the clean marker', async () => {
    const client = new StrataClient({ address: server.address });
    await client.admin.createTopic('orders', { partitions: 4 });
    // A subscriber that never finishes by itself.
    let consumedCount = 0;
    const subscription = (async () => {
      for await (const _ of client.consume('orders', { from: 'earliest', shouldReconnect: false })) consumedCount++;
    })().then(
      () => undefined,
      (error: unknown) => error,
    );
    // A producer with appends in flight when the signal arrives.
    const producer = client.producer({ lingerMs: 1, deliveryTimeoutMs: 2_000 });
    let acknowledgedCount = 0;
    const outcomes = Array.from({ length: 5_000 }, (_, i) =>
      producer.send('orders', { key: `k${i % 50}`, value: `v${i}` }).then(
        (metadata) => (acknowledgedCount++, { i, metadata }),
        (error: unknown) => ({ i, error }),
      ),
    );
    // The standard services' streams are ended the same way (grpc-js would wait for them, then cancel).
    const health = healthClient(server.address);
    const watch = health.watch({ service: '' });
    const watched: string[] = [];
    watch.on('data', (response: { status: string }) => watched.push(response.status));
    const watchEnd = new Promise<grpc.StatusObject>((resolve) => watch.on('status', resolve));
    watch.on('error', () => undefined);
    const reflection = reflectionClient(server.address);
    const reflectionCall = reflection.serverReflectionInfo();
    const reflectionEnd = new Promise<grpc.StatusObject>((resolve) => reflectionCall.on('status', resolve));
    reflectionCall.on('error', () => undefined);
    let reflectionAnswered = false;
    reflectionCall.on('data', () => (reflectionAnswered = true));
    reflectionCall.write({ listServices: '' });
    // A Fetch long poll on a quiet topic, waiting when the signal arrives.
    await client.admin.createTopic('quiet', { partitions: 1 });
    const longPoll = new Promise<grpc.ServiceError | null>((resolve) =>
      client.stubs.consume.fetch({ topic: 'quiet', partition: 0, offset: 0, minBytes: 1, maxWaitMs: 60_000 }, (error) => resolve(error)),
    );
    // A group member's heartbeat stream, joined.
    const member = client.stubs.groups.groupHeartbeat();
    const memberEnd = new Promise<grpc.StatusObject>((resolve) => member.on('status', resolve));
    member.on('error', () => undefined);
    const joined = new Promise((resolve) => member.once('data', resolve));
    member.on('data', () => undefined);
    member.write({ groupId: 'members', memberId: '', memberEpoch: 0, topics: ['orders'], owned: [], instanceId: '', idleMs: 0 });
    expect(await joined).toMatchObject({ failure: null });
    // Every stream open and answered once before the signal (the long poll went on this connection
    // before the member's join, which the server has answered).
    const answered = () => ({ watch: watched.length > 0, reflection: reflectionAnswered, subscription: consumedCount > 0, producer: acknowledgedCount > 0 });
    await eventually(() => expect(answered()).toEqual({ watch: true, reflection: true, subscription: true, producer: true }) ?? true, {
      what: 'the health watch, reflection, subscription and producer to answer',
    });
    const exit = await server.stop('SIGTERM');
    expect(exit.code).toBe(0);
    expect(existsSync(join(dir.path, '@clean-shutdown'))).toBe(true);

    expect((await watchEnd).code).toBe(grpc.status.UNAVAILABLE);
    expect(watched).toEqual(['SERVING', 'NOT_SERVING']);
    expect((await reflectionEnd).code).toBe(grpc.status.UNAVAILABLE);
    expect((await longPoll)?.code).toBe(grpc.status.UNAVAILABLE);
    // Not OK, which would say the server meant to end the membership: it is going away (retriable).
    const memberStatus = await memberEnd;
    expect(memberStatus.code).toBe(grpc.status.UNAVAILABLE);
    expect(memberStatus.metadata.get(ERROR_CODE_METADATA_KEY)).toEqual(['SHUTTING_DOWN']);
    health.close();
    reflection.close();

    const subscriptionError = await subscription;
    expect(subscriptionError).toBeInstanceOf(StrataClientError);
    expect((subscriptionError as StrataClientError).grpcStatus).toBe(14);

    const settled = await Promise.all(outcomes);
    await producer.close().catch(() => undefined);
    client.close();
    const acknowledged = settled.filter((o) => 'metadata' in o);
    expect(acknowledged.length).toBeGreaterThan(0);

    // Everything acknowledged is there after the restart, at the offset the acknowledgement named.
    server = await startServerProcess(dir.path);
    const again = new StrataClient({ address: server.address });
    try {
      const byPartitionOffset = new Map<string, string>();
      const description = await again.admin.describeTopic('orders');
      const total = description.partitions.reduce((n, p) => n + p.logEndOffset, 0);
      const controller = new AbortController();
      let count = 0;
      if (total > 0) {
        for await (const record of again.consume('orders', { from: 'earliest', signal: controller.signal })) {
          byPartitionOffset.set(`${record.partition}/${record.offset}`, record.value!.toString());
          if (++count === total) break;
        }
      }
      for (const outcome of acknowledged) {
        const { metadata } = outcome as { i: number; metadata: { partition: number; offset: number } };
        expect(byPartitionOffset.get(`${metadata.partition}/${metadata.offset}`)).toBe(`v${outcome.i}`);
      }
    } finally {
      again.close();
    }
  }, 60_000);
});
