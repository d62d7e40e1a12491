/**
 * Redis Streams consumer groups as a queue: a stream filled with XADD (pipelined), drained by N
 * consumers of one group, each on its own connection: XREADGROUP COUNT <in flight>, then
 * one XACK per record (sent without waiting, auto-pipelined by ioredis with the next read on the same
 * connection, so the server has applied them before it answers that read). A record counts once its
 * XACK's reply is in. Values arrive as strings: callBuffer('XREADGROUP', ...) broke ioredis 5.11's
 * auto-pipelining (a TypeError inside it), and the per-record XACKs need that pipelining.
 */
import { spawnSync } from 'node:child_process';
import type { Redis as RedisClient } from 'ioredis';
import { freePort, makeTempDir, startChild, stopChild } from '../grpc/child-processes.js';
import { packageVersion } from '../grpc/package-version.js';
import { VALUE, measureDrain, type DrainCase, type DrainCounters, type DrainResult } from './drain-result.js';

const FILL_PIPELINE = 1000;
const FILL_PIPELINES_IN_FLIGHT = 8;
const GROUP = 'g';

export type RedisPersistence = 'none' | 'aof-everysec';

export interface RedisServer {
  persistence: RedisPersistence;
  label: string;
  port: number;
  serverPid: number;
  stop(): Promise<void>;
}

export function redisAvailability(): string | undefined {
  if (spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).status !== 0) return 'redis-server not found on PATH (Debian: apt-get install -y redis-server, or make bench-deps)';
  if (packageVersion('ioredis') === 'not installed') return 'ioredis not installed (npm ci)';
  return undefined;
}

export function redisVersion(): string {
  const version = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  return version.status === 0 ? (version.stdout.trim().split(/\s+/).find((w) => w.startsWith('v='))?.slice(2) ?? 'unknown') : 'absent';
}

export async function startRedis(persistence: RedisPersistence): Promise<RedisServer> {
  const dir = makeTempDir('strata-queue-bench-redis-');
  const port = await freePort();
  const persistenceArgs = persistence === 'none' ? ['--appendonly', 'no'] : ['--appendonly', 'yes', '--appendfsync', 'everysec'];
  const { child } = await startChild(
    'redis-server',
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...persistenceArgs, '--dir', dir, '--daemonize', 'no', '--protected-mode', 'yes'],
    /Ready to accept connections/,
    { guarded: true, removeDir: dir },
  );
  return {
    persistence,
    label: persistence === 'none' ? 'Redis Streams (no persistence)' : 'Redis Streams (AOF, fsync every 1 s)',
    port,
    serverPid: child.pid!,
    stop: () => stopChild(child),
  };
}

async function connect(port: number, name: string): Promise<RedisClient> {
  const { Redis } = await import('ioredis');
  const redis = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 1, enableAutoPipelining: true, connectionName: name });
  await redis.connect();
  return redis;
}

/** Writes `records` entries to a new stream and creates the group at its start. */
async function fillStream(redis: RedisClient, stream: string, records: number): Promise<void> {
  const inFlight = new Set<Promise<unknown>>();
  for (let written = 0; written < records; ) {
    const count = Math.min(FILL_PIPELINE, records - written);
    const pipeline = redis.pipeline();
    for (let i = 0; i < count; i++) pipeline.xadd(stream, '*', 'v', VALUE);
    written += count;
    const done: Promise<unknown> = pipeline.exec().then((replies) => {
      for (const [error] of replies ?? []) if (error) throw error;
      inFlight.delete(done);
    });
    inFlight.add(done);
    if (inFlight.size >= FILL_PIPELINES_IN_FLIGHT) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  await redis.xgroup('CREATE', stream, GROUP, '0');
}

type ReadReply = Array<[string, Array<[string, string[]]>]> | null;

async function runConsumer(redis: RedisClient, stream: string, name: string, inFlight: number, counters: DrainCounters, isStopped: () => boolean): Promise<void> {
  const acks: Array<Promise<void>> = [];
  while (!isStopped()) {
    const reply = (await redis.xreadgroup('GROUP', GROUP, name, 'COUNT', inFlight, 'STREAMS', stream, '>')) as unknown as ReadReply;
    const entries = reply?.[0]?.[1] ?? [];
    if (entries.length === 0) break; // every entry has been handed out: the others finish theirs
    for (const [id, fields] of entries) {
      counters.delivered(fields[1]);
      acks.push(
        redis.xack(stream, GROUP, id).then(
          (count) => (count === 1 ? counters.acked() : counters.failed(new Error(`XACK ${String(id)} acknowledged ${count}`))),
          (error: unknown) => counters.failed(error),
        ),
      );
    }
    // One Promise per record, settled in order on this connection: keep the array short.
    if (acks.length >= 4 * inFlight) await Promise.all(acks.splice(0));
  }
  await Promise.all(acks);
}

/** One case: a new stream of `backlog` records drained by `consumers` consumers; deleted after. */
export async function measureRedisDrain(server: RedisServer, drainCase: DrainCase): Promise<DrainResult> {
  const { consumers, backlog, inFlight } = drainCase;
  const admin = await connect(server.port, 'bench-admin');
  const stream = `bench-${drainCase.name}`;
  try {
    await fillStream(admin, stream, backlog);
    const connections = await Promise.all(Array.from({ length: consumers }, (_, i) => connect(server.port, `bench-consumer-${i}`)));
    const result = await measureDrain(server.label, drainCase, server.serverPid, async (counters) => {
      let isStopped = false;
      void counters.done.then(() => (isStopped = true));
      const running = connections.map((redis, i) => runConsumer(redis, stream, `c${i}`, inFlight, counters, () => isStopped));
      // A consumer that stops early (nothing left to read) is normal; all stopping before the
      // backlog is acknowledged means acks were lost: stop the clock there rather than wait.
      void Promise.allSettled(running).then(() => counters.stop());
      return {
        closeIsPartOfTheWork: false,
        close: async () => {
          isStopped = true;
          await Promise.allSettled(running);
          for (const redis of connections) redis.disconnect();
        },
      };
    });
    const pending = (await admin.xpending(stream, GROUP)) as [number, ...unknown[]];
    if (pending[0] !== 0 && result.acknowledged === backlog) result.note = `${pending[0]} entries still pending after the drain`;
    return result;
  } finally {
    await admin.del(stream);
    admin.disconnect();
  }
}
