/**
 * Metrics on against off (issue 17, Performance), one run, everything on 127.0.0.1:
 *
 *   1. Two Strata servers as child processes, side by side for the whole run: one with metrics on
 *      (the default; scraped every --scrape-ms while it is measured, default 15,000 as a typical
 *      Prometheus interval; 1000 to see the cost of scraping too) and one with `metrics: false` (no
 *      /metrics, nothing counted).
 *      Each round measures produce (sendBatch() in calls of 1,000 records of 100 bytes, 8 partitions,
 *      50,000 un-awaited, flush=interval: the fastest produce path, so the one where per-request
 *      counting weighs most) and then a replay of that topic from offset 0 (consumeBatches), on one
 *      server and then the other, the order swapped every round (on/off, off/on, ...). Ratios are
 *      taken per round (on / off of the same round) and their median is reported.
 *   2. Scrape time with 10,000 partitions: the metrics-on server gets topics until it holds 10,000
 *      partitions (the server's limit, internal topics included), one record in each; GET /metrics is
 *      timed without a consumer group, then with a consumer group that committed offset 0 on every
 *      client partition (a lag series per partition, and a record read per partition for its age).
 *      Beside the wall time of each scrape, the server's CPU time per scrape (its process tree).
 *
 *   make build && node dist/bench/metrics-bench.js [--rounds=6] [--produce-seconds=3] [--scrape-ms=15000] [--skip-scrape]
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { StrataClient } from '../src/client/strata-client.js';
import { SERVER_NODE_FLAGS } from '../src/cli/server-node-flags.js';
import { makeTempDir, removeTempDirs, startChild, stopAllChildren } from './grpc/child-processes.js';
import { measureProduce, SEND_BATCH_WINDOW, warmUpProducePath } from './grpc/measure-produce.js';
import { fmt, log, pct, table } from './grpc/report-format.js';
import { processTreeCpuMs } from './process-cpu.js';
import { PARTITIONS, VALUE_BYTES } from './grpc/workload.js';

const argv = process.argv.slice(2);
const option = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const ROUNDS = Number(option('rounds') ?? 6);
const PRODUCE_MS = Number(option('produce-seconds') ?? 3) * 1000;
/** 0: the metrics-on server is never scraped during the rounds (counting alone). */
const SCRAPE_INTERVAL_MS = Number(option('scrape-ms') ?? 15_000);
const SCRAPE_PARTITIONS = 10_000;
const SCRAPE_REPEATS = 10;

interface Server {
  label: 'on' | 'off';
  address: string;
  httpPort: number | undefined;
  pid: number | undefined;
  client: StrataClient;
}

async function startServer(label: Server['label']): Promise<Server> {
  const dataDir = makeTempDir(`strata-metrics-bench-${label}-`);
  const configFile = path.join(makeTempDir('strata-metrics-bench-config-'), 'server.json');
  fs.writeFileSync(configFile, JSON.stringify({ metrics: label === 'on' }));
  const bin = fileURLToPath(new URL('../../bin/strata.js', import.meta.url));
  const started = await startChild(
    `strata server (metrics ${label})`,
    process.execPath,
    [...SERVER_NODE_FLAGS, bin, 'serve', '--config', configFile, '--data-dir', dataDir, '--host', '127.0.0.1', '--port', '0', '--http-port', '0', '--log-level', 'warn'],
    /^strata listening on (\S+)$/,
    { guarded: true, removeDir: dataDir, timeoutMs: 60_000 },
  );
  const httpLine = started.tail.map((line) => /^strata http on \S+:(\d+)$/.exec(line)).find((m) => m !== null);
  const address = started.match[1]!;
  return { label, address, httpPort: httpLine ? Number(httpLine[1]) : undefined, pid: started.child.pid, client: new StrataClient({ address }) };
}

async function getMetrics(httpPort: number): Promise<{ status: number; bytes: number; ms: number; text: string }> {
  const start = performance.now();
  const response = await fetch(`http://127.0.0.1:${httpPort}/metrics`);
  const text = await response.text();
  return { status: response.status, bytes: Buffer.byteLength(text), ms: performance.now() - start, text };
}

