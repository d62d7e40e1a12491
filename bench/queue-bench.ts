/**
 * Queue groups (issue 15) beside Redis Streams consumer groups and RabbitMQ quorum queues, in one
 * run on 127.0.0.1; every server a child process of its own with temporary data (removed at the end).
 *
 *   1. throughput with per-record acks: for 1, 4 and 16 consumers, a backlog of 100-byte records
 *      written before the clock starts, drained by consumers that each hold at most 100 unanswered
 *      records and acknowledge each record on its own (bench/queue/drain-result.ts; the systems in
 *      bench/queue/redis-queue.ts, rabbit-queue.ts, strata-queue.ts). The consumers all run in this
 *      process, each on its own connection. Per case: records acknowledged per second, CPU per record
 *      of this process and of the server's process tree, and ratios against the peers at the same
 *      consumer count. The cases of one consumer count run one after another, so a ratio compares
 *      runs minutes apart at most on this shared machine.
 *   2. redelivery: time from a lock's expiry to the record's next delivery, records produced in waves so
 *      that their locks run out at many different times (bench/queue/strata-redelivery.ts).
 *   3. key-ordered mode against unordered: the same keyed backlog (10,000 keys round robin) drained by
 *      4 members of a group with ordering none, then of one with ordering key, alternating per round.
 *
 *   make build && node dist/bench/queue-bench.js         full run
 *   node dist/bench/queue-bench.js --quick                smoke run (small backlogs)
 *   options: --only=redis,rabbitmq,strata,redelivery,keys  --records=N (backlog per case)
 *            --rounds=N (rounds of step 1 and 3; medians)  --partitions=N (Strata topic, default 8)
 *            --in-flight=N (unanswered records per consumer, every system; default 100)
 *            --deadline-seconds=N (per drain)  --lock-ms=N (redelivery)  --json=FILE
 *            --server-cpu-prof=DIR (the Strata server under node --cpu-prof; summarise the profile with
 *            node dist/bench/cpuprofile-top.js DIR/FILE.cpuprofile)
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeTempDir, removeTempDirs, stopAllChildren } from './grpc/child-processes.js';
import { packageVersion } from './grpc/package-version.js';
import { fmt, log } from './grpc/report-format.js';
import { startStrata } from './grpc/strata-server.js';
import { CONSUMER_COUNTS, DEFAULT_IN_FLIGHT_PER_CONSUMER, VALUE_BYTES, type DrainCase, type DrainResult } from './queue/drain-result.js';
import { printKeyOrdering, printRedelivery, printThroughput, summarize } from './queue/queue-report.js';
import { measureRabbitDrain } from './queue/rabbit-queue.js';
import { erlangVersion, rabbitMqAvailability, rabbitMqVersion, startRabbitMq, type RabbitMqNode } from './queue/rabbitmq-server.js';
import { measureRedisDrain, redisAvailability, redisVersion, startRedis, type RedisServer } from './queue/redis-queue.js';
import { KEY_COUNT, measureStrataDrain, probeQueueGroups, type StrataDrainResult, type StrataServer } from './queue/strata-queue.js';
import { measureRedelivery, type RedeliveryResult } from './queue/strata-redelivery.js';

const STEPS = ['redis', 'rabbitmq', 'strata', 'redelivery', 'keys'] as const;
const argv = process.argv.slice(2);
const option = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const isQuick = argv.includes('--quick') || process.env['STRATA_BENCH_QUICK'] === '1';
const only = new Set((option('only') ?? STEPS.join(',')).split(',').filter(Boolean));
for (const step of only) if (!(STEPS as readonly string[]).includes(step)) throw new Error(`--only: unknown step '${step}' (known: ${STEPS.join(', ')})`);
const records = Number(option('records') ?? (isQuick ? 20_000 : 200_000));
const rounds = Number(option('rounds') ?? 1);
const partitions = Number(option('partitions') ?? 8);
const deadlineMs = Number(option('deadline-seconds') ?? (isQuick ? 30 : 60)) * 1000;
const lockMs = Number(option('lock-ms') ?? 1_000);
const inFlight = Number(option('in-flight') ?? DEFAULT_IN_FLIGHT_PER_CONSUMER);
const redeliveryWaves = isQuick ? 20 : 100;
const redeliveryRecordsPerWave = 20;
for (const [name, value, max] of [['records', records, 10_000_000], ['rounds', rounds, 100], ['partitions', partitions, 1_000], ['deadline-seconds', deadlineMs / 1000, 3_600], ['lock-ms', lockMs, 600_000], ['in-flight', inFlight, 10_000]] as const) {
  if (!Number.isInteger(value) || value < 1 || value > max) throw new Error(`--${name} must be an integer in [1, ${max}], got ${value}`);
}
const jsonPath = option('json');
const serverCpuProfDir = option('server-cpu-prof');
let caseCounter = 0;
const caseName = (label: string) => `${label}-${process.pid}-${++caseCounter}`;

/** The commit the tree is at, and whether it has changes: the compiled code should be of it. */
function gitDescription(): string {
  const git = (...args: string[]) => spawnSync('git', args, { encoding: 'utf8' });
  const head = git('rev-parse', '--short', 'HEAD');
  if (head.status !== 0) return 'not a git checkout';
  const isDirty = git('status', '--porcelain', '--untracked-files=no').stdout.trim() !== '';
  return `git ${head.stdout.trim()}${isDirty ? ' with uncommitted changes' : ''}`;
}

