import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { call } from '../../src/client/admin.js';
import { StrataClient } from '../../src/client/strata-client.js';
import { eventually } from '../helpers/eventually.js';
import { STRATA_BIN, startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { makeTempDir } from '../helpers/temp-dir.js';

/**
 * Issue 13, the server's side with real processes: a SIGKILLed dynamic member's partitions move
 * within the stream grace plus a rebalance window, far below the session timeout; a second process
 * with a live member's instance id fences it (FENCED_INSTANCE_ID) and the duplicate work stops.
 */
const PARTITIONS = 12;
/** Long on purpose: anything that waits for it cannot pass the bounds below. */
const SESSION_TIMEOUT_MS = 30_000;
const HEARTBEAT_INTERVAL_MS = 1_000;
const STREAM_LOST_GRACE_MS = 2_000;
const REBALANCE_DELAY_MS = 300;
const GROUP_CONFIG = { groups: { sessionTimeoutMs: SESSION_TIMEOUT_MS, heartbeatIntervalMs: HEARTBEAT_INTERVAL_MS, initialRebalanceDelayMs: 300, rebalanceDelayMs: REBALANCE_DELAY_MS, streamLostGraceMs: STREAM_LOST_GRACE_MS } };
/**
 * The grace, one window, and a consumer's way to its new partitions (a heartbeat answer or push, a
 * fetch), with room for a loaded 2-core machine: still a small part of the session timeout.
 */
const FAILOVER_BOUND_MS = STREAM_LOST_GRACE_MS + REBALANCE_DELAY_MS + HEARTBEAT_INTERVAL_MS + 3_000;

interface Consumer {
  child: ChildProcess;
  /** Each record printed, with when its line reached the test. */
  records: () => Array<{ partition: number; offset: number; atMs: number }>;
  stderr: () => string;
  exited: Promise<number | null>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('consumer group failover with real processes (stream loss, fenced instance ids)', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let server: ServerProcess;
  let client: StrataClient;
  let consumers: Consumer[] = [];
  let topicCount = 0;
  beforeAll(async () => {
    dir = await makeTempDir();
    await writeFile(join(dir.path, 'server.json'), JSON.stringify(GROUP_CONFIG));
    server = await startServerProcess(join(dir.path, 'data'), ['--config', join(dir.path, 'server.json'), '--log-level', 'info']);
    client = new StrataClient({ address: server.address });
  });
  afterEach(async () => {
    for (const c of consumers) c.child.kill('SIGKILL');
    await Promise.all(consumers.map((c) => c.exited));
    consumers = [];
  });
  afterAll(async () => {
    client?.close();
    await server?.stop('SIGKILL');
    await dir.remove();
  });

  function startConsumer(topic: string, group: string, instanceId?: string): Consumer {
    const args = [STRATA_BIN, 'consume', topic, '--group', group, '--from-beginning', '--json', ...(instanceId ? ['--instance-id', instanceId] : [])];
    const child = spawn(process.execPath, args, { env: { ...process.env, STRATA_SERVER: server.address }, stdio: ['ignore', 'pipe', 'pipe'] });
    const records: Array<{ partition: number; offset: number; atMs: number }> = [];
    let pending = '';
    let err = '';
    child.stdout!.on('data', (c: Buffer) => {
      const atMs = Date.now();
      const lines = (pending + c.toString()).split('\n');
      pending = lines.pop()!;
      for (const l of lines) if (l.startsWith('{')) records.push({ ...(JSON.parse(l) as { partition: number; offset: number }), atMs });
    });
    child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    const consumer: Consumer = { child, records: () => records, stderr: () => err, exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))) };
    consumers.push(consumer);
    return consumer;
  }

  const describeGroup = (groupId: string) => call(client.stubs.admin.describeGroup.bind(client.stubs.admin), { groupId });
  const assignedCount = (d: Awaited<ReturnType<typeof describeGroup>>) => d.members.reduce((n, m) => n + m.assignment.reduce((k, t) => k + t.partitions.length, 0), 0);

  // A condition that throws is not there yet (the group does not exist before its first member).
  const waitFor = (what: string, condition: () => Promise<boolean>, timeoutMs: number) => eventually(condition, { what, timeoutMs, intervalMs: 50 });

  /** A topic with a producer writing to it until the returned stop() is called. */
  async function producingTopic(): Promise<{ topic: string; stop: () => Promise<void> }> {
    const topic = `t${topicCount++}`;
    await client.admin.createTopic(topic, { partitions: PARTITIONS });
    const producer = client.producer({ lingerMs: 2 });
    let isStopped = false;
    const running = (async () => {
      for (let i = 0; !isStopped; i++) {
        void producer.send(topic, { key: `k${i % 97}`, value: `v${i}` });
        // Pace, not a race guard: records keep arriving on every partition all through the test.
        if (i % 20 === 0) await sleep(20);
      }
      await producer.flush();
      await producer.close();
    })();
    return { topic, stop: async () => { isStopped = true; await running; } };
  }

  it('moves a SIGKILLed dynamic member\'s partitions within the stream grace plus a rebalance window, not the session timeout', async () => {
    const { topic, stop } = await producingTopic();
    try {
      const members = [startConsumer(topic, 'failover'), startConsumer(topic, 'failover'), startConsumer(topic, 'failover')];
      await waitFor('3 members sharing the partitions', async () => {
        const d = await describeGroup('failover');
        return d.members.length === 3 && d.members.every((m) => m.assignment.length > 0) && assignedCount(d) === PARTITIONS;
      }, 30_000);
      const before = await describeGroup('failover');
      const victim = members[1]!;
      // Which member id is the victim's: the one whose partitions it printed.
      await waitFor('the victim consuming', async () => victim.records().length > 0, 10_000);
      const victimPartition = victim.records()[0]!.partition;
      const victimId = before.members.find((m) => m.assignment.some((a) => a.partitions.includes(victimPartition)))!.memberId;
      const orphaned = before.members.find((m) => m.memberId === victimId)!.assignment.flatMap((a) => a.partitions);

      victim.child.kill('SIGKILL');
      const killedAtMs = Date.now();
      await victim.exited;
      // Moved: the survivors hold every partition, and consume the victim's (records arrive after the kill).
      await waitFor('the victim\'s partitions held by the survivors', async () => {
        const d = await describeGroup('failover');
        return d.members.length === 2 && !d.members.some((m) => m.memberId === victimId) && assignedCount(d) === PARTITIONS;
      }, SESSION_TIMEOUT_MS);
      const movedAfterMs = Date.now() - killedAtMs;
      await waitFor('the victim\'s partitions consumed by the survivors', async () => {
        const fresh = [members[0]!, members[2]!].flatMap((c) => c.records()).filter((r) => r.atMs > killedAtMs);
        return orphaned.every((p) => fresh.some((r) => r.partition === p));
      }, SESSION_TIMEOUT_MS);
      const consumedAfterMs = Date.now() - killedAtMs;
      expect(movedAfterMs, `moved after ${movedAfterMs} ms`).toBeLessThan(FAILOVER_BOUND_MS);
      expect(consumedAfterMs, `consumed after ${consumedAfterMs} ms`).toBeLessThan(FAILOVER_BOUND_MS + 1_000);
      const removal = server.stderr().split('\n').find((l) => l.includes(victimId) && l.includes('member removed'));
      expect(removal).toMatch(/"reason":"stream-lost"/);
    } finally {
      await stop();
    }
  });

  it('fences the older of two processes with one instance id (FENCED_INSTANCE_ID): it stops within a heartbeat interval, describe shows one member', async () => {
    const { topic, stop } = await producingTopic();
    try {
      const older = startConsumer(topic, 'dup', 'worker-1');
      await waitFor('the first process consuming', async () => older.records().length > 100, 30_000);
      const first = await describeGroup('dup');
      const olderId = first.members[0]!.memberId;

      const newer = startConsumer(topic, 'dup', 'worker-1');
      let takenOverAtMs = 0;
      await waitFor('the instance id held by the newer process', async () => {
        const d = await describeGroup('dup');
        const isTakenOver = d.members.length === 1 && d.members[0]!.memberId !== olderId && d.members[0]!.instanceId === 'worker-1';
        if (isTakenOver) takenOverAtMs = Date.now();
        return isTakenOver;
      }, 30_000);
      await waitFor('the newer process consuming', async () => newer.records().some((r) => r.atMs > takenOverAtMs), 30_000);
      // The older process stops on the fatal error (it does not rejoin and fence the newer in turn).
      const code = await Promise.race([older.exited, sleep(10_000).then(() => 'still running')]);
      expect(code, older.stderr()).not.toBe('still running');
      expect(code).not.toBe(0);
      expect(older.stderr()).toMatch(/FENCED_INSTANCE_ID/);
      // Duplicate work stopped within one heartbeat interval of the takeover (seen by our poll, so late).
      const lastOlderMs = Math.max(...older.records().map((r) => r.atMs));
      expect(lastOlderMs - takenOverAtMs, 'the older process printed records this long after the takeover').toBeLessThan(HEARTBEAT_INTERVAL_MS);
      // Not a race guard: two heartbeat intervals in which the older one's exit (its stream ending)
      // must not cost the newer its membership.
      await sleep(2 * HEARTBEAT_INTERVAL_MS);
      const d = await describeGroup('dup');
      expect(d.members.map((m) => m.instanceId)).toEqual(['worker-1']);
      expect(d.members[0]!.memberId).not.toBe(olderId);
      expect(d.fencedMembers).toEqual([expect.objectContaining({ memberId: olderId, instanceId: 'worker-1', byMemberId: d.members[0]!.memberId })]);
      expect(server.stderr()).toMatch(/FENCED_INSTANCE_ID/);
      // Nothing the newer one was given went back to the older: it is the only member since.
      expect(d.members[0]!.recentRejoins).toBe(1);
    } finally {
      await stop();
    }
  });
});
