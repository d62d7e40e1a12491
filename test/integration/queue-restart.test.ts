import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { StrataClient } from '../../src/client/strata-client.js';
import type { QueueServiceClient } from '../../src/generated/strata/v1/QueueService.js';
import { ack, rawQueueClient, RawQueueSession, rawUnary, type RawDelivered } from '../helpers/raw-queue-session.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { makeTempDir } from '../helpers/temp-dir.js';

/**
 * After SIGKILL the records come back when their locks run out: long enough to outlast a restart's
 * start-up on a loaded machine, short enough to wait for. After SIGTERM they must come back without
 * waiting for the lock (their member's stream ended at the shutdown, which released them): a lock
 * longer than the test's timeout shows it.
 */
const LOCK_MS = { SIGKILL: 4_000, SIGTERM: 120_000 };
const RECORDS = 20;

const key = (r: Pick<RawDelivered, 'partition' | 'offset'>) => `${r.partition}/${r.offset}`;

describe('queue groups across a restart of the server process, records in flight', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  const start = async (dataDir: string) => {
    const server = await startServerProcess(dataDir);
    cleanups.push(() => void server.stop('SIGKILL'));
    const queue = rawQueueClient(server.address);
    cleanups.push(() => queue.close());
    return { server, queue };
  };
  const member = (queue: QueueServiceClient) => {
    const session = new RawQueueSession(queue);
    cleanups.push(() => session.close());
    return session;
  };

  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    it(`never delivers an acknowledged record again after ${signal}, and delivers every unacknowledged one again`, async () => {
      const dir = await makeTempDir();
      cleanups.push(() => dir.remove());
      let { server, queue } = await start(dir.path);
      const client = new StrataClient({ address: server.address });
      await client.admin.createTopic('jobs', { partitions: 2 });
      const producer = client.producer();
      await producer.sendBatch('jobs', Array.from({ length: RECORDS }, (_, i) => ({ value: `job-${i}`, partition: i % 2 })));
      await producer.close();
      client.close();

      const before = member(queue);
      await before.join({ groupId: 'restart', topics: ['jobs'], inFlightLimit: RECORDS, config: { lockDurationMs: LOCK_MS[signal], backoffBaseMs: 10, backoffMaxMs: 50 } });
      const delivered = await before.waitForDeliveries(RECORDS);
      const sorted = [...delivered].sort((a, b) => a.partition - b.partition || a.offset - b.offset);
      // Every other record acknowledged (the answer is the promise: durable before it is sent).
      const acked = sorted.filter((_, i) => i % 2 === 0);
      const unacked = sorted.filter((_, i) => i % 2 === 1);
      const results = await before.answer(acked.map(ack));
      expect(results.results.every((r) => r.failure === null)).toBe(true);
      const lockDeadlineMs = Math.min(...unacked.map((r) => r.lockDeadlineMs));

      const stopped = await server.stop(signal);
      expect(signal === 'SIGTERM' ? stopped.code : stopped.signal).toBe(signal === 'SIGTERM' ? 0 : 'SIGKILL');
      const ended = await before.waitForEnd();
      // A clean shutdown says so (UNAVAILABLE, SHUTTING_DOWN); a killed server just drops the connection.
      expect(ended.status).toBe(grpc.status.UNAVAILABLE);
      if (signal === 'SIGTERM') expect(ended.code).toBe('SHUTTING_DOWN');

      ({ server, queue } = await start(dir.path));
      const after = member(queue);
      await after.join({ groupId: 'restart', topics: ['jobs'], inFlightLimit: RECORDS });
      const described = await rawUnary(queue.describeQueueGroup.bind(queue), { groupId: 'restart' });
      // The acknowledged half is done in the restored state; the config came back with the group.
      expect(Number(described.total!.depth)).toBe(unacked.length);
      expect(described.config!.lockDurationMs).toBe(LOCK_MS[signal]);

      const again = await after.waitForDeliveries(unacked.length, LOCK_MS.SIGKILL + 20_000);
      expect(again.map(key).sort()).toEqual(unacked.map(key).sort());
      // Their first delivery was recorded before it was sent: this is the second.
      expect(again.map((r) => r.deliveryCount)).toEqual(unacked.map(() => 2));
      if (signal === 'SIGKILL') {
        // A lock held at the crash runs to its recorded deadline (same machine, same clock).
        expect(Math.min(...again.map((r) => r.lockDeadlineMs))).toBeGreaterThanOrEqual(lockDeadlineMs + LOCK_MS.SIGKILL);
      } else {
        // Released at the shutdown: handed out again long before the old locks would have run out.
        expect(Math.max(...again.map((r) => r.lockDeadlineMs))).toBeLessThan(lockDeadlineMs + LOCK_MS.SIGTERM);
      }
      expect((await after.answer(again.map(ack))).results.every((r) => r.failure === null)).toBe(true);
      const done = await rawUnary(queue.describeQueueGroup.bind(queue), { groupId: 'restart' });
      expect(Number(done.total!.depth)).toBe(0);
      expect(done.partitions.map((p) => Number(p.startOffset))).toEqual([RECORDS / 2, RECORDS / 2]);
      // Nothing else came: every record was delivered to `after` exactly once, none of the acked ones.
      expect(after.delivered).toHaveLength(unacked.length);
    }, 90_000);
  }
});
