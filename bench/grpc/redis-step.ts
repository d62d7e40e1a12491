/** Step 5: Redis Streams as a peer, if `redis-server` and ioredis are there. */
import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { freePort, makeTempDir, startChild, stopChild } from './child-processes.js';
import type { ProduceResult } from './measure-produce.js';
import { packageVersion } from './package-version.js';
import { fmt, log, table } from './report-format.js';
import type { ReplayResult } from './replay-step.js';
import { VALUE, VALUE_BYTES } from './workload.js';

interface RedisResult {
  persistence: string;
  produced: number;
  produceSeconds: number;
  producePerSec: number;
  consumed: number;
  consumeSeconds: number;
  consumePerSec: number;
}

const REDIS_PIPELINE = 1000;
const REDIS_PIPELINES_IN_FLIGHT = 8;
const REDIS_READ_COUNT = 1000;

async function measureRedis(persistence: 'none' | 'aof-everysec', durationMs: number): Promise<RedisResult> {
  const { Redis } = await import('ioredis');
  const dir = makeTempDir('strata-grpc-bench-redis-');
  const port = await freePort();
  const persistenceArgs = persistence === 'none' ? ['--appendonly', 'no'] : ['--appendonly', 'yes', '--appendfsync', 'everysec'];
  const { child } = await startChild(
    'redis-server',
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...persistenceArgs, '--dir', dir, '--daemonize', 'no', '--protected-mode', 'yes'],
    /Ready to accept connections/,
    { guarded: true, removeDir: dir },
  );
  const redis = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    const stream = 'bench';
    // Produce: pipelines of REDIS_PIPELINE XADDs, REDIS_PIPELINES_IN_FLIGHT of them at once.
    let produced = 0;
    const start = performance.now();
    const deadline = start + durationMs;
    const inFlight = new Set<Promise<unknown>>();
    while (performance.now() < deadline) {
      const pipeline = redis.pipeline();
      for (let i = 0; i < REDIS_PIPELINE; i++) pipeline.xadd(stream, '*', 'v', VALUE);
      const done: Promise<unknown> = pipeline.exec().then((replies) => {
        for (const [error] of replies ?? []) if (error) throw error;
        produced += REDIS_PIPELINE;
        inFlight.delete(done);
      });
      inFlight.add(done);
      if (inFlight.size >= REDIS_PIPELINES_IN_FLIGHT) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
    const produceSeconds = (performance.now() - start) / 1000;
    // Consume: one consumer of a group, XREADGROUP COUNT 1000, each batch acknowledged with XACK
    // (sent without waiting; the next read follows it on the same connection).
    await redis.xgroup('CREATE', stream, 'g', '0');
    let consumed = 0;
    const acks: Array<Promise<unknown>> = [];
    const consumeStart = performance.now();
    while (consumed < produced) {
      const reply = (await redis.callBuffer('XREADGROUP', ['GROUP', 'g', 'c1', 'COUNT', REDIS_READ_COUNT, 'STREAMS', stream, '>'])) as Array<[Buffer, Array<[Buffer, Buffer[]]>]> | null;
      const entries = reply?.[0]?.[1] ?? [];
      if (entries.length === 0) break;
      for (const [, fields] of entries) if (fields[1]?.length !== VALUE_BYTES) throw new Error('redis returned a value of the wrong size');
      consumed += entries.length;
      acks.push(redis.xack(stream, 'g', ...entries.map(([id]) => id)));
    }
    await Promise.all(acks);
    const consumeSeconds = (performance.now() - consumeStart) / 1000;
    return {
      persistence: persistence === 'none' ? 'none (--save "" --appendonly no)' : 'appendonly yes, appendfsync everysec',
      produced,
      produceSeconds,
      producePerSec: produced / produceSeconds,
      consumed,
      consumeSeconds,
      consumePerSec: consumed / consumeSeconds,
    };
  } finally {
    redis.disconnect();
    await stopChild(child);
  }
}

function redisAvailability(): string | undefined {
  const which = spawnSync('which', ['redis-server'], { encoding: 'utf8' });
  if (which.status !== 0) return 'redis-server not found on PATH (Debian: apt-get install -y redis-server)';
  if (packageVersion('ioredis') === 'not installed') return 'ioredis not installed (npm install --save-exact --save-dev ioredis@5)';
  return undefined;
}

/** Strata's unkeyed rows beside Redis: `replays` gives Strata's consume rate (empty without step 3). */
export async function runRedisStep(durationMs: number, produced: ProduceResult[], replays: ReplayResult[]): Promise<RedisResult[] | { skipped: string }> {
  log('## 5. Redis Streams peer (ioredis: XADD pipelined, XREADGROUP COUNT 1000 + XACK)');
  const unavailable = redisAvailability();
  if (unavailable) {
    log(`  SKIP redis: ${unavailable}`);
    return { skipped: unavailable };
  }
  const redisResults: RedisResult[] = [];
  for (const persistence of ['none', 'aof-everysec'] as const) {
    const r = await measureRedis(persistence, durationMs);
    redisResults.push(r);
    log(`  redis ${r.persistence}: produce ${fmt(r.producePerSec)} records/s (${fmt(r.produced)}), consume ${fmt(r.consumePerSec)} records/s (${fmt(r.consumed)})`);
  }
  log('');
  const rows: string[][] = produced
    .filter((p) => !p.keyed)
    .map((p) => {
      const replay = replays.find((r) => r.topic === p.topic && r.api === 'consume');
      return [`Strata flush=${p.flush} (${p.flush === 'always' ? 'fdatasync before ack' : 'page cache, fsync every 1 s'}), ${p.api}, window ${fmt(p.window)}`, fmt(p.recordsPerSec), replay ? fmt(replay.recordsPerSec) : 'n/a'];
    });
  for (const r of redisResults) rows.push([`Redis ${r.persistence}`, fmt(r.producePerSec), fmt(r.consumePerSec)]);
  log(table(['system (100-byte records, unkeyed)', 'produce records/s', 'consume records/s'], rows));
  log('  (Strata consume = replay through client.consume; Redis consume = XREADGROUP + XACK)');
  log('');
  return redisResults;
}
