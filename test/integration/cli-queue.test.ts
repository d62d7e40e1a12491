import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { QueueGroupDescription } from '../../src/client/admin.js';
import { useCliServer } from '../helpers/cli-server.js';
import { STRATA_BIN } from '../helpers/server-process.js';

const run = promisify(execFile);

describe('strata queue and strata dlq against a real server', () => {
  const cli = useCliServer();
  const { strata } = cli;

  const describeGroup = async (group: string) => JSON.parse((await strata('queue', 'describe', group, '--json')).stdout) as QueueGroupDescription;
  const consume = async (...args: string[]) =>
    (await strata('queue', 'consume', 'tasks', '--group', 'workers', '--json', ...args)).stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { offset: number; value: string; deliveryCount: number; lockDeadlineMs: number });

  it('consumes with each ack mode, describes the depth, and inspects and redrives what was rejected', async () => {
    await strata('topics', 'create', 'tasks', '--partitions', '1');
    await strata('produce', 'tasks', '--value', 'v0');
    await run('sh', ['-c', `printf 'v1\\nv2\\nv3\\nv4\\nv5\\nv6\\nv7\\nv8\\nv9\\n' | ${process.execPath} ${STRATA_BIN} produce tasks`], { env: { ...process.env, STRATA_SERVER: cli.server.address } });

    // --ack-mode none holds what it printed until it leaves; then the server releases it: nothing is done.
    const peeked = await strata('queue', 'consume', 'tasks', '--group', 'peek', '--ack-mode', 'none', '--max-messages', '2');
    expect(peeked.stdout).toBe('v0\nv1\n');
    expect((await describeGroup('peek')).total).toMatchObject({ depth: 10, inFlight: 0 });

    const acked = await consume('--max-messages', '4');
    expect(acked.map((m) => [m.offset, m.value, m.deliveryCount])).toEqual([
      [0, 'v0', 1],
      [1, 'v1', 1],
      [2, 'v2', 1],
      [3, 'v3', 1],
    ]);
    expect(acked[0]!.lockDeadlineMs).toBeGreaterThan(Date.now());
    let described = await describeGroup('workers');
    expect(described.members).toEqual([]); // the CLI left
    expect(described.partitions[0]).toMatchObject({ topic: 'tasks', partition: 0, startOffset: 4, highWatermark: 10, deadLetterTopic: 'tasks.dlq' });
    expect(described.total).toMatchObject({ depth: 6, inFlight: 0, deadLettered: 0 });

    // A long backoff, so a released record waits while the test looks.
    expect((await strata('queue', 'config', 'workers', '--set', 'backoff.base.ms=200000', '--set', 'max.delivery.attempts=3')).stdout).toMatch(/at most 3 deliveries, backoff 200000 ms/);
    // Each run holds no more than it prints and leaves with its answers (`leaving`): no record beyond
    // those it printed is handed to it, so none other waits or has a delivery attempt spent.
    expect((await consume('--ack-mode', 'release', '--max-messages', '1')).map((m) => m.offset)).toEqual([4]);
    described = await describeGroup('workers');
    expect(described.config).toMatchObject({ backoffBaseMs: 200_000, maxDeliveryAttempts: 3 });
    expect(described.total).toMatchObject({ depth: 6, inFlight: 0, waitingForRetry: 1, redeliveries: 0 });

    const rejected = (await consume('--ack-mode', 'reject', '--max-messages', '2')).map((m) => m.offset);
    expect(rejected).toEqual([5, 6]); // 4 waits for its retry
    described = await describeGroup('workers');
    expect(described.total).toMatchObject({ depth: 4, inFlight: 0, deadLettered: 2, deadLetterDepth: 2 });
    const table = (await strata('queue', 'describe', 'workers')).stdout;
    expect(table).toMatch(/queue group workers: 0 members; lock 30000 ms, at most 3 deliveries/);
    expect(table).toMatch(/│ total/);
    expect(table).toMatch(/tasks\.dlq/);
    expect(JSON.parse((await strata('queue', 'list', '--json')).stdout)).toEqual(
      expect.arrayContaining([expect.objectContaining({ groupId: 'peek', memberCount: 0, topics: ['tasks'] }), expect.objectContaining({ groupId: 'workers', memberCount: 0, topics: ['tasks'] })]),
    );

    expect(JSON.parse((await strata('dlq', 'list', 'tasks', '--json')).stdout)).toEqual([{ topic: 'tasks.dlq', sourceTopic: 'tasks', partitions: 1, records: 2, queueGroups: ['peek', 'workers'] }]);
    const inspected = (await strata('dlq', 'inspect', 'tasks.dlq', '--json')).stdout.trim().split('\n').map((line) => JSON.parse(line) as { value: string; deadLetter: Record<string, unknown> });
    expect(inspected.map((r) => [r.value, r.deadLetter])).toEqual(
      rejected.map((offset) => [`v${offset}`, expect.objectContaining({ sourceTopic: 'tasks', sourcePartition: 0, sourceOffset: offset, group: 'workers', cause: 'rejected', error: 'rejected by strata queue consume' })]),
    );

    expect((await strata('dlq', 'redrive', 'tasks.dlq')).stdout).toMatch(/dry run: would append 2 records/);
    expect((await describeGroup('workers')).partitions[0]!.highWatermark).toBe(10);
    expect((await strata('dlq', 'redrive', 'tasks.dlq', '--execute')).stdout).toMatch(/appended 2 records to their source topics/);
    described = await describeGroup('workers');
    expect(described.partitions[0]!.highWatermark).toBe(12);
    expect(described.total.depth).toBe(6);
    // The redriven records are new records of the source topic, handed out like any other.
    expect((await consume('--max-messages', '5')).map((m) => [m.offset, m.value, m.deliveryCount])).toEqual([
      [7, 'v7', 1],
      [8, 'v8', 1],
      [9, 'v9', 1],
      [10, 'v5', 1],
      [11, 'v6', 1],
    ]);

    const plan = JSON.parse((await strata('queue', 'reset', 'workers', '--topic', 'tasks', '--to-earliest', '--json')).stdout) as { changes: Array<{ newStartOffset: number }>; executed: boolean };
    expect(plan).toMatchObject({ executed: false, changes: [{ topic: 'tasks', partition: 0, newStartOffset: 0 }] });
    expect((await strata('queue', 'reset', 'workers', '--topic', 'tasks', '--to-latest')).stdout).toMatch(/dry run: nothing changed/);
    expect((await describeGroup('workers')).total).toMatchObject({ depth: 1, waitingForRetry: 1 }); // 4
    expect((await strata('queue', 'reset', 'workers', '--topic', 'tasks', '--to-latest', '--execute')).stdout).toMatch(/start offsets reset/);
    described = await describeGroup('workers');
    expect(described.partitions[0]).toMatchObject({ startOffset: 12 });
    expect(described.total.depth).toBe(0);

    expect((await strata('queue', 'delete', 'workers')).stdout).toMatch(/deleted queue group workers/);
    await expect(strata('queue', 'describe', 'workers')).rejects.toMatchObject({ code: 1, stderr: expect.stringMatching(/QUEUE_GROUP_NOT_FOUND/) });
    // About 20 CLI processes of a second or so each on a loaded 2-core machine.
  }, 180_000);

  it('prints --max-messages beyond its in-flight limit without waiting for its answers\' linger: each window is answered as it goes', async () => {
    await strata('topics', 'create', 'jobs', '--partitions', '1');
    await run('sh', ['-c', `printf 'j0\\nj1\\nj2\\nj3\\nj4\\n' | ${process.execPath} ${STRATA_BIN} produce jobs`], { env: { ...process.env, STRATA_SERVER: cli.server.address } });
    // Held answers would hold the server's deliveries: 2 at a time, 5 in all. The exec's own timeout
    // (30 s) is below the 60 s the answers lingered, so a stall fails the run.
    const started = Date.now();
    const printed = await strata('queue', 'consume', 'jobs', '--group', 'batch', '--in-flight', '2', '--max-messages', '5');
    expect(printed.stdout).toBe('j0\nj1\nj2\nj3\nj4\n');
    expect(Date.now() - started).toBeLessThan(30_000);
    expect((await describeGroup('batch')).total).toMatchObject({ depth: 0, inFlight: 0 });
  }, 60_000);
});