/** Scrapes `server` every SCRAPE_INTERVAL_MS, at once first, until the returned function is called (metrics on only). */
function scrapeWhileMeasured(server: Server): () => Promise<number> {
  if (server.httpPort === undefined || server.label === 'off' || SCRAPE_INTERVAL_MS <= 0) return async () => 0;
  let count = 0;
  let running: Promise<unknown> = Promise.resolve();
  const scrapeOnce = () => (running = getMetrics(server.httpPort!).then(() => count++));
  scrapeOnce();
  const timer = setInterval(scrapeOnce, SCRAPE_INTERVAL_MS);
  return async () => {
    clearInterval(timer);
    await running;
    return count;
  };
}

async function replay(server: Server, topic: string, expected: number): Promise<number> {
  const client = new StrataClient({ address: server.address });
  const controller = new AbortController();
  let count = 0;
  const start = performance.now();
  try {
    for await (const records of client.consumeBatches(topic, { from: 'earliest', signal: controller.signal })) {
      count += records.length;
      if (count >= expected) break;
    }
  } finally {
    client.close();
  }
  return count / ((performance.now() - start) / 1000);
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

async function onAgainstOff(on: Server, off: Server) {
  log(`## 1. Metrics on (scraped every ${fmt(SCRAPE_INTERVAL_MS)} ms, once at the start) against off: ${ROUNDS} rounds, produce ${PRODUCE_MS / 1000} s per case (sendBatch of 1,000, window ${fmt(SEND_BATCH_WINDOW)}, ${PARTITIONS} partitions, ${VALUE_BYTES}-byte values), then a replay of it`);
  for (const server of [on, off]) await warmUpProducePath(server.client, 1_500, SEND_BATCH_WINDOW);
  const rows: string[][] = [];
  const ratios = { produce: [] as number[], replay: [] as number[], serverCpu: [] as number[] };
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? [on, off] : [off, on];
    const results = new Map<string, { produce: number; replay: number; serverCpuMsPerMb: number; scrapes: number }>();
    for (const server of order) {
      const stopScraping = scrapeWhileMeasured(server);
      const produced = await measureProduce(server.client, { flush: 'interval', keyed: false, window: SEND_BATCH_WINDOW, api: 'sendBatch' }, PRODUCE_MS, server.pid);
      const replayed = await replay(server, produced.topic, produced.logRecords);
      const scrapes = await stopScraping();
      results.set(server.label, { produce: produced.recordsPerSec, replay: replayed, serverCpuMsPerMb: produced.serverCpuMsPerMb, scrapes });
      rows.push([String(round + 1), server.label, fmt(produced.recordsPerSec), fmt(replayed), fmt(produced.serverCpuMsPerMb, 2), String(scrapes), fmt(produced.batchMbPerSec, 1)]);
      log(`  round ${round + 1}, metrics ${server.label}: produce ${fmt(produced.recordsPerSec)} records/s, replay ${fmt(replayed)} records/s, server ${fmt(produced.serverCpuMsPerMb, 2)} CPU ms/MB, ${scrapes} scrapes`);
    }
    const a = results.get('on')!;
    const b = results.get('off')!;
    ratios.produce.push(a.produce / b.produce);
    ratios.replay.push(a.replay / b.replay);
    ratios.serverCpu.push(a.serverCpuMsPerMb / b.serverCpuMsPerMb);
  }
  log('');
  log(table(['round', 'metrics', 'produce records/s', 'replay records/s', 'server CPU ms/MB (produce)', 'scrapes', 'produce MB/s'], rows));
  log('');
  log(`  on / off per round: produce ${ratios.produce.map((r) => r.toFixed(3)).join(', ')}; replay ${ratios.replay.map((r) => r.toFixed(3)).join(', ')}; server CPU per MB ${ratios.serverCpu.map((r) => r.toFixed(3)).join(', ')}`);
  const within = (ratio: number) => (ratio >= 0.95 ? 'within 5 %: met' : `missed (${pct(1 - ratio)} slower)`);
  log(`  median on / off: produce ${median(ratios.produce).toFixed(3)} (${within(median(ratios.produce))}), replay ${median(ratios.replay).toFixed(3)} (${within(median(ratios.replay))}), server CPU per MB ${median(ratios.serverCpu).toFixed(3)}`);
  log('');
}

