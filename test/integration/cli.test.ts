import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { eventually } from '../helpers/eventually.js';
import { useCliServer } from '../helpers/cli-server.js';
import { STRATA_BIN } from '../helpers/server-process.js';

describe('the strata CLI against a real server', () => {
  const cli = useCliServer();
  const { strata } = cli;

  /** Runs `strata produce` with text on its standard input. */
  function produceStdin(args: string[], input: string): Promise<{ code: number | null; stderr: string }> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [STRATA_BIN, ...args], { env: { ...process.env, STRATA_SERVER: cli.server.address } });
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.on('exit', (code) => resolve({ code, stderr }));
      child.stdin.end(input);
    });
  }

  it('creates, lists, describes and deletes topics, in tables and JSON', async () => {
    // --config takes key=value, comma-separated or repeated, before or after the name.
    const created = await strata('topics', 'create', '--config', 'retention.ms=60000,segment.bytes=1048576', 'orders', '--partitions', '3', '--config', 'flush=interval');
    expect(created.stdout).toMatch(/created topic orders with 3 partitions/);
    const list = JSON.parse((await strata('topics', 'list', '--json')).stdout) as Array<{ name: string; partitionCount: number }>;
    expect(list).toEqual([{ name: 'orders', partitionCount: 3 }]);
    const table = (await strata('topics', 'describe', 'orders')).stdout;
    expect(table).toMatch(/log start/);
    expect(table).toMatch(/retention\.ms \(set\)\s*│\s*60000/);
    expect(table).toMatch(/segment\.bytes \(set\)\s*│\s*1048576/);
    expect(table).toMatch(/flush \(set\)\s*│\s*interval/);
    const described = JSON.parse((await strata('topics', 'describe', 'orders', '--json')).stdout) as { partitions: Array<{ logStartOffset: number; logEndOffset: number }> };
    expect(described.partitions).toHaveLength(3);
    expect(described.partitions.every((p) => p.logStartOffset === 0 && p.logEndOffset === 0)).toBe(true);
    await strata('topics', 'create', 'scratch', '--partitions', '1');
    await strata('topics', 'delete', 'scratch');
    expect(JSON.parse((await strata('topics', 'list', '--json')).stdout)).toHaveLength(1);
  });

  it('produces with --message-id-from-key: a line whose key was produced within the window is not written again', async () => {
    await strata('topics', 'create', 'payments', '--partitions', '2', '--config', 'dedupe.window.ms=600000');
    const produced = await produceStdin(['produce', 'payments', '--key-separator', ':', '--message-id-from-key'], 'p1:10\np2:20\np1:10 again\n');
    expect(produced.code, produced.stderr).toBe(0);
    expect(produced.stderr).toMatch(/produced 3 records to payments \(1 was a duplicate, not written again\)/);
    const again = await produceStdin(['produce', 'payments', '--key-separator', ':', '--message-id-from-key'], 'p2:20\n');
    expect(again.stderr).toMatch(/1 was a duplicate/);
    const { stdout } = await strata('consume', 'payments', '--from-beginning', '--json');
    const records = stdout.trim().split('\n').map((l) => JSON.parse(l) as { key: string; value: string });
    expect(records.map((r) => `${r.key}:${r.value}`).sort()).toEqual(['p1:10', 'p2:20']);
    const keyless = await produceStdin(['produce', 'payments', '--message-id-from-key'], 'no key\n');
    expect(keyless.code).toBe(1);
    expect(keyless.stderr).toMatch(/--message-id-from-key needs a key/);
  });

  it('reports a bad command with a one-line error and exit code 1', async () => {
    await expect(strata('topics', 'create', 'bad/name', '--partitions', '1')).rejects.toMatchObject({ code: 1, stderr: expect.stringMatching(/^strata: INVALID_TOPIC_NAME: /) });
    await expect(strata('topics', 'describe', 'nope')).rejects.toMatchObject({ code: 1, stderr: expect.stringMatching(/TOPIC_NOT_FOUND/) });
    await expect(strata('consume', 'orders', '--from-beginning', '--offset', '3')).rejects.toMatchObject({ code: 1 });
  });

  it('produces stdin lines with keys and replays them from offset zero as JSON', async () => {
    const lines = Array.from({ length: 200 }, (_, i) => `user-${i % 7}:event-${i}`).join('\n') + '\n';
    const produced = await produceStdin(['produce', 'orders', '--key-separator', ':'], lines);
    expect(produced.code, produced.stderr).toBe(0);
    expect(produced.stderr).toMatch(/produced 200 records/);
    await strata('produce', 'orders', '--key', 'solo', '--value', 'single', '--partition', '2');
    const { stdout } = await strata('consume', 'orders', '--from-beginning', '--json');
    const records = stdout.trim().split('\n').map((l) => JSON.parse(l) as { partition: number; offset: number; key: string; value: string; timestamp: string; headers: unknown[]; topic: string });
    expect(records).toHaveLength(201);
    expect(records[0]).toEqual(expect.objectContaining({ topic: 'orders', headers: [] }));
    expect(Number.isNaN(Date.parse(records[0]!.timestamp))).toBe(false);
    // Per key, the events keep their order; each key stays on one partition.
    const byKey = new Map<string, { partition: number; events: number[] }>();
    for (const r of records.filter((r) => r.key !== 'solo')) {
      const entry = byKey.get(r.key) ?? { partition: r.partition, events: [] };
      expect(r.partition).toBe(entry.partition);
      entry.events.push(Number(r.value.split('-')[1]));
      byKey.set(r.key, entry);
    }
    for (const { events } of byKey.values()) expect(events).toEqual([...events].sort((a, b) => a - b));
    expect(records.find((r) => r.key === 'solo')).toMatchObject({ partition: 2, value: 'single' });
    const plain = await strata('consume', 'orders', '--from-beginning', '--partition', '2', '--max-messages', '1');
    expect(plain.stdout.trim().split('\n')).toHaveLength(1);
    const fromOffset = await strata('consume', 'orders', '--partition', '2', '--offset', '0', '--json');
    expect(fromOffset.stdout.trim().split('\n').length).toBe(records.filter((r) => r.partition === 2).length);
  });

  /** A time after every record produced so far: the clock has moved on from the last one's ms. */
  async function timeAfterTheLastRecord(): Promise<string> {
    const lastMs = Date.now();
    return eventually(() => Date.now() > lastMs && new Date().toISOString(), { what: 'the clock to pass the last record' });
  }

  it('starts from a time and follows new records', async () => {
    await strata('topics', 'create', 'timed', '--partitions', '1');
    await strata('produce', 'timed', '--value', 'before');
    const cut = await timeAfterTheLastRecord();
    await strata('produce', 'timed', '--value', 'after');
    expect((await strata('consume', 'timed', '--from-time', cut)).stdout.trim()).toBe('after');

    // A time past every record starts at the log end, and the follower prints what comes after it,
    // whether its subscription is open before the records are appended or only after.
    const liveCut = await timeAfterTheLastRecord();
    const follower = spawn(process.execPath, [STRATA_BIN, 'consume', 'timed', '--from-time', liveCut, '--follow', '--max-messages', '2'], { env: { ...process.env, STRATA_SERVER: cli.server.address } });
    let out = '';
    follower.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((resolve) => follower.on('exit', resolve));
    await strata('produce', 'timed', '--value', 'live-1');
    await strata('produce', 'timed', '--value', 'live-2');
    expect(await exited).toBe(0);
    expect(out.trim().split('\n')).toEqual(['live-1', 'live-2']);
  });

  it('consumes in a group with --max-messages: what it printed is committed, the next run goes on after it', async () => {
    await strata('topics', 'create', 'grouped', '--partitions', '1');
    for (const value of ['g0', 'g1', 'g2', 'g3', 'g4']) await strata('produce', 'grouped', '--value', value);
    const first = await strata('consume', 'grouped', '--group', 'cli-group', '--from-beginning', '--max-messages', '2');
    expect(first.stdout.trim().split('\n')).toEqual(['g0', 'g1']);
    const second = await strata('consume', 'grouped', '--group', 'cli-group', '--from-beginning', '--max-messages', '2');
    expect(second.stdout.trim().split('\n')).toEqual(['g2', 'g3']);
    // The group is empty now; describe shows per partition how long ago it was last committed.
    const table = (await strata('groups', 'describe', 'cli-group')).stdout;
    expect(table).toMatch(/since commit ms/);
    const row = table.split('\n').find((l) => l.includes('grouped'))?.split('│').map((c) => c.trim()).filter(Boolean);
    expect(row?.slice(0, 5), table).toEqual(['grouped', '0', '4', '5', '1']);
    expect(Number(row?.[6]), table).toBeGreaterThanOrEqual(0);
  }, 40_000);

  /** Starts a strata command whose stdout the test reads line by line (and may close). */
  function startCli(args: string[]) {
    const child = spawn(process.execPath, [STRATA_BIN, ...args], { env: { ...process.env, STRATA_SERVER: cli.server.address } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const waitFor = (what: string, holds: () => boolean) =>
      eventually(
        () => {
          if (!holds()) throw new Error(`stdout ${stdout.slice(0, 200)} stderr ${stderr}`);
          return true;
        },
        { what, timeoutMs: 15_000 },
      );
    return { child, exited, waitFor, stdout: () => stdout, stderr: () => stderr };
  }

  it('stops quietly when its reader goes away (| head), and a group member still leaves', async () => {
    await strata('topics', 'create', 'piped', '--partitions', '1');
    await produceStdin(['produce', 'piped'], Array.from({ length: 20_000 }, (_, i) => `line-${i}`.padEnd(200, '.')).join('\n'));
    for (const args of [['consume', 'piped', '--from-beginning'], ['consume', 'piped', '--group', 'piped-group', '--from-beginning']]) {
      const cli = startCli(args);
      // Read the first line, then close the pipe as `head -1` does.
      await cli.waitFor('the first line', () => cli.stdout().includes('\n'));
      cli.child.stdout.destroy();
      expect(await cli.exited, args.join(' ')).toBe(0);
      expect(cli.stderr()).not.toMatch(/EPIPE|Error/);
    }
    const group = JSON.parse((await strata('groups', 'describe', 'piped-group', '--json')).stdout) as { members: unknown[] };
    expect(group.members).toEqual([]);
  }, 60_000);

  it('waits, saying so, for a topic that does not exist yet, and reads it once it does', async () => {
    const cli = startCli(['consume', 'arrives-later', '--group', 'later-group', '--from-beginning', '--max-messages', '1']);
    await cli.waitFor('the CLI to say it waits for the topic', () => cli.stderr().includes('does not exist yet'));
    await strata('topics', 'create', 'arrives-later', '--partitions', '2');
    await strata('produce', 'arrives-later', '--value', 'here now');
    expect(await cli.exited).toBe(0);
    expect(cli.stdout()).toBe('here now\n');
  }, 40_000);

  it('leaves its group cleanly however many stop signals come', async () => {
    await strata('topics', 'create', 'signalled', '--partitions', '1');
    const cli = startCli(['consume', 'signalled', '--group', 'signalled-group']);
    await cli.waitFor('the member to be assigned', () => cli.stderr().includes('assigned'));
    cli.child.kill('SIGTERM');
    cli.child.kill('SIGTERM');
    cli.child.kill('SIGINT');
    expect(await cli.exited).toBe(0);
    // Left: a group with no member and no commit is no group at all.
    await expect(strata('groups', 'describe', 'signalled-group', '--json')).rejects.toMatchObject({ stderr: expect.stringMatching(/GROUP_NOT_FOUND/) });
  }, 40_000);

  it('prints records of any timestamp as JSON, and --offset reads only the partitions that reach it', async () => {
    await strata('topics', 'create', 'edges', '--partitions', '3');
    for (const value of ['e0', 'e1', 'e2', 'e3', 'e4']) await strata('produce', 'edges', '--partition', '0', '--value', value);
    const fromThree = await strata('consume', 'edges', '--offset', '3');
    expect(fromThree.stdout.trim().split('\n')).toEqual(['e3', 'e4']);
    // A producer may stamp any safe integer of ms; a Date cannot show one this far out.
    await strata('topics', 'create', 'far-future', '--partitions', '1');
    const { StrataClient } = await import('../../src/client/strata-client.js');
    const client = new StrataClient({ address: cli.server.address });
    const producer = client.producer();
    await producer.send('far-future', { value: 'later', timestampMs: 9_000_000_000_000_000 });
    await producer.send('far-future', { value: 'now' });
    await strata('topics', 'create', 'binary', '--partitions', '1');
    await producer.send('binary', { key: Buffer.from([0xff, 0x00, 0x80]), value: Buffer.from([0xfe, 0x01]) });
    await producer.close();
    client.close();
    // Bytes that are not UTF-8 print losslessly with --encoding base64 (or hex).
    const binary = JSON.parse((await strata('consume', 'binary', '--from-beginning', '--json', '--encoding', 'base64')).stdout) as { key: string; value: string };
    expect([Buffer.from(binary.key, 'base64'), Buffer.from(binary.value, 'base64')]).toEqual([Buffer.from([0xff, 0x00, 0x80]), Buffer.from([0xfe, 0x01])]);
    expect((await strata('consume', 'binary', '--from-beginning', '--encoding', 'hex')).stdout).toBe('fe01\n');
    const lines = (await strata('consume', 'far-future', '--from-beginning', '--json')).stdout.trim().split('\n').map((l) => JSON.parse(l) as { value: string; timestamp: string | null; timestampMs: number });
    expect(lines.map((l) => [l.value, l.timestamp, l.timestampMs])).toEqual([
      ['later', null, 9_000_000_000_000_000],
      ['now', expect.stringMatching(/^\d{4}-/), expect.any(Number)],
    ]);
  }, 40_000);

  it('benchmarks produce and consume with a summary', async () => {
    const produce = JSON.parse((await strata('bench', 'produce', '--topic', 'bench', '--records', '20000', '--json')).stdout) as { records: number; recordsPerSecond: number };
    expect(produce.records).toBe(20000);
    expect(produce.recordsPerSecond).toBeGreaterThan(0);
    const consume = JSON.parse((await strata('bench', 'consume', '--topic', 'bench', '--records', '20000', '--json')).stdout) as { records: number };
    expect(consume.records).toBe(20000);
 
    // sendBatch() calls of 1,000 records: every record written once.
    const batched = JSON.parse((await strata('bench', 'produce', '--topic', 'bench-batched', '--records', '20500', '--call-records', '1000', '--json')).stdout) as { records: number };
    expect(batched.records).toBe(20500);
    const described = JSON.parse((await strata('topics', 'describe', 'bench-batched', '--json')).stdout) as { partitions: Array<{ logEndOffset: number }> };
    expect(described.partitions.reduce((n, p) => n + Number(p.logEndOffset), 0)).toBe(20500);
  });

  it('stops a produce reading stdin with PRODUCER_FENCED once a newer one with the same --producer-name ran', async () => {
    await strata('topics', 'create', 'fenced-cli', '--partitions', '2');
    const older = spawn(process.execPath, [STRATA_BIN, 'produce', 'fenced-cli', '--producer-name', 'importer', '--partition', '0', '--json'], { env: { ...process.env, STRATA_SERVER: cli.server.address } });
    let stdout = '';
    let stderr = '';
    older.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    older.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((resolve) => older.on('exit', resolve));
    older.stdin.write('first\n');
    await eventually(() => stdout.includes('"offset":0'), { what: 'the older producer acknowledged its first record' });
    await strata('produce', 'fenced-cli', '--producer-name', 'importer', '--partition', '1', '--value', 'newer');
    // On a partition the newer one never wrote to: refused, and the older one stops reading.
    older.stdin.write('second\n');
    expect(await exited, stderr).toBe(1);
    expect(stderr).toMatch(/PRODUCER_FENCED/);
    const described = JSON.parse((await strata('topics', 'describe', 'fenced-cli', '--json')).stdout) as { partitions: Array<{ logEndOffset: number }> };
    expect(described.partitions.map((p) => p.logEndOffset)).toEqual([1, 1]);
  });
});
