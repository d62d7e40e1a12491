import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StrataClient } from '../../src/client/strata-client.js';
import { DEAD_LETTER_HEADERS } from '../../src/core/dead-letter-headers.js';
import { STRATA_BIN, startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const run = promisify(execFile);

/** Dead-letter headers as a queue group (or the group consumer's policy) writes them. */
function deadLetterHeaders(source: { topic: string; partition: number; offset: number }, error: string): Record<string, string> {
  return {
    [DEAD_LETTER_HEADERS.sourceTopic]: source.topic,
    [DEAD_LETTER_HEADERS.sourcePartition]: String(source.partition),
    [DEAD_LETTER_HEADERS.sourceOffset]: String(source.offset),
    [DEAD_LETTER_HEADERS.group]: 'workers',
    [DEAD_LETTER_HEADERS.attempts]: '5',
    [DEAD_LETTER_HEADERS.cause]: 'max-delivery-attempts',
    [DEAD_LETTER_HEADERS.error]: error,
    [DEAD_LETTER_HEADERS.deadLetteredAtMs]: '1700000000000',
  };
}

describe('strata dlq against a real server', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let server: ServerProcess;
  let client: StrataClient;
  let strata: (...args: string[]) => Promise<{ stdout: string; stderr: string }>;
  beforeAll(async () => {
    dir = await makeTempDir();
    server = await startServerProcess(dir.path);
    client = new StrataClient({ address: server.address });
    strata = (...args) => run(process.execPath, [STRATA_BIN, ...args], { env: { ...process.env, STRATA_SERVER: server.address }, timeout: 30_000 });
  });
  afterAll(async () => {
    client?.close();
    await server?.stop('SIGKILL');
    await dir.remove();
  });

  it('lists, inspects and redrives dead letters: back to their source partition with key, value, headers and timestamp, each source record once', async () => {
    await client.admin.createTopic('orders', { partitions: 2 });
    await client.admin.createTopic('orders.dlq', { partitions: 2 });
    const producer = client.producer({ acks: 'durable' });
    // Source records 0..2 of orders/1 died; record 1 was dead-lettered twice (a crash between the
    // dead-letter append and the archive), and one record has no source headers at all.
    const deadLetters = [
      { key: 'a', value: 'first', offset: 0, timestampMs: 1_600_000_000_000 },
      { key: 'b', value: 'second', offset: 1, timestampMs: 1_600_000_000_001 },
      { key: 'b', value: 'second', offset: 1, timestampMs: 1_600_000_000_001 },
      { key: 'c', value: 'third', offset: 2, timestampMs: 1_600_000_000_002 },
    ];
    for (const d of deadLetters) {
      await producer.send('orders.dlq', { key: d.key, value: d.value, timestampMs: d.timestampMs, partition: 0, headers: { trace: `t-${d.offset}`, ...deadLetterHeaders({ topic: 'orders', partition: 1, offset: d.offset }, `boom ${d.offset}`) } });
    }
    await producer.send('orders.dlq', { value: 'orphan', partition: 0 }); // one partition: inspect prints in offset order
    await producer.close();

    const list = JSON.parse((await strata('dlq', 'list', '--json')).stdout) as Array<{ topic: string; sourceTopic: string; records: number }>;
    expect(list).toEqual([expect.objectContaining({ topic: 'orders.dlq', sourceTopic: 'orders', records: 5 })]);
    expect(JSON.parse((await strata('dlq', 'list', 'other', '--json')).stdout)).toEqual([]);
    expect((await strata('dlq', 'list')).stdout).toMatch(/orders\.dlq.*orders.*5/);

    const inspected = (await strata('dlq', 'inspect', 'orders.dlq', '--json')).stdout.trim().split('\n').map((line) => JSON.parse(line) as { value: string; deadLetter: object });
    expect(inspected).toHaveLength(5);
    expect(inspected[0]).toMatchObject({ value: 'first', key: 'a', deadLetter: { sourceTopic: 'orders', sourcePartition: 1, sourceOffset: 0, group: 'workers', attempts: 5, cause: 'max-delivery-attempts', error: 'boom 0', deadLetteredAtMs: 1_700_000_000_000 } });
    expect(inspected.find((r) => r.value === 'orphan')!.deadLetter).toEqual({});
    const text = (await strata('dlq', 'inspect', 'orders.dlq', '--max-messages', '1')).stdout;
    expect(text.trim().split('\n')).toEqual(['0@0 from orders/1@0, group workers, 5 attempts, max-delivery-attempts at 2023-11-14T22:13:20.000Z: boom 0 key=a value=first']);

    const dryRun = await strata('dlq', 'redrive', 'orders.dlq');
    expect(dryRun.stdout).toMatch(/dry run: would append 3 records to their source topics \(1 duplicates skipped, 1 without source headers skipped\)/);
    expect((await client.admin.listOffsets('orders', 'latest')).map((o) => o.offset)).toEqual([0, 0]);

    const executed = JSON.parse((await strata('dlq', 'redrive', 'orders.dlq', '--execute', '--json')).stdout) as object;
    expect(executed).toEqual({ executed: true, records: 3, appended: 3, duplicates: 1, withoutSource: 1, perTarget: { 'orders/1': 3 } });
    const redriven = [];
    for await (const record of client.consume('orders', { from: 'earliest', partitions: [1] })) {
      redriven.push(record);
      if (redriven.length === 3) break;
    }
    expect(redriven.map((r) => [r.key!.toString(), r.value!.toString(), r.timestampMs, r.headers.map((h) => `${h.key}=${h.value!.toString()}`)])).toEqual([
      ['a', 'first', 1_600_000_000_000, ['trace=t-0']],
      ['b', 'second', 1_600_000_000_001, ['trace=t-1']],
      ['c', 'third', 1_600_000_000_002, ['trace=t-2']],
    ]);
    expect((await client.admin.listOffsets('orders', 'latest')).map((o) => o.offset)).toEqual([0, 3]);
  });
});