function printEnvironment() {
  const cpus = os.cpus();
  const environment = {
    date: new Date().toISOString(),
    machine: `${cpus[0]?.model ?? 'unknown'}, ${cpus.length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.type()} ${os.release()}`,
    software: `node ${process.version}, @grpc/grpc-js ${packageVersion('@grpc/grpc-js')}, ioredis ${packageVersion('ioredis')}, amqplib ${packageVersion('amqplib')}, redis-server ${redisVersion()}, rabbitmq-server ${rabbitMqVersion()} (erlang ${erlangVersion()})`,
    command: `node ${path.relative(process.cwd(), process.argv[1] ?? '')} ${argv.join(' ')}`.trim(),
    code: gitDescription(),
    load: os.loadavg().map((l) => Number(l.toFixed(2))),
  };
  log('# Strata queue groups beside Redis Streams and RabbitMQ quorum queues');
  log(`date:     ${environment.date}`);
  log(`machine:  ${environment.machine}`);
  log(`software: ${environment.software}`);
  log(`command:  ${environment.command} (${isQuick ? 'quick' : 'full'} run)`);
  log(`code:     ${environment.code} (run \`make build\` first: dist/ is what runs)`);
  log(`load:     ${environment.load.join(' ')} (1, 5, 15 min averages at start: other work on this shared machine)`);
  log(`workload: ${VALUE_BYTES}-byte records, a backlog of ${fmt(records)} per case, ${CONSUMER_COUNTS.join(' / ')} consumers holding at most ${fmt(inFlight)} unanswered each, one ack per record; ${rounds} round(s); Strata topic of ${partitions} partitions (flush=interval; queue state durable with group commit), Redis one stream, RabbitMQ one quorum queue (persistent messages)`);
  log('');
  return environment;
}

interface Systems {
  redis?: RedisServer;
  redisDurable?: RedisServer;
  rabbit?: RabbitMqNode;
  strata?: StrataServer;
  skipped: string[];
}