async function scrapeTime(server: Server) {
  log(`## 2. One scrape with ${fmt(SCRAPE_PARTITIONS)} partitions (server with metrics on)`);
  const idle = await getMetrics(server.httpPort!);
  log(`  before: a scrape of the server as the rounds left it took ${fmt(idle.ms, 1)} ms (${fmt(idle.bytes / 1024)} KiB)`);
  const first = await getMetrics(server.httpPort!);
  const held = [...first.text.matchAll(/^strata_partitions\{status="[a-z_]+"\} (\d+)$/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
  let toCreate = SCRAPE_PARTITIONS - held;
  const topics: Array<{ name: string; partitions: number }> = [];
  const createStart = performance.now();
  for (let i = 0; toCreate > 0; i++) {
    const partitions = Math.min(1_000, toCreate);
    const name = `scrape-${i}`;
    await server.client.admin.createTopic(name, { partitions });
    topics.push({ name, partitions });
    toCreate -= partitions;
  }
  const producer = server.client.producer();
  for (const { name, partitions } of topics) await producer.sendBatch(name, Array.from({ length: partitions }, (_, partition) => ({ value: 'x', partition, timestampMs: Date.now() - 60_000 })));
  await producer.close();
  log(`  created ${topics.length} topics (${fmt(SCRAPE_PARTITIONS - held)} partitions, ${fmt(held)} there before) and put one record in each partition in ${fmt((performance.now() - createStart) / 1000, 1)} s`);
  const measure = async (what: string) => {
    const times: number[] = [];
    const cpuBeforeMs = server.pid === undefined ? 0 : processTreeCpuMs(server.pid);
    let bytes = 0;
    let lines = 0;
    for (let i = 0; i < SCRAPE_REPEATS; i++) {
      const scrape = await getMetrics(server.httpPort!);
      if (scrape.status !== 200) throw new Error(`GET /metrics answered ${scrape.status}`);
      times.push(scrape.ms);
      bytes = scrape.bytes;
      lines = scrape.text.split('\n').filter((l) => l !== '' && !l.startsWith('#')).length;
    }
    const cpuPerScrapeMs = server.pid === undefined ? NaN : (processTreeCpuMs(server.pid) - cpuBeforeMs) / SCRAPE_REPEATS;
    const sorted = [...times].sort((a, b) => a - b);
    log(`  ${what}: ${fmt(lines)} samples, ${fmt(bytes / 1024)} KiB; ${SCRAPE_REPEATS} scrapes: median ${fmt(median(times), 1)} ms, fastest ${fmt(sorted[0]!, 1)} ms, slowest ${fmt(sorted[sorted.length - 1]!, 1)} ms (target < 200 ms: ${median(times) < 200 ? 'met' : 'missed'}); server CPU ${fmt(cpuPerScrapeMs, 1)} ms per scrape`);
  };
  await measure('topics only');
  for (const { name } of topics) await server.client.admin.resetOffsets('scrape-group', { topic: name, to: 'earliest', execute: true });
  await measure(`with a group lagging by 1 on ${fmt(SCRAPE_PARTITIONS - held)} partitions`);
  log('');
}

async function main() {
  log('# Metrics benchmark');
  log(`  ${new Date().toISOString()}, node ${process.version}, ${os.cpus()[0]?.model ?? 'unknown'} x ${os.cpus().length}, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  log(`  command: node dist/bench/metrics-bench.js ${argv.join(' ')}`);
  log('');
  const on = await startServer('on');
  const off = await startServer('off');
  try {
    await onAgainstOff(on, off);
    if (!argv.includes('--skip-scrape')) await scrapeTime(on);
    log(`  load at the end: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  } finally {
    on.client.close();
    off.client.close();
    await stopAllChildren();
    removeTempDirs();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
