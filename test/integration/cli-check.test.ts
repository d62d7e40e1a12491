import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StrataClient } from '../../src/client/strata-client.js';
import { useCliServer } from '../helpers/cli-server.js';
import { STRATA_BIN } from '../helpers/server-process.js';

const run = promisify(execFile);

describe('strata check against a real server', () => {
  const cli = useCliServer();
  let client: StrataClient;
  beforeAll(() => {
    client = new StrataClient({ address: cli.server.address });
  });
  afterAll(() => client?.close());

  /** Runs `strata check ...`: its exit code and output, whatever the code. */
  const check = async (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => {
    try {
      const { stdout, stderr } = await cli.strata('check', ...args);
      return { code: 0, stdout, stderr };
    } catch (error) {
      const failed = error as { code?: unknown; stdout: string; stderr: string };
      if (typeof failed.code !== 'number') throw error;
      return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
    }
  };

  it('exits 0 with one OK line when nothing is past a threshold', async () => {
    const result = await check('--max-lag-records', '100', '--max-lag-seconds', '60', '--max-dlq', '0');
    expect(result).toMatchObject({ code: 0, stdout: expect.stringMatching(/^OK 0 consumer groups, 0 queue groups, 0 dead-letter topics, \d+ partitions\n$/) });
  });

  it('reads group lag: warning past --warn-ratio of the maximum, critical past it; partitions without a commit have no lag', async () => {
    await client.admin.createTopic('orders', { partitions: 2 });
    const producer = client.producer({ acks: 'durable' });
    // Ten minutes old, so the lag in time is about 600 s.
    const timestampMs = Date.now() - 600_000;
    for (let i = 0; i < 10; i++) await producer.send('orders', { value: `v${i}`, partition: 0, timestampMs });
    for (let i = 0; i < 50; i++) await producer.send('orders', { value: `w${i}`, partition: 1, timestampMs });
    await producer.close();
    // billing committed offset 2 on partition 0: 8 records behind there; nothing committed on partition 1.
    await client.admin.resetOffsets('billing', { topic: 'orders', to: { offset: 2 }, partitions: [0], execute: true });

    expect(await check('--max-lag-records', '10')).toMatchObject({ code: 0 }); // 8 is not above 0.8 x 10
    const warning = await check('--max-lag-records', '9');
    expect(warning.code).toBe(1);
    expect(warning.stdout).toBe('WARNING group billing orders/0: lag 8 records (max 9, warning above 7.2)\n');
    const critical = await check('--max-lag-records', '5', '--max-lag-seconds', '3600');
    expect(critical.code).toBe(2);
    expect(critical.stdout).toBe('CRITICAL group billing orders/0: lag 8 records (max 5)\n');
    expect(await check('--max-lag-records', '9', '--warn-ratio', '0.9')).toMatchObject({ code: 0 });

    const old = await check('--max-lag-seconds', '300');
    expect(old.code).toBe(2);
    expect(old.stdout).toMatch(/^CRITICAL group billing orders\/0: lag 6\d\d(\.\d+)? s \(max 300\)\n$/);
  });

  it('counts dead letters against --max-dlq, and --group narrows the check to one group and what it reads', async () => {
    await client.admin.createTopic('orders.dlq', { partitions: 1 });
    const producer = client.producer({ acks: 'durable' });
    await producer.send('orders.dlq', { value: 'dead' });
    await client.admin.createTopic('mail', { partitions: 1 });
    await client.admin.createTopic('mail.dlq', { partitions: 1 });
    for (let i = 0; i < 3; i++) await producer.send('mail.dlq', { value: 'dead' });
    await producer.close();

    const all = await check('--max-dlq', '0');
    expect(all.code).toBe(2);
    expect(all.stdout.trim().split('\n')).toEqual([
      'CRITICAL dead-letter topic mail.dlq: 3 records (max 0): strata dlq inspect mail.dlq',
      'CRITICAL dead-letter topic orders.dlq: 1 records (max 0): strata dlq inspect orders.dlq',
    ]);
    expect(await check('--max-dlq', '5')).toMatchObject({ code: 0 });
    // billing reads orders: mail.dlq is not its concern.
    const billing = await check('--max-dlq', '0', '--group', 'billing', '--json');
    expect(billing.code).toBe(2);
    expect(JSON.parse(billing.stdout)).toEqual({
      status: 'critical',
      findings: [{ severity: 'critical', subject: 'dead-letter topic orders.dlq', message: '1 records (max 0): strata dlq inspect orders.dlq' }],
      checked: { groups: 1, queueGroups: 0, deadLetterTopics: 1, partitions: 2 },
    });
    const missing = await check('--group', 'nobody');
    expect(missing).toMatchObject({ code: 2, stdout: 'CRITICAL group nobody: not found: no consumer group or queue group of that id (strata groups list, strata queue list)\n' });
  });

  it("reads a queue group's depth and oldest unacknowledged age as its lag", async () => {
    await client.admin.createTopic('tasks', { partitions: 1 });
    const producer = client.producer({ acks: 'durable' });
    for (let i = 0; i < 4; i++) await producer.send('tasks', { value: `t${i}`, timestampMs: Date.now() - 120_000 });
    await producer.close();
    // Joining creates the group; --ack-mode none answers nothing: all 4 stay to do.
    await cli.strata('queue', 'consume', 'tasks', '--group', 'workers', '--ack-mode', 'none', '--max-messages', '1');
    // The records are 120 s old when the check starts: above 0.1 x 1000 s, far below 1000 s however slow the machine.
    const result = await check('--group', 'workers', '--max-lag-records', '3', '--max-lag-seconds', '1000', '--warn-ratio', '0.1');
    expect(result.code).toBe(2);
    const match = /^CRITICAL queue group workers tasks: depth 4 records \(max 3\)\nWARNING queue group workers tasks: oldest unacknowledged (\d+(?:\.\d+)?) s \(max 1000, warning above 100\)\n$/.exec(result.stdout);
    expect(match, result.stdout).not.toBeNull();
    expect(Number(match![1])).toBeGreaterThanOrEqual(120);
  });

  it('says a server it cannot reach is critical (exit 2), and so is a usage error', async () => {
    const unreachable = await run(process.execPath, [STRATA_BIN, '--server', '127.0.0.1:1', 'check', '--max-dlq', '0', '--timeout-ms', '5000']).then(
      () => ({ code: 0, stdout: '' }),
      (error: { code: number; stdout: string }) => error,
    );
    expect(unreachable.code).toBe(2);
    expect(unreachable.stdout).toMatch(/^CRITICAL server 127\.0\.0\.1:1: unreachable: connect ECONNREFUSED 127\.0\.0\.1:1\n$/);
    expect(await check('--max-lag-records', 'ten')).toMatchObject({ code: 2, stderr: expect.stringContaining('--max-lag-records must be an integer') });
  });
});
