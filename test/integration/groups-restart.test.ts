import { afterAll, describe, expect, it } from 'vitest';
import { call } from '../../src/client/admin.js';
import type { ConsumedRecord } from '../../src/client/consume.js';
import { StrataClient } from '../../src/client/strata-client.js';
import { silentLogger } from '../../src/core/logger.js';
import { startServer, type RunningServer } from '../../src/server/bootstrap.js';
import { resolveServerConfig } from '../../src/server/server-config.js';
import { eventually } from '../helpers/eventually.js';
import { makeTempDir } from '../helpers/temp-dir.js';

// A session well above a restart's length on a loaded machine: only the stream grace is under test
// (a restart longer than the session rightly makes the member let its partitions go).
const GROUPS = { initialRebalanceDelayMs: 50, rebalanceDelayMs: 50, heartbeatIntervalMs: 200, sessionTimeoutMs: 10_000 };

describe('a group member across a restart of its server', () => {
  const dirs: Array<{ path: string; remove: () => Promise<void> }> = [];
  let server: RunningServer | undefined;
  afterAll(async () => {
    await server?.close();
    for (const dir of dirs) await dir.remove();
  });

  for (const downMs of [0, 1_500]) {
  it(`goes on after its heartbeat stream ends with UNAVAILABLE at shutdown: it reconnects, rejoins and reads what comes next (server away ${downMs} ms)`, async () => {
    const dir = await makeTempDir();
    dirs.push(dir);
    const start = (port: number) => startServer(resolveServerConfig({ dataDir: dir.path, port, httpPort: 0, groups: GROUPS }), silentLogger);
    server = await start(0);
    const port = server.port;
    const client = new StrataClient({ address: `127.0.0.1:${port}` });
    const produce = async (label: string) => {
      const producer = client.producer();
      await producer.sendBatch(`jobs-${downMs}`, Array.from({ length: 10 }, (_, i) => ({ value: `${label}${i}`, partition: i % 2 })));
      await producer.close();
    };
    const lost: number[] = [];
    // The server's stream grace does not apply across its restart (its coordinator is gone): however
    // long the server is away, the member keeps its partitions rather than losing them.
    const consumer = client.consumer({ groupId: `survivors-${downMs}`, topics: [`jobs-${downMs}`], fromBeginning: true, onLost: (ps) => void lost.push(...ps.map((tp) => tp.partition)) });
    try {
      await client.admin.createTopic(`jobs-${downMs}`, { partitions: 2 });
      await produce('before-');
      const records = consumer[Symbol.asyncIterator]();
      const next = async (): Promise<ConsumedRecord> => (await records.next()).value as ConsumedRecord;
      const before: string[] = [];
      while (before.length < 10) before.push((await next()).value!.toString());
      await consumer.commit();

      // Every stream of the server ends with UNAVAILABLE (SHUTTING_DOWN); the same address comes back.
      await server.close();
      // Not a race guard: the outage under test.
      await new Promise((resolve) => setTimeout(resolve, downMs));
      server = await start(port);
      await produce('after-');
      const after: string[] = [];
      while (after.length < 10) after.push((await next()).value!.toString());
      expect(after.sort()).toEqual(Array.from({ length: 10 }, (_, i) => `after-${i}`).sort());
      // The new server did not know the member: it joined again (under a new member id) with both
      // partitions, which it kept reading meanwhile.
      const describe = () => call(client.stubs.admin.describeGroup.bind(client.stubs.admin), { groupId: `survivors-${downMs}` });
      await eventually(
        async () => {
          const { members } = await describe();
          return members.length === 1 && members[0]!.assignment.flatMap((a) => a.partitions).length === 2;
        },
        { what: 'the member in describe, rejoined with both partitions', intervalMs: 100 },
      );
      expect((await describe()).members.map((m) => m.memberId)).toEqual([consumer.currentMemberId]);
      expect(consumer.assignment()).toHaveLength(2);
      expect(lost).toEqual([]);
    } finally {
      await consumer.close();
      client.close();
      await server?.close();
    }
  }, 60_000);
  }
});
