import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call } from '../../src/client/admin.js';
import { StrataClient } from '../../src/client/strata-client.js';
import { eventually } from '../helpers/eventually.js';
import { STRATA_BIN, startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const TOPIC = 'work';
const PARTITIONS = 12;
const RECORDS = 6_000;
/** Long enough for a consumer process to restart on a loaded 2-core machine (the static member test). */
const SESSION_TIMEOUT_MS = 6_000;
const GROUP_CONFIG = { groups: { sessionTimeoutMs: SESSION_TIMEOUT_MS, heartbeatIntervalMs: 300, initialRebalanceDelayMs: 300, rebalanceDelayMs: 100, revocationTimeoutMs: 5_000 } };

interface Consumer {
  child: ChildProcess;
  lines: () => Array<{ partition: number; offset: number; value: string }>;
  exited: Promise<number | null>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a consumer group of real processes', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let server: ServerProcess;
  const consumers: Consumer[] = [];
  beforeAll(async () => {
    dir = await makeTempDir();
    await writeFile(join(dir.path, 'server.json'), JSON.stringify(GROUP_CONFIG));
    server = await startServerProcess(join(dir.path, 'data'), ['--config', join(dir.path, 'server.json'), '--log-level', 'info']);
  });
  afterAll(async () => {
    for (const c of consumers) c.child.kill('SIGKILL');
    await server?.stop('SIGKILL');
    await dir.remove();
  });

  function startConsumer(instanceId?: string): Consumer {
    const args = [STRATA_BIN, 'consume', TOPIC, '--group', 'g', '--from-beginning', '--json', ...(instanceId ? ['--instance-id', instanceId] : [])];
    const child = spawn(process.execPath, args, { env: { ...process.env, STRATA_SERVER: server.address }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr!.on('data', () => undefined);
    const consumer: Consumer = {
      child,
      lines: () => out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { partition: number; offset: number; value: string }),
      exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))),
    };
    consumers.push(consumer);
    return consumer;
  }

  async function describeGroup(client: StrataClient) {
    return call(client.stubs.admin.describeGroup.bind(client.stubs.admin), { groupId: 'g' });
  }

  // A condition that throws is not there yet (the group does not exist before its first member).
  const waitFor = (what: string, condition: () => Promise<boolean>, timeoutMs: number) => eventually(condition, { what, timeoutMs, intervalMs: 100 });

  it('moves a killed member’s partitions within the session timeout, loses nothing, and keeps offsets across a restart', async () => {
    const client = new StrataClient({ address: server.address });
    try {
      await client.admin.createTopic(TOPIC, { partitions: PARTITIONS });
      const a = startConsumer();
      const b = startConsumer();
      const s = startConsumer('static-1');
      const assignedCount = (d: Awaited<ReturnType<typeof describeGroup>>) => d.members.reduce((n, m) => n + m.assignment.reduce((k, t) => k + t.partitions.length, 0), 0);
      await waitFor('3 members sharing 12 partitions', async () => {
        const d = await describeGroup(client);
        return d.members.length === 3 && assignedCount(d) === PARTITIONS;
      }, 20_000);

      // A producer writes all the while.
      const producer = client.producer({ lingerMs: 2 });
      const producing = (async () => {
        for (let i = 0; i < RECORDS; i++) {
          void producer.send(TOPIC, { key: `k${i % 300}`, value: `v${i}` });
          // Pace, not a race guard: the records are written all through the kill and the restart.
          if (i % 500 === 0) await sleep(100);
        }
        await producer.flush();
      })();

      // SIGKILL one member while it consumes: its partitions move once the server notices its stream broke.
      await waitFor('the member to be killed consuming', async () => b.lines().length > 0, 20_000);
      const before = await describeGroup(client);
      b.child.kill('SIGKILL');
      const killedAt = Date.now();
      await waitFor('the killed member removed and its partitions reassigned', async () => {
        const d = await describeGroup(client);
        return d.members.length === 2 && d.members.some((m) => m.instanceId === 'static-1') && assignedCount(d) === PARTITIONS;
      }, SESSION_TIMEOUT_MS + 10_000);
      const survivors = new Set((await describeGroup(client)).members.map((m) => m.memberId));
      const victimId = before.members.find((m) => !survivors.has(m.memberId))!.memberId;
      // Removed because its heartbeat stream broke (a dynamic member), after the server's grace,
      // not the session timeout (test/integration/group-failover.test.ts bounds the time).
      const removal = server.stderr().split('\n').find((l) => l.includes(victimId) && l.includes('member removed'));
      expect(removal).toMatch(/"reason":"stream-lost"/);
      expect(Date.now() - killedAt).toBeLessThan(SESSION_TIMEOUT_MS + 10_000);

      // The static member restarts within the session timeout: the same partitions, nobody moves.
      const beforeRestart = await describeGroup(client);
      const ownedBy = (d: typeof beforeRestart, predicate: (m: (typeof d.members)[number]) => boolean) => JSON.stringify(d.members.filter(predicate).map((m) => m.assignment));
      s.child.kill('SIGKILL');
      // Gone before its successor starts: two live processes with one instance id would fence each other.
      await s.exited;
      const s2 = startConsumer('static-1');
      // Back = a new member id for the instance, holding partitions again (right after its join it
      // holds none until its first heartbeat answer; under load that moment can be seen).
      await waitFor('the static member back', async () => {
        const d = await describeGroup(client);
        const isRejoined = d.members.some((m) => m.instanceId === 'static-1' && m.memberId !== beforeRestart.members.find((x) => x.instanceId === 'static-1')!.memberId);
        return isRejoined && ownedBy(d, (m) => m.instanceId === 'static-1') !== '[[]]';
      }, 10_000);
      // A restart slower than the session timeout is a different story (the member was removed):
      // say so plainly instead of failing on the partitions.
      const oldStaticId = beforeRestart.members.find((x) => x.instanceId === 'static-1')!.memberId;
      const oldStaticRemoval = server.stderr().split('\n').find((l) => l.includes(oldStaticId) && l.includes('member removed'));
      expect(oldStaticRemoval ?? 'not removed', 'the restarted static member came back within the session timeout').not.toMatch(/session-timeout/);
      const afterRestart = await describeGroup(client);
      expect(ownedBy(afterRestart, (m) => m.instanceId === 'static-1')).toBe(ownedBy(beforeRestart, (m) => m.instanceId === 'static-1'));
      expect(ownedBy(afterRestart, (m) => !m.instanceId)).toBe(ownedBy(beforeRestart, (m) => !m.instanceId));
      expect(afterRestart.groupEpoch).toBe(beforeRestart.groupEpoch);

      await producing;
      await producer.close();
      // Everything gets consumed and committed by the survivors.
      await waitFor('every record committed', async () => {
        const d = await describeGroup(client);
        return d.lag.every((l) => l.lagRecords === 0 && l.committedOffset === l.logEndOffset) && d.lag.reduce((n, l) => n + l.logEndOffset, 0) === RECORDS;
      }, 30_000);
      a.child.kill('SIGTERM');
      s2.child.kill('SIGTERM');
      expect(await a.exited).toBe(0);
      expect(await s2.exited).toBe(0);

      // No record lost; duplicates only where a killed member had an uncommitted window.
      const seen = new Map<string, number>();
      for (const c of consumers) for (const r of c.lines()) seen.set(`${r.partition}/${r.offset}`, (seen.get(`${r.partition}/${r.offset}`) ?? 0) + 1);
      const committed = await describeGroup(client);
      for (const l of committed.lag) for (let o = 0; o < l.logEndOffset; o++) expect(seen.has(`${l.partition}/${o}`), `${l.partition}/${o} lost`).toBe(true);
      const killedPartitions = new Set<number>([
        ...before.members.filter((m) => m.memberId === victimId).flatMap((m) => m.assignment.flatMap((t) => t.partitions)),
        ...beforeRestart.members.filter((m) => m.instanceId === 'static-1').flatMap((m) => m.assignment.flatMap((t) => t.partitions)),
      ]);
      for (const [k, n] of seen) if (n > 1) expect(killedPartitions.has(Number(k.split('/')[0])), `duplicate ${k} outside a killed member's partitions`).toBe(true);

      // A server restart keeps the committed offsets.
      expect((await server.stop('SIGTERM')).code).toBe(0);
      server = await startServerProcess(join(dir.path, 'data'), ['--config', join(dir.path, 'server.json')]);
    } finally {
      client.close();
    }
    const again = new StrataClient({ address: server.address });
    try {
      const d = await describeGroup(again);
      expect(d.lag.map((l) => l.committedOffset).reduce((a, b) => a + b, 0)).toBe(RECORDS);
    } finally {
      again.close();
    }
  }, 120_000);
});
