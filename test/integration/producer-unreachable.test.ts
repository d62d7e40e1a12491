import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ServerUnreachableError, type StrataClientError } from '../../src/client/client-error.js';
import { StrataClient } from '../../src/client/strata-client.js';
import { ManualClock } from '../../src/core/clock.js';
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
  /** On the client's clock. */
  atMs: number;
}

/**
 * The producer's timers (connection deadline, backoffs, delivery timeouts) run on a ManualClock that
 * these tests move on, while the network (connection attempts, the server going and coming back)
 * is real: a test polls for the real signal, moving the clock `stepMs` at each try.
 */
async function runClockUntil<T>(clock: ManualClock, check: () => T, what: string, stepMs = 20): Promise<Exclude<T, false | undefined | null>> {
  return eventually(
    () => {
      const value = check();
      if (!value) clock.advance(stepMs);
      return value;
    },
    { what, timeoutMs: 30_000, intervalMs: 5 },
  );
}

/** When (on `clock`) and how a send settled; `settled` is undefined until it has. */
function outcome(promise: Promise<unknown>, clock: ManualClock): { settled: Outcome | undefined } {
  const state: { settled: Outcome | undefined } = { settled: undefined };
  promise.then(
    () => (state.settled = { error: undefined, atMs: clock.nowMs() }),
    (error: unknown) => (state.settled = { error: error as StrataClientError, atMs: clock.nowMs() }),
  );
  return state;
}

