import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { ServerUnreachableError, type StrataClientError } from '../../src/client/client-error.js';
import { StrataClient } from '../../src/client/strata-client.js';
import { silentLogger } from '../../src/core/logger.js';
import { startServer, type RunningServer } from '../../src/server/bootstrap.js';
import { resolveServerConfig } from '../../src/server/server-config.js';
import { eventually } from '../helpers/eventually.js';
import { STRATA_BIN } from '../helpers/server-process.js';
import { makeTempDir } from '../helpers/temp-dir.js';

/** A port nothing listens on (connections to it are refused). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

interface Outcome {
  error: StrataClientError | undefined;
  atMs: number;
}

/** When and how a send settled. */
function outcome(promise: Promise<unknown>): Promise<Outcome> {
  return promise.then(
    () => ({ error: undefined, atMs: Date.now() }),
    (error: unknown) => ({ error: error as StrataClientError, atMs: Date.now() }),
  );
}

describe('a producer with nobody to talk to', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function serverOn(dataDir: string, port: number): Promise<RunningServer> {
    const server = await startServer(resolveServerConfig({ dataDir, port, host: '127.0.0.1' }), silentLogger);
    cleanups.push(() => server.close());
    return server;
  }

  async function dataDirWithTopic(topic: string): Promise<{ path: string; port: number }> {
    const dir = await makeTempDir();
    cleanups.push(() => dir.remove());
    const port = await freePort();
    const server = await serverOn(dir.path, port);
    const client = new StrataClient({ address: `127.0.0.1:${port}` });
    await client.admin.createTopic(topic, { partitions: 2 });
    client.close();
    await server.close();
    return { path: dir.path, port };
  }

  it('fails every pending send within a few seconds, together, when nothing listens on the port (defaults)', async () => {
    const port = await freePort();
    const client = new StrataClient({ address: `127.0.0.1:${port}` });
    cleanups.push(() => client.close());
    const producer = client.producer();
    const startedMs = Date.now();
    // Sends to a topic whose metadata is unknown (each waits its turn behind the one before) and a batch.
    const sends = Array.from({ length: 50 }, (_, i) => outcome(producer.send('orders', { key: `k${i}`, value: `v${i}` })));
    sends.push(outcome(producer.sendBatch('orders', [{ value: 'a' }, { value: 'b' }])));
    const outcomes = await Promise.all(sends);
    for (const { error } of outcomes) {
      expect(error).toBeInstanceOf(ServerUnreachableError);
      expect(error!.message).toMatch(new RegExp(`^cannot reach 127\\.0\\.0\\.1:${port}: no connection for \\d+ ms \\(last error: connect ECONNREFUSED`));
    }
    const times = outcomes.map((o) => o.atMs);
    expect(Math.max(...times) - Math.min(...times)).toBeLessThan(1_000);
    expect(Math.max(...times) - startedMs).toBeLessThan(15_000);
    await producer.close();
  }, 60_000);

  it('records waiting through an outage share one deadline; sends during a known outage fail at once; the server back takes sends again', async () => {
    const { path, port } = await dataDirWithTopic('orders');
    let server = await serverOn(path, port);
    const client = new StrataClient({ address: `127.0.0.1:${port}` });
    cleanups.push(() => client.close());
    const deliveryTimeoutMs = 3_000;
    const producer = client.producer({ lingerMs: 0, deliveryTimeoutMs, retryBackoffMs: 20 });
    await producer.send('orders', { value: 'before' });
    await server.close();
    const first = outcome(producer.send('orders', { value: 'a' }));
    // The gap between the two sends, so that their own deadlines would differ by as much.
    await sleep(1_500);
    const secondSentMs = Date.now();
    const second = outcome(producer.send('orders', { value: 'b' }));
    const [a, b] = await Promise.all([first, second]);
    expect(a.error?.code).toBe('SERVER_UNREACHABLE');
    expect(b.error?.code).toBe('SERVER_UNREACHABLE');
    expect(Math.abs(a.atMs - b.atMs)).toBeLessThan(500);
    expect(b.atMs - secondSentMs).toBeLessThan(deliveryTimeoutMs - 500);
    // Given up on: a send now fails at once rather than waiting out its own delivery timeout.
    const sentMs = Date.now();
    const c = await outcome(producer.send('orders', { value: 'c' }));
    expect(c.error?.code).toBe('SERVER_UNREACHABLE');
    expect(c.atMs - sentMs).toBeLessThan(1_000);
    // Back on the same address: the channel reconnects (backoff of at most a second) and sends go through.
    server = await serverOn(path, port);
    const failedCodes = new Set<string>();
    await eventually(
      async () => {
        const sent = await outcome(producer.send('orders', { value: 'after' }));
        if (sent.error) failedCodes.add(sent.error.code);
        return !sent.error;
      },
      { what: 'a send to go through once the server is back', timeoutMs: 15_000, intervalMs: 50 },
    );
    // Until then, only because the server was still out of reach.
    expect([...failedCodes].filter((code) => code !== 'SERVER_UNREACHABLE')).toEqual([]);
    await producer.close();
  }, 60_000);

  it('a server reached before and back within the delivery timeout takes every record sent while it was away, longer than firstConnectTimeoutMs', async () => {
    const { path, port } = await dataDirWithTopic('orders');
    const server = await serverOn(path, port);
    const client = new StrataClient({ address: `127.0.0.1:${port}` });
    cleanups.push(() => client.close());
    const producer = client.producer({ lingerMs: 1, deliveryTimeoutMs: 30_000, firstConnectTimeoutMs: 300, retryBackoffMs: 20 });
    await producer.send('orders', { value: 'before' });
    await server.close();
    const sends = Array.from({ length: 20 }, (_, i) => producer.send('orders', { key: `k${i}`, value: `v${i}` }));
    let settledCount = 0;
    for (const send of sends) void send.then(() => settledCount++, () => settledCount++);
    // Deliberate: an outage longer than firstConnectTimeoutMs, through which nothing may fail.
    await sleep(1_500);
    expect(settledCount).toBe(0);
    await serverOn(path, port);
    const offsets = await Promise.all(sends);
    expect(offsets).toHaveLength(20);
    const description = await client.admin.describeTopic('orders');
    expect(description.partitions.reduce((n, p) => n + Number(p.logEndOffset), 0)).toBe(21);
    await producer.close();
  }, 60_000);

  it('a producer started before its server sends its records once the server comes up within firstConnectTimeoutMs', async () => {
    const { path, port } = await dataDirWithTopic('orders');
    const client = new StrataClient({ address: `127.0.0.1:${port}` });
    cleanups.push(() => client.close());
    const producer = client.producer({ firstConnectTimeoutMs: 10_000 });
    const sends = Array.from({ length: 10 }, (_, i) => producer.send('orders', { value: `v${i}` }));
    // Deliberate: the server comes up a while after the producer first tried to connect.
    await sleep(1_000);
    await serverOn(path, port);
    expect(await Promise.all(sends)).toHaveLength(10);
    await producer.close();
  }, 60_000);

  it('strata produce to a port nothing listens on exits 1 within a few seconds, saying it cannot reach the address', async () => {
    const port = await freePort();
    const startedMs = Date.now();
    const child = spawn(process.execPath, [STRATA_BIN, 'produce', 'orders'], { env: { ...process.env, STRATA_SERVER: `127.0.0.1:${port}` } });
    cleanups.push(() => void child.kill('SIGKILL'));
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdin.end('1\n2\n3\n4\n5\n');
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(1);
    expect(Date.now() - startedMs).toBeLessThan(15_000);
    expect(stderr).toMatch(new RegExp(`^strata: SERVER_UNREACHABLE: cannot reach 127\\.0\\.0\\.1:${port}: .*ECONNREFUSED.*\\n$`));
  }, 60_000);
});
