import { afterAll, describe, expect, it } from 'vitest';
import { call } from '../../src/client/admin.js';
import type { ConsumedRecord } from '../../src/client/consume.js';
import { StrataClient } from '../../src/client/strata-client.js';
import { silentLogger } from '../../src/core/logger.js';
import { startServer, type RunningServer } from '../../src/server/bootstrap.js';
import { resolveServerConfig } from '../../src/server/server-config.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const GROUPS = { initialRebalanceDelayMs: 50, rebalanceDelayMs: 50, heartbeatIntervalMs: 200, sessionTimeoutMs: 3_000 };

describe('a group member across a restart of its server', () => {
  let dir: { path: string; remove: () => Promise<void> } | undefined;
  let server: RunningServer | undefined;
  afterAll(async () => {
    await server?.close();
    await dir?.remove();
  });

  it('goes on after its heartbeat stream ends with UNAVAILABLE at shutdown: it reconnects, rejoins and reads what comes next', async () => {
    dir = await makeTempDir();
    const start = (port: number) => startServer(resolveServerConfig({ dataDir: dir!.path, port, groups: GROUPS }), silentLogger);
    server = await start(0);
    const port = server.port;
    const client = new StrataClient({ address: `127.0.0.1:${port}` });
    const produce = async (label: string) => {
      const producer = client.producer();
      await producer.sendBatch('jobs', Array.from({ length: 10 }, (_, i) => ({ value: `${label}${i}`, partition: i % 2 })));
      await producer.close();
    };
    const consumer = client.consumer({ groupId: 'survivors', topics: ['jobs'], fromBeginning: true });
    try {
      await client.admin.createTopic('jobs', { partitions: 2 });
      await produce('before-');
      const records = consumer[Symbol.asyncIterator]();
      const next = async (): Promise<ConsumedRecord> => (await records.next()).value as ConsumedRecord;
      const before: string[] = [];
      while (before.length < 10) before.push((await next()).value!.toString());
      await consumer.commit();

      // Every stream of the server ends with UNAVAILABLE (SHUTTING_DOWN); the same address comes back.
      await server.close();
      server = await start(port);
      await produce('after-');
      const after: string[] = [];
      while (after.length < 10) after.push((await next()).value!.toString());
      expect(after.sort()).toEqual(Array.from({ length: 10 }, (_, i) => `after-${i}`).sort());
      // The new server did not know the member: it joined again (under a new member id) with both
      // partitions, which it kept reading meanwhile.
      const describe = () => call(client.stubs.admin.describeGroup.bind(client.stubs.admin), { groupId: 'survivors' });
      for (let waitedMs = 0; ; waitedMs += 100) {
        const { members } = await describe().catch(() => ({ members: [] }));
        if (members.length === 1 && members[0]!.assignment.flatMap((a) => a.partitions).length === 2) break;
        expect(waitedMs, 'the member rejoins with both partitions').toBeLessThan(10_000);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect((await describe()).members.map((m) => m.memberId)).toEqual([consumer.currentMemberId]);
      expect(consumer.assignment()).toHaveLength(2);
    } finally {
      await consumer.close();
      client.close();
    }
  }, 60_000);
});
