import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StrataClient } from '../../src/client/strata-client.js';
import { useCliServer } from '../helpers/cli-server.js';
import { STRATA_BIN } from '../helpers/server-process.js';

const run = promisify(execFile);

describe('the CLI as a Kafka user reaches for it, against a real server', () => {
  const cli = useCliServer();
  const { strata } = cli;
  let client: StrataClient;
  beforeAll(() => {
    client = new StrataClient({ address: cli.server.address });
  });
  afterAll(() => client?.close());
  const pipe = (input: string, ...args: string[]) =>
    run('sh', ['-c', `printf '${input}' | "${process.execPath}" "${STRATA_BIN}" ${args.map((a) => `'${a}'`).join(' ')}`], { env: { ...process.env, STRATA_SERVER: cli.server.address } });

  it('produce --header (repeatable, order and repeats kept) and -Z (an empty value sent as null); consume --json keeps both', async () => {
    await strata('topics', 'create', 'h', '--partitions', '1');
    await strata('produce', 'h', '--key', 'k1', '--value', 'v1', '--header', 'trace=a', '--header', 'hop=x', '--header', 'trace=b=c');
    await strata('produce', 'h', '--key', 'k2', '--value', '', '-Z');
    await strata('produce', 'h', '--key', 'k3', '--value', ''); // without -Z, empty stays empty
    await pipe('k4:four\\nk5:\\n', 'produce', 'h', '--key-separator', ':', '--empty-as-null');

    const records = [];
    for await (const record of client.consume('h', { from: 'earliest' })) {
      records.push(record);
      if (records.length === 5) break;
    }
    expect(records[0]!.headers.map((h) => [h.key, h.value?.toString()])).toEqual([
      ['trace', 'a'],
      ['hop', 'x'],
      ['trace', 'b=c'],
    ]);
    expect(records.map((r) => [r.key?.toString(), r.value === null ? null : r.value.toString()])).toEqual([
      ['k1', 'v1'],
      ['k2', null],
      ['k3', ''],
      ['k4', 'four'],
      ['k5', null],
    ]);

    const lines = (await strata('consume', 'h', '--from-beginning', '--json')).stdout.trim().split('\n').map((line) => JSON.parse(line) as { key: string; value: string | null; headers: unknown });
    expect(lines[0]!.headers).toEqual([
      { key: 'trace', value: 'a' },
      { key: 'hop', value: 'x' },
      { key: 'trace', value: 'b=c' },
    ]);
    expect(lines.map((l) => l.value)).toEqual(['v1', null, '', 'four', null]);
    await expect(strata('produce', 'h', '--value', 'v', '--header', 'novalue')).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining("--header expects key=value, got 'novalue'") });
  });

  it('consume --format with kcat tokens and escapes, and --print-keys', async () => {
    await strata('topics', 'create', 'f', '--partitions', '2');
    const producer = client.producer({ acks: 'durable' });
    await producer.send('f', { key: 'alice', value: 'paid', partition: 1, timestampMs: 1_700_000_000_000, headers: [{ key: 'a', value: Buffer.from('1') }, { key: 'a', value: Buffer.from('2') }] });
    await producer.send('f', { key: null, value: null, partition: 1, timestampMs: 1_700_000_000_001 });
    await producer.close();

    const formatted = await strata('consume', 'f', '--from-beginning', '--format', '%t|%p|%o|%k|%v|%h|%T|%K|%S|%%\\t.\\n');
    expect(formatted.stdout).toBe('f|1|0|alice|paid|a=1,a=2|1700000000000|5|4|%\t.\nf|1|1||||1700000000001|-1|-1|%\t.\n');
    // No \n in the format: nothing between records, as kcat prints it.
    expect((await strata('consume', 'f', '--from-beginning', '--format', '[%s]')).stdout).toBe('[paid][]');
    expect((await strata('consume', 'f', '--from-beginning', '--print-keys')).stdout).toBe('alice\tpaid\n\t\n');
    expect((await strata('consume', 'f', '--from-beginning', '--format', '%k %v\\n', '--encoding', 'hex', '--max-messages', '1')).stdout).toBe('616c696365 70616964\n');
    await expect(strata('consume', 'f', '--from-beginning', '--format', '%q')).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining("--format: unknown '%q'; known: %t topic") });
    await expect(strata('consume', 'f', '--json', '--print-keys')).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining('use only one of --json, --format and --print-keys') });
  });

  it('groups describe shows - for the lag of a partition without a commit, and what a member would read there; tables have no rule between rows', async () => {
    await strata('topics', 'create', 'lagged', '--partitions', '2');
    const producer = client.producer({ acks: 'durable' });
    for (let i = 0; i < 5; i++) await producer.send('lagged', { value: `a${i}`, partition: 0 });
    for (let i = 0; i < 7; i++) await producer.send('lagged', { value: `b${i}`, partition: 1 });
    await producer.close();
    await client.admin.resetOffsets('late', { topic: 'lagged', to: { offset: 3 }, partitions: [0], execute: true });

    const text = (await strata('groups', 'describe', 'late')).stdout;
    const rows = text.split('\n').filter((line) => line.startsWith('│'));
    expect(rows.map((row) => row.split('│').slice(1, 6).map((cell) => cell.trim()))).toEqual([
      ['topic', 'partition', 'committed', 'log end', 'lag'],
      ['lagged', '0', '3', '5', '2'],
      ['lagged', '1', '-', '7', '-'],
    ]);
    expect(text).toContain('no commit on 1 partition (lag -): a member starts there at the log end and reads only new records, or with --from-beginning (fromBeginning: true) at the log start and reads what is there now: lagged/1 7 records\n');
    // One rule under the head, none between rows: top border, head, rule, 2 rows, bottom border.
    const table = text.split('\n').filter((line) => /^[┌├└│]/.test(line));
    expect(table.map((line) => line[0])).toEqual(['┌', '│', '├', '│', '│', '└']);
  });

  it("an error names the call id the server logged it under, and the fix where there is one", async () => {
    const failed = (await strata('topics', 'describe', 'nosuch').catch((error: { code: number; stderr: string }) => error)) as { code: number; stderr: string };
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/^strata: TOPIC_NOT_FOUND: topic 'nosuch' does not exist \(call id [0-9a-f-]{36}\)\n {2}fix: `strata topics list` lists the topics; `strata topics create <topic> --partitions <n>` creates one\n$/);
    const unreachable = await run(process.execPath, [STRATA_BIN, '--server', '127.0.0.1:1', 'topics', 'list']).catch((error: { code: number; stderr: string }) => error);
    expect(unreachable).toMatchObject({ code: 1, stderr: 'strata: UNAVAILABLE: cannot reach the server: connect ECONNREFUSED 127.0.0.1:1\n  fix: is the server running? Start one with `strata serve`, or point at it with --server host:port or STRATA_SERVER\n' });
  });
});