describe('a producer with nobody to talk to', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function serverOn(dataDir: string, port: number): Promise<RunningServer> {
    const server = await startServer(resolveServerConfig({ dataDir, port, httpPort: 0, host: '127.0.0.1' }), silentLogger);
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
    const clock = new ManualClock(1_000_000);
    const client = new StrataClient({ address: `127.0.0.1:${port}`, clock });
    cleanups.push(() => client.close());
    const producer = client.producer();
    const startedMs = clock.nowMs();
    // Sends to a topic whose metadata is unknown (each waits its turn behind the one before) and a batch.
    const sends = Array.from({ length: 50 }, (_, i) => outcome(producer.send('orders', { key: `k${i}`, value: `v${i}` }), clock));
    sends.push(outcome(producer.sendBatch('orders', [{ value: 'a' }, { value: 'b' }]), clock));
    await runClockUntil(clock, () => sends.every((s) => s.settled), 'every send to fail', 50);
    const outcomes = sends.map((s) => s.settled!);
    for (const { error } of outcomes) {
      expect(error).toBeInstanceOf(ServerUnreachableError);
      expect(error!.message).toMatch(new RegExp(`^cannot reach 127\\.0\\.0\\.1:${port}: no connection for \\d+ ms \\(last error: connect ECONNREFUSED`));
    }
    // Together, at the same moment: firstConnectTimeoutMs (5 s) after the channel began to connect
    // (at once, or within the first steps of the clock while the first attempt was on its way).
    const times = outcomes.map((o) => o.atMs);
    expect(Math.max(...times) - Math.min(...times)).toBe(0);
    expect(times[0]! - startedMs).toBeGreaterThanOrEqual(5_000);
    expect(times[0]! - startedMs).toBeLessThan(6_000);
    await producer.close();
  }, 60_000);

  it('records waiting through an outage share one deadline; sends during a known outage fail at once; the server back takes sends again', async () => {
    const { path, port } = await dataDirWithTopic('orders');
    let server = await serverOn(path, port);
    const clock = new ManualClock(1_000_000);
    const client = new StrataClient({ address: `127.0.0.1:${port}`, clock });
    cleanups.push(() => client.close());
    const deliveryTimeoutMs = 3_000;
    const producer = client.producer({ lingerMs: 0, deliveryTimeoutMs, retryBackoffMs: 20 });
    const before = outcome(producer.send('orders', { value: 'before' }), clock);
    await runClockUntil(clock, () => before.settled, 'the first send');
    expect(before.settled!.error).toBeUndefined();
    await server.close();
    const first = outcome(producer.send('orders', { value: 'a' }), clock);
    // The outage starts when the channel first fails to reconnect (a real event).
    await runClockUntil(clock, () => client.connection.unreachableSinceMs !== undefined, 'the channel to lose its server');
    // The gap between the two sends, so that their own deadlines would differ by as much.
    const firstSentMs = clock.nowMs();
    await runClockUntil(clock, () => clock.nowMs() >= firstSentMs + 1_500, '1.5 s of the clock');
    const secondSentMs = clock.nowMs();
    const second = outcome(producer.send('orders', { value: 'b' }), clock);
    await runClockUntil(clock, () => first.settled && second.settled, 'a and b to fail');
    const [a, b] = [first.settled!, second.settled!];
    expect(a.error?.code).toBe('SERVER_UNREACHABLE');
    expect(b.error?.code).toBe('SERVER_UNREACHABLE');
    // Together: at the one deadline they share, not each at its own.
    expect(a.atMs).toBe(b.atMs);
    expect(b.atMs - secondSentMs).toBeLessThan(deliveryTimeoutMs - 500);
    // Given up on: a send now fails at once (no clock time passing) rather than waiting out its own delivery timeout.
    const sentMs = clock.nowMs();
    const third = outcome(producer.send('orders', { value: 'c' }), clock);
    await runClockUntil(clock, () => third.settled, 'c to fail', 0);
    expect(third.settled!.error?.code).toBe('SERVER_UNREACHABLE');
    expect(third.settled!.atMs).toBe(sentMs);
    // Back on the same address: the channel reconnects (backoff of at most a second) and sends go through.
    server = await serverOn(path, port);
    const failedCodes = new Set<string>();
    let after = outcome(producer.send('orders', { value: 'after' }), clock);
    await runClockUntil(
      clock,
      () => {
        if (after.settled?.error) {
          failedCodes.add(after.settled.error.code);
          after = outcome(producer.send('orders', { value: 'after' }), clock);
        }
        return after.settled !== undefined;
      },
      'a send to go through once the server is back',
    );
    // Until then, only because the server was still out of reach.
    expect([...failedCodes].filter((code) => code !== 'SERVER_UNREACHABLE')).toEqual([]);
    const closed = outcome(producer.close(), clock);
    await runClockUntil(clock, () => closed.settled, 'the producer closed');
  }, 60_000);

  it('a server reached before and back within the delivery timeout takes every record sent while it was away, longer than firstConnectTimeoutMs', async () => {
    const { path, port } = await dataDirWithTopic('orders');
    const server = await serverOn(path, port);
    const clock = new ManualClock(1_000_000);
    const client = new StrataClient({ address: `127.0.0.1:${port}`, clock });
    cleanups.push(() => client.close());
    const producer = client.producer({ lingerMs: 1, deliveryTimeoutMs: 30_000, firstConnectTimeoutMs: 300, retryBackoffMs: 20 });
    const before = outcome(producer.send('orders', { value: 'before' }), clock);
    await runClockUntil(clock, () => before.settled, 'the first send');
    await server.close();
    const sends = Array.from({ length: 20 }, (_, i) => outcome(producer.send('orders', { key: `k${i}`, value: `v${i}` }), clock));
    await runClockUntil(clock, () => client.connection.unreachableSinceMs !== undefined, 'the channel to lose its server');
    // Deliberate: an outage longer than firstConnectTimeoutMs (1.5 s of the clock), through which nothing may fail.
    const lostAtMs = clock.nowMs();
    await runClockUntil(clock, () => clock.nowMs() >= lostAtMs + 1_500, '1.5 s of the clock');
    expect(sends.filter((s) => s.settled)).toEqual([]);
    await serverOn(path, port);
    await runClockUntil(clock, () => sends.every((s) => s.settled), 'every send acknowledged');
    expect(sends.map((s) => s.settled!.error)).toEqual(sends.map(() => undefined));
    const description = await client.admin.describeTopic('orders');
    expect(description.partitions.reduce((n, p) => n + Number(p.logEndOffset), 0)).toBe(21);
    const closed = outcome(producer.close(), clock);
    await runClockUntil(clock, () => closed.settled, 'the producer closed');
  }, 60_000);

  it('a producer started before its server sends its records once the server comes up within firstConnectTimeoutMs', async () => {
    const { path, port } = await dataDirWithTopic('orders');
    const clock = new ManualClock(1_000_000);
    const client = new StrataClient({ address: `127.0.0.1:${port}`, clock });
    cleanups.push(() => client.close());
    const producer = client.producer({ firstConnectTimeoutMs: 10_000 });
    const sends = Array.from({ length: 10 }, (_, i) => outcome(producer.send('orders', { value: `v${i}` }), clock));
    // Deliberate: the server comes up a while (1 s of the clock) after the producer first failed to connect.
    await runClockUntil(clock, () => client.connection.unreachableSinceMs !== undefined, 'a first failed attempt to connect', 0);
    const failedAtMs = clock.nowMs();
    await runClockUntil(clock, () => clock.nowMs() >= failedAtMs + 1_000, '1 s of the clock');
    await serverOn(path, port);
    await runClockUntil(clock, () => sends.every((s) => s.settled), 'every send acknowledged');
    expect(sends.map((s) => s.settled!.error)).toEqual(sends.map(() => undefined));
    const closed = outcome(producer.close(), clock);
    await runClockUntil(clock, () => closed.settled, 'the producer closed');
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
    expect(stderr).toMatch(new RegExp(`^strata: SERVER_UNREACHABLE: cannot reach 127\\.0\\.0\\.1:${port}: .*ECONNREFUSED.*\\n  fix: is the server running\\? Start one with \`strata serve\`, or point at it with --server host:port or STRATA_SERVER\\n$`));
  }, 60_000);
});
