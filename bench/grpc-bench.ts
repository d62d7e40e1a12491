/**
 * gRPC produce and consume benchmark (issue: produce/consume throughput). One run, everything on
 * 127.0.0.1, the Strata server a separate child process with a temporary data directory (removed at
 * the end); the machine is shared and noisy, so each Strata number is shown beside a transport
 * ceiling measured in the same run:
 *
 *   1. transport ceiling: bench/echo-server.ts (bare grpc-js, identity serializers, no protobuf) in a
 *      child process; 16 KiB messages pipelined with a bounded window on one bidi stream, echoed back
 *      (Echo) and, produce-like, answered with 8 bytes (Ack); fetch-like, 1 MiB messages pushed on a
 *      server stream (Pull). The Echo ceiling is measured before and after the produce runs.
 *   2. produce through StrataClient.producer() (defaults: 16 KiB batches, linger 5 ms, 5 requests in
 *      flight per partition, up to 4 queued batches each; a case ends when every send is acknowledged), 100-byte values, keyed
 *      (10k keys, round robin) and unkeyed, 8 partitions, flush=interval and flush=always; each case
 *      at two bounds on un-awaited sends (PRODUCE_WINDOWS): 2,000 and 50,000 (an application that
 *      fires and forgets; the more sends are pending, the more the client spends in GC, see
 *      bench/RESULTS.md); and through sendBatch() in calls of 1,000 records, 50,000 un-awaited
 *      (one promise per call instead of per record).
 *      Beside it, two bounds measured in the same run: the Producer with a fake transport (client CPU
 *      only), and the server's produce path fed raw batches without the Producer class.
 *   3. replay from offset 0 of each produced topic through client.consume(topic, {from: 'earliest'})
 *      and through client.consumeBatches (an array per response), checking that every offset of every
 *      partition arrives once, in order.
 *   3b. fairness: one consume() over 3 partitions, one with a 100k-record backlog: the longest run of
 *      other partitions' records before or between the small partitions' (bench/grpc/fairness-step.ts).
 *   4. end-to-end latency (send -> a subscriber started before, in a child process of its own:
 *      bench/latency-subscriber.ts), at ~10 % and ~50 % of the peak unkeyed produce rate of step 2,
 *      lingerMs 0 and 5, flush=interval and flush=always.
 *   5. Redis Streams (if `redis-server` and ioredis are there): XADD pipelined, XREADGROUP + XACK,
 *      without persistence and with appendonly yes / appendfsync everysec.
 *
 *   make build && node dist/bench/grpc-bench.js            full run (about 7 minutes)
 *   node dist/bench/grpc-bench.js --quick                   smoke run (short budgets, fewer cases)
 *   options: --only=echo,produce,replay,fairness,latency,redis  run some steps (produce feeds replay/latency)
 *            --produce-seconds=N                            time per produce case
 *            --server-cpu-prof=DIR                          run the server under node --cpu-prof
 *            --client-cpu-prof=DIR                          profile this process during the produce and
 *                                                           replay steps (DIR/client-produce.cpuprofile, ...)
 *            --window=N                                     send() with only this bound on un-awaited sends
 *            --api=send,sendBatch                           which producer calls to measure
 *            --json=FILE                                    also write the results as JSON
 *   Summarise a profile with: node dist/bench/cpuprofile-top.js FILE.cpuprofile
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { StrataClient } from '../src/client/strata-client.js';
import { STEPS, type BenchOptions, type Step } from './grpc/bench-options.js';
import { makeTempDir, removeTempDirs, stopAllChildren } from './grpc/child-processes.js';
import { runLatencyStep } from './grpc/latency-step.js';
import { warmUpProducePath } from './grpc/measure-produce.js';
import { printEnvironment } from './grpc/print-environment.js';
import { printProduceSummary, runProduceStep } from './grpc/produce-step.js';
import { runRedisStep } from './grpc/redis-step.js';
import { runFairnessStep } from './grpc/fairness-step.js';
import { runReplayStep, type ReplayResult } from './grpc/replay-step.js';
import { log } from './grpc/report-format.js';
import { startStrata } from './grpc/strata-server.js';
import { measureEchoAgain, runCeilingStep, startEcho, summarizeCeilings, type CeilingResult } from './grpc/transport-ceiling.js';

// ---------------------------------------------------------------------------------------------------
// Options

const argv = process.argv.slice(2);
function option(name: string): string | undefined {
  const prefix = `--${name}=`;
  const found = argv.find((a) => a.startsWith(prefix));
  return found?.slice(prefix.length);
}
const isQuick = argv.includes('--quick') || process.env['STRATA_BENCH_QUICK'] === '1';
const onlySteps = new Set((option('only') ?? STEPS.join(',')).split(',').map((s) => s.trim()).filter(Boolean));
for (const step of onlySteps) if (!(STEPS as readonly string[]).includes(step)) throw new Error(`--only: unknown step '${step}' (known: ${STEPS.join(', ')})`);
const runs = (step: Step) => onlySteps.has(step);

const params = isQuick
  ? { warmupMs: 500, echoMs: 1000, produceMs: 1000, latencyMs: 1000, latencyWarmupMs: 300, redisMs: 1000, latencyFlushes: ['interval'] as const }
  : { warmupMs: 1500, echoMs: 2500, produceMs: 4000, latencyMs: 3000, latencyWarmupMs: 500, redisMs: 3000, latencyFlushes: ['interval', 'always'] as const };
const options: BenchOptions = {
  argv,
  isQuick,
  params,
  produceMs: option('produce-seconds') ? Number(option('produce-seconds')) * 1000 : params.produceMs,
  produceWindows: option('window') ? [Number(option('window'))] : [2_000, 50_000],
  produceApis: new Set((option('api') ?? 'send,sendBatch').split(',')),
  serverCpuProfDir: option('server-cpu-prof'),
  clientCpuProfDir: option('client-cpu-prof'),
  jsonPath: option('json'),
};

// ---------------------------------------------------------------------------------------------------
// Main

async function main(): Promise<void> {
  const { serverCpuProfDir, clientCpuProfDir, jsonPath } = options;
  const results: Record<string, unknown> = {};
  results['environment'] = printEnvironment(options);
  const dataDir = makeTempDir('strata-grpc-bench-');
  const strata = await startStrata(dataDir, serverCpuProfDir);
  log(`strata server (under child-guard pid ${strata.child.pid}) at ${strata.address}, data dir ${dataDir}${serverCpuProfDir ? `, cpu profile to ${serverCpuProfDir}` : ''}`);
  const echo = runs('echo') ? await startEcho() : undefined;
  if (echo) log(`echo server pid ${echo.child.pid} at ${echo.address}`);
  log('');
  const client = new StrataClient({ address: strata.address });
  try {
    const producesRecords = runs('produce') || runs('replay') || runs('latency');
    if (producesRecords) await warmUpProducePath(client, params.warmupMs, options.produceWindows[0]!);

    const ceilings: CeilingResult[] = echo ? await runCeilingStep(echo, params.echoMs) : [];

    const produce = producesRecords ? await runProduceStep(client, strata.child.pid, options) : undefined;
    if (produce) {
      results['producerWithoutTransport'] = produce.producerWithoutTransport;
      results['rawProduce'] = produce.rawProduce;
    }
    const produced = produce?.produced ?? [];

    if (echo && produced.length > 0) ceilings.push(await measureEchoAgain(echo, params.echoMs));
    const ceiling = summarizeCeilings(ceilings);
    results['ceilings'] = ceilings;
    results['produce'] = produced;
    if (produce && produced.length > 0) printProduceSummary(produce, ceiling);

    let replays: ReplayResult[] = [];
    if (runs('replay') && produced.length > 0) {
      replays = await runReplayStep(client, strata.address, produced, ceiling.pullMbPerSec, clientCpuProfDir);
      results['replay'] = replays;
    }
    if (runs('fairness')) results['fairness'] = await runFairnessStep(client, strata.address);
    if (runs('latency') && produced.length > 0) results['latency'] = await runLatencyStep(strata.address, produced, params);
    if (runs('redis')) results['redis'] = await runRedisStep(params.redisMs, produced, replays);
  } finally {
    client.close();
    await stopAllChildren();
    removeTempDirs();
  }
  results['loadAverageAtEnd'] = os.loadavg().map((l) => Number(l.toFixed(2)));
  log(`load at the end: ${(results['loadAverageAtEnd'] as number[]).join(' ')}`);
  if (jsonPath) fs.writeFileSync(jsonPath, `${JSON.stringify(results, null, 2)}\n`);
  log('done: child processes stopped, temporary directories removed');
}

main().catch(async (error: unknown) => {
  process.stderr.write(`grpc-bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  await stopAllChildren();
  removeTempDirs();
  process.exitCode = 1;
});
