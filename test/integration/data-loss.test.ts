import { execFile } from 'node:child_process';
import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StrataClientError } from '../../src/client/client-error.js';
import type { StrataClient as Client } from '../../src/client/strata-client.js';
import { StrataClient } from '../../src/client/strata-client.js';
import { silentLogger } from '../../src/core/logger.js';
import { BASE_OFFSET_POSITION } from '../../src/format/record-batch-layout.js';
import { iterateBatches } from '../../src/format/record-batch-codec.js';
import { startServer, type RunningServer } from '../../src/server/bootstrap.js';
import { resolveServerConfig } from '../../src/server/server-config.js';
import { makeBatch } from '../helpers/batches.js';
import { STRATA_BIN } from '../helpers/server-process.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const run = promisify(execFile);
const TOPIC = 'ledger';
const BATCHES = 40;
const RECORDS_PER_BATCH = 5;
/** The batch whose baseOffset gets a flipped bit: records below its first offset are sound. */
const DAMAGED_BATCH = 25;
const FIRST_BAD_OFFSET = DAMAGED_BATCH * RECORDS_PER_BATCH;

/** Counts the Subscribe calls a client makes, so a test sees whether it resubscribed. */
function countSubscribes(client: Client): () => number {
  const stub = client.stubs.consume;
  const subscribe = stub.subscribe.bind(stub);
  let count = 0;
  (stub as { subscribe: unknown }).subscribe = (...args: Parameters<typeof subscribe>) => {
    count++;
    return subscribe(...args);
  };
  return () => count;
}

/**
 * A damaged batch header reaches the application as DATA_LOSS: the client stops with a typed error
 * that says it is not worth retrying (it does not resubscribe), and `strata consume` exits 1 with the
 * server's message after printing only the records before the damage.
 */
describe('a batch header damaged on disk, seen by clients', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let server: RunningServer | undefined;
  let address = '';
  let segmentPath = '';

  async function start(): Promise<void> {
    server = await startServer(resolveServerConfig({ dataDir: dir.path, port: 0, httpPort: 0, host: '127.0.0.1' }), silentLogger);
    address = `127.0.0.1:${server.port}`;
  }

  beforeAll(async () => {
    dir = await makeTempDir();
    await start();
    await server!.logManager.createTopic(TOPIC, 1, {});
    for (let i = 0; i < BATCHES; i++) await server!.broker.produce(TOPIC, 0, makeBatch(`b${i}`, RECORDS_PER_BATCH), 'durable');
    segmentPath = join(dir.path, TOPIC, '0', '00000000000000000000.log');
    // The server runs on: the next read of the file sees the flipped bit.
    const batches = [...iterateBatches(await readFile(segmentPath))];
    expect(batches).toHaveLength(BATCHES);
    const file = await open(segmentPath, 'r+');
    const at = batches[DAMAGED_BATCH]!.position + BASE_OFFSET_POSITION + 7;
    const byte = Buffer.alloc(1);
    await file.read(byte, 0, 1, at);
    byte[0]! ^= 0x04;
    await file.write(byte, 0, 1, at);
    await file.close();
  });
  afterAll(async () => {
    await server?.close();
    await dir.remove();
  });

  function strata(...args: string[]): Promise<{ stdout: string; stderr: string }> {
    return run(process.execPath, [STRATA_BIN, ...args], { env: { ...process.env, STRATA_SERVER: address }, timeout: 30_000 });
  }

  it('ends consume() with a non-retriable DATA_LOSS after the sound records, without resubscribing', async () => {
    const client = new StrataClient({ address });
    const subscribes = countSubscribes(client);
    const offsets: number[] = [];
    try {
      const outcome = await (async () => {
        for await (const record of client.consume(TOPIC, { from: 'earliest', maxBytes: 1024 })) offsets.push(record.offset);
      })().then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(outcome).toBeInstanceOf(StrataClientError);
      const error = outcome as StrataClientError;
      expect(error).toMatchObject({ code: 'DATA_LOSS', retriable: false, grpcStatus: 15 });
      expect(error.message).toContain(segmentPath);
      expect(error.message).toMatch(/at byte \d+/);
      expect(offsets).toEqual(Array.from({ length: FIRST_BAD_OFFSET }, (_, i) => i));
      expect(subscribes()).toBe(1);
    } finally {
      client.close();
    }
  });

  it('fails a group member with DATA_LOSS instead of reading the partition again and again', async () => {
    const client = new StrataClient({ address });
    const subscribes = countSubscribes(client);
    const consumer = client.consumer({ groupId: 'auditors', topics: [TOPIC], fromBeginning: true });
    const offsets: number[] = [];
    try {
      const outcome = await (async () => {
        for await (const record of consumer) offsets.push(record.offset);
      })().then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(outcome).toMatchObject({ code: 'DATA_LOSS', retriable: false });
      expect(offsets).toEqual(Array.from({ length: offsets.length }, (_, i) => i));
      expect(offsets.length).toBeLessThanOrEqual(FIRST_BAD_OFFSET);
      expect(subscribes()).toBe(1);
    } finally {
      await consumer.close();
      client.close();
    }
  });

  it('makes `strata consume --from-beginning` exit 1 with the message, having printed only sound records', async () => {
    const failure = await strata('consume', TOPIC, '--from-beginning', '--json').then(
      () => undefined,
      (error: unknown) => error as { code: number; stdout: string; stderr: string },
    );
    expect(failure).toBeDefined();
    expect(failure!.code).toBe(1);
    expect(failure!.stderr).toMatch(/^strata: DATA_LOSS: partition ledger\/0 is damaged at byte \d+ of .*00000000000000000000\.log/);
    const printed = failure!.stdout.trim().split('\n').map((line) => (JSON.parse(line) as { offset: number }).offset);
    expect(printed).toEqual(Array.from({ length: FIRST_BAD_OFFSET }, (_, i) => i));
  });

  it('refuses the partition from the next start on, and the CLI says so', async () => {
    await server!.close();
    server = undefined;
    await start();
    expect(server!.logManager.describeTopic(TOPIC).partitions[0]!.status).toBe('data-loss');
    const failure = await strata('consume', TOPIC, '--from-beginning').then(
      () => undefined,
      (error: unknown) => error as { code: number; stdout: string; stderr: string },
    );
    expect(failure?.code).toBe(1);
    expect(failure!.stderr).toMatch(/^strata: DATA_LOSS: .*00000000000000000000\.log/);
    expect(failure!.stdout).toBe('');
  });
});