async function startSystems(): Promise<Systems> {
  const systems: Systems = { skipped: [] };
  if (only.has('redis')) {
    const why = redisAvailability();
    if (why) systems.skipped.push(`Redis: SKIP, ${why}`);
    else [systems.redis, systems.redisDurable] = [await startRedis('none'), await startRedis('aof-everysec')];
  }
  if (only.has('rabbitmq')) {
    const why = rabbitMqAvailability();
    if (why) systems.skipped.push(`RabbitMQ: SKIP, ${why}`);
    else {
      try {
        systems.rabbit = await startRabbitMq();
        log(`rabbitmq node (under child-guard pid ${systems.rabbit.serverPid}) at ${systems.rabbit.url.replace(/\/\/.*@/, '//')}`);
      } catch (error) {
        systems.skipped.push(`RabbitMQ: could not start: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  }
  if (only.has('strata') || only.has('redelivery') || only.has('keys')) {
    const started = await startStrata(makeTempDir('strata-queue-bench-'), serverCpuProfDir);
    const server = { address: started.address, serverPid: started.child.pid! };
    const missing = await probeQueueGroups(server, 15_000);
    if (missing) systems.skipped.push(`Strata queue groups: MISSING, ${missing}`);
    else systems.strata = server;
    log(`strata server (under child-guard pid ${started.child.pid}) at ${started.address}`);
  }
  for (const line of systems.skipped) log(`! ${line}`);
  log('');
  return systems;
}

/** Every system's drain at one consumer count, in a fixed order. */
async function drainAll(systems: Systems, consumers: number, backlog: number): Promise<DrainResult[]> {
  const results: DrainResult[] = [];
  const run = async (system: string, measure: () => Promise<DrainResult>) => {
    try {
      const result = await measure();
      log(`  ${result.system}, ${consumers} consumers: ${fmt(result.recordsPerSec)} records/s (${fmt(result.acknowledged)} in ${fmt(result.seconds, 2)} s)${result.note ? `; ${result.note}` : ''}`);
      results.push(result);
    } catch (error) {
      log(`  ! ${system}, ${consumers} consumers failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  };
  const drainCase = (label: string): DrainCase => ({ name: caseName(label), consumers, backlog, inFlight, deadlineMs });
  if (systems.redis) await run('redis', () => measureRedisDrain(systems.redis!, drainCase('redis')));
  if (systems.redisDurable) await run('redis aof', () => measureRedisDrain(systems.redisDurable!, drainCase('redis-aof')));
  if (systems.rabbit) await run('rabbitmq', () => measureRabbitDrain(systems.rabbit!, drainCase('rabbit')));
  if (systems.strata && only.has('strata')) await run('strata', () => measureStrataDrain(systems.strata!, drainCase('strata'), { partitions, isKeyed: false }));
  return results;
}

async function main(): Promise<void> {
  const report: Record<string, unknown> = { environment: printEnvironment() };
  const systems = await startSystems();
  report['skipped'] = systems.skipped;
  try {
    log('## 1. Throughput with per-record acks');
    log(`warm-up: every system drains ${fmt(Math.max(5_000, Math.round(records / 10)))} records with 4 consumers (not counted)`);
    await drainAll(systems, 4, Math.max(5_000, Math.round(records / 10)));
    const results: DrainResult[] = [];
    for (let round = 1; round <= rounds; round++) {
      log(`round ${round} of ${rounds}`);
      for (const consumers of CONSUMER_COUNTS) results.push(...(await drainAll(systems, consumers, records)));
    }
    log('');
    printThroughput(summarize(results), { redis: systems.redis?.label, redisDurable: systems.redisDurable?.label, rabbit: 'RabbitMQ quorum queue' });
    log('');
    report['throughput'] = results;

    if (only.has('redelivery')) {
      log(`## 2. Redelivery after lock expiry (Strata; lock ${fmt(lockMs)} ms)`);
      if (!systems.strata) log('  ! not measured: Strata queue groups are not runnable in this build (above)');
      else {
        const redeliveries: RedeliveryResult[] = [];
        for (let round = 1; round <= Math.max(2, rounds); round++) redeliveries.push(await measureRedelivery(systems.strata, redeliveryWaves, redeliveryRecordsPerWave, lockMs, partitions, caseName('redelivery')));
        printRedelivery(redeliveries);
        report['redelivery'] = redeliveries;
      }
      log('');
    }

    if (only.has('keys')) {
      log(`## 3. Key-ordered mode against unordered (Strata; ${fmt(KEY_COUNT)} keys round robin, 4 members)`);
      if (!systems.strata) log('  ! not measured: Strata queue groups are not runnable in this build (above)');
      else {
        const keyResults: StrataDrainResult[] = [];
        for (let round = 1; round <= Math.max(2, rounds); round++) {
          for (const ordering of round % 2 === 1 ? (['none', 'key'] as const) : (['key', 'none'] as const)) {
            const label = `Strata, ordering ${ordering}`;
            const drainCase = { name: caseName(`keys-${ordering}`), consumers: 4, backlog: records, inFlight, deadlineMs };
            keyResults.push(await measureStrataDrain(systems.strata, drainCase, { partitions, isKeyed: true, config: { ordering }, label }));
          }
        }
        printKeyOrdering(keyResults);
        report['keyOrdering'] = keyResults;
      }
      log('');
    }
  } finally {
    await systems.rabbit?.stop();
    await stopAllChildren();
    removeTempDirs();
  }
  report['loadAverageAtEnd'] = os.loadavg().map((l) => Number(l.toFixed(2)));
  log(`load at the end: ${(report['loadAverageAtEnd'] as number[]).join(' ')}`);
  if (jsonPath) fs.writeFileSync(jsonPath, `${JSON.stringify(report, null, 2)}\n`);
  log('done: servers stopped, temporary directories removed');
}

main().catch(async (error: unknown) => {
  process.stderr.write(`queue-bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  await stopAllChildren();
  removeTempDirs();
  process.exitCode = 1;
});
