/**
 * Rate quotas (issue 18): does a principal over its byte-rate quota get slowed to its quota, and does
 * an unlimited principal keep its rate? For bench/RESULTS.md, "Rate quotas".
 *
 * A server process (bench/quota/quota-server.ts: static tokens, a StaticQuotaSource) with two
 * principals: A with producer_byte_rate = consumer_byte_rate = Q, B unlimited, each on a client
 * (connection) of its own. Rates are the server's own counts of record-batch bytes per topic
 * (strata_produce_bytes_total and strata_fetch_bytes_total from /metrics: what the quota meters),
 * read at the start and end of each measured interval.
 *
 * 1. produce: B alone to its topic for `--alone` s (before and again after, as the shared machine's
 *    load drifts: B's ratio is to the mean of the two); then A and B at once, each as fast as it can
 *    (sendBatch() of 100 records of 1 KiB, 8 calls outstanding); after `--warmup` s (Kafka's window
 *    lets a first burst of ten windows' worth through unthrottled, as here), A's and B's rates over
 *    `--seconds` s: A against Q, B against B alone (ratio).
 * 2. consume: the same with consumeBatches() from the earliest offset of a pre-filled topic of each
 *    (read again from the start when a reader reaches its end).
 * 3. B beside A, interleaved: B's own rate drifts 2x between readings minutes apart (the page cache,
 *    the disk as topics grow), so one before/after pair says little. Here B runs alone and beside A in
 *    alternating phases of `--phase` s (`--pairs` pairs, the order swapped every pair; A's meter keeps
 *    its window across phases, so A stays throttled), for produce and for consume: B's rate beside A
 *    over B's rate alone per pair, and their median.
 *
 *   make build && node dist/bench/quota-bench.js [--quota-mb=5] [--seconds=60] [--warmup=25] [--alone=15] [--fill-mb=160] [--pairs=6] [--phase=10] [--quick]
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { StrataClient } from '../src/client/strata-client.js';
import { hashToken } from '../src/server/auth/static-tokens.js';
import { makeTempDir, startChild, stopAllChildren } from './grpc/child-processes.js';

function option(name: string, fallback: number): number {
  const raw = process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
  return raw === undefined ? fallback : Number(raw);
}
const isQuick = process.argv.includes('--quick');
const QUOTA_BYTES_PER_S = option('quota-mb', 5) * 1_000_000;
// Long enough to hold several periods of the throttle's sawtooth (about one window, 10 s), and past
// the transient after the first burst: the meter's own model (RateMeter, virtual time, a sender of
// 1 MiB at most 4 MB/s) gives 0.91 Q over 17-47 s but 1.005 Q over 27-87 s.
const MEASURE_S = option('seconds', isQuick ? 10 : 60);
const WARMUP_S = option('warmup', isQuick ? 12 : 25);
const ALONE_S = option('alone', isQuick ? 8 : 15);
const PAIRS = option('pairs', isQuick ? 2 : 6);
const PHASE_S = option('phase', isQuick ? 5 : 10);
const VALUE = Buffer.alloc(1024, 'q');
const CALL_RECORDS = 100;
const OUTSTANDING_CALLS = 8;
const FILL_BYTES = option('fill-mb', isQuick ? 64 : 160) * 1_000_000;
const fmt = (value: number, digits = 1) => value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const mb = (bytesPerS: number) => fmt(bytesPerS / 1_000_000, 2);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Bytes per topic of one counter in the server's exposition. */
async function counters(httpPort: number, token: string, name: string): Promise<Map<string, number>> {
  const response = await fetch(`http://127.0.0.1:${httpPort}/metrics`, { headers: { authorization: `Bearer ${token}` } });
  if (!response.ok) throw new Error(`/metrics answered ${response.status}`);
  const values = new Map<string, number>();
  for (const match of (await response.text()).matchAll(new RegExp(`^${name}\\{topic="([^"]+)"\\} (\\S+)$`, 'gm'))) values.set(match[1]!, Number(match[2]));
  return values;
}

/** Produces to `topic` as fast as the producer goes until `signal`. */
async function produceFlat(client: StrataClient, topic: string, signal: AbortSignal): Promise<void> {
  const producer = client.producer({ lingerMs: 5 });
  const records = Array.from({ length: CALL_RECORDS }, () => ({ value: VALUE }));
  const outstanding = new Set<Promise<unknown>>();
  while (!signal.aborted) {
    const call = producer.sendBatch(topic, records).finally(() => outstanding.delete(call));
    outstanding.add(call);
    if (outstanding.size >= OUTSTANDING_CALLS) await Promise.race(outstanding);
  }
  await Promise.allSettled(outstanding);
  await producer.close();
}

/** Reads `topic` from the start, again and again, until `signal`. */
async function consumeFlat(client: StrataClient, topic: string, recordCount: number, signal: AbortSignal): Promise<void> {
  while (!signal.aborted) {
    let read = 0;
    const pass = new AbortController();
    const onAbort = () => pass.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    for await (const batch of client.consumeBatches(topic, { from: 'earliest', signal: pass.signal })) {
      read += batch.length;
      if (read >= recordCount) break;
    }
    signal.removeEventListener('abort', onAbort);
    pass.abort();
  }
}

interface Window {
  bytesPerS: Map<string, number>;
}

/** Runs `workers` for warmupS + measureS seconds; the rate of each topic over the last measureS. */
async function measure(httpPort: number, token: string, counter: string, workers: Array<(signal: AbortSignal) => Promise<void>>, warmupS: number, measureS: number, trace?: string): Promise<Window> {
  const stop = new AbortController();
  const running = workers.map((work) => work(stop.signal));
  await sleep(warmupS * 1000);
  const before = await counters(httpPort, token, counter);
  const startedMs = performance.now();
  // A's rate second by second (5 s steps): the throttle's sawtooth, for the RESULTS notes.
  let last = before;
  for (let elapsedS = 0; elapsedS < measureS; elapsedS += 5) {
    await sleep(Math.min(5, measureS - elapsedS) * 1000);
    if (trace) {
      const now = await counters(httpPort, token, counter);
      process.stdout.write(`    ${trace} +${Math.min(elapsedS + 5, measureS)} s: ${mb(((now.get(trace) ?? 0) - (last.get(trace) ?? 0)) / Math.min(5, measureS - elapsedS))} MB/s\n`);
      last = now;
    }
  }
  const after = await counters(httpPort, token, counter);
  const elapsedS = (performance.now() - startedMs) / 1000;
  stop.abort();
  await Promise.all(running);
  const bytesPerS = new Map<string, number>();
  for (const [topic, value] of after) bytesPerS.set(topic, (value - (before.get(topic) ?? 0)) / elapsedS);
  return { bytesPerS };
}

async function main(): Promise<void> {
  const dir = makeTempDir('strata-quota-bench-');
  const tokensFile = join(dir, 'tokens.json');
  writeFileSync(tokensFile, JSON.stringify([{ principal: 'A', sha256: hashToken('token-a') }, { principal: 'B', sha256: hashToken('token-b') }]));
  const quotas = { A: { producer_byte_rate: QUOTA_BYTES_PER_S, consumer_byte_rate: QUOTA_BYTES_PER_S } };
  const serverScript = fileURLToPath(new URL('./quota/quota-server.js', import.meta.url));
  const { match } = await startChild('quota server', process.execPath, [serverScript, join(dir, 'data'), tokensFile, JSON.stringify(quotas), 'A,B'], /^quota server listening on (\S+) (\d+)$/, { guarded: true, removeDir: dir });
  const address = match[1]!;
  const httpPort = Number(match[2]);
  const a = new StrataClient({ address, token: 'token-a' });
  const b = new StrataClient({ address, token: 'token-b' });
  const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout.trim();
  console.log(`quota bench: commit ${commit}, node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model}), load ${os.loadavg().map((l) => fmt(l, 2)).join(' ')}`);
  console.log(`command: node dist/bench/quota-bench.js ${process.argv.slice(2).join(' ')}`);
  console.log(`Q = ${mb(QUOTA_BYTES_PER_S)} MB/s for A (producer_byte_rate and consumer_byte_rate); B unlimited; B alone ${ALONE_S} s, together: ${WARMUP_S} s warm-up, then ${MEASURE_S} s measured`);
  // Disk: B's topic keeps its last 512 MB.
  const config = { 'retention.bytes': String(512 * 1024 * 1024), 'segment.bytes': String(64 * 1024 * 1024) };
  for (const topic of ['a-produce', 'b-produce', 'a-read', 'b-read']) await b.admin.createTopic(topic, { partitions: 1, config: topic.endsWith('read') ? {} : config });

  const rows: string[] = [];
  const interleavedRows: string[] = [];
  try {
    console.log('\n1. produce');
    const alone = await measure(httpPort, 'token-b', 'strata_produce_bytes_total', [(signal) => produceFlat(b, 'b-produce', signal)], 2, ALONE_S);
    const together = await measure(httpPort, 'token-b', 'strata_produce_bytes_total', [(signal) => produceFlat(a, 'a-produce', signal), (signal) => produceFlat(b, 'b-produce', signal)], WARMUP_S, MEASURE_S, 'a-produce');
    const aloneAfter = await measure(httpPort, 'token-b', 'strata_produce_bytes_total', [(signal) => produceFlat(b, 'b-produce', signal)], 2, ALONE_S);
    rows.push(row('produce', [alone.bytesPerS.get('b-produce') ?? 0, aloneAfter.bytesPerS.get('b-produce') ?? 0], together.bytesPerS.get('a-produce') ?? 0, together.bytesPerS.get('b-produce') ?? 0));

    console.log(`\n2. consume (filling two topics with ${mb(FILL_BYTES)} MB each, by B)`);
    const fillRecords = Math.ceil(FILL_BYTES / VALUE.length);
    const producer = b.producer({ lingerMs: 5 });
    for (const topic of ['a-read', 'b-read']) {
      for (let sent = 0; sent < fillRecords; sent += 1000) await producer.sendBatch(topic, Array.from({ length: Math.min(1000, fillRecords - sent) }, () => ({ value: VALUE })));
    }
    await producer.close();
    const readAlone = await measure(httpPort, 'token-b', 'strata_fetch_bytes_total', [(signal) => consumeFlat(b, 'b-read', fillRecords, signal)], 2, ALONE_S);
    const readTogether = await measure(httpPort, 'token-b', 'strata_fetch_bytes_total', [(signal) => consumeFlat(a, 'a-read', fillRecords, signal), (signal) => consumeFlat(b, 'b-read', fillRecords, signal)], WARMUP_S, MEASURE_S, 'a-read');
    const readAloneAfter = await measure(httpPort, 'token-b', 'strata_fetch_bytes_total', [(signal) => consumeFlat(b, 'b-read', fillRecords, signal)], 2, ALONE_S);
    rows.push(row('consume', [readAlone.bytesPerS.get('b-read') ?? 0, readAloneAfter.bytesPerS.get('b-read') ?? 0], readTogether.bytesPerS.get('a-read') ?? 0, readTogether.bytesPerS.get('b-read') ?? 0));

    console.log(`\n3. B beside A against B alone, interleaved: ${PAIRS} pairs of ${PHASE_S} s phases, the order swapped every pair`);
    const interleaved = async (workload: string, counter: string, bTopic: string, aTopic: string, work: (client: StrataClient, topic: string, signal: AbortSignal) => Promise<void>) => {
      const ratios: number[] = [];
      for (let pair = 0; pair < PAIRS; pair++) {
        const alonePhase = () => measure(httpPort, 'token-b', counter, [(signal) => work(b, bTopic, signal)], 1, PHASE_S);
        const besidePhase = () => measure(httpPort, 'token-b', counter, [(signal) => work(a, aTopic, signal), (signal) => work(b, bTopic, signal)], 1, PHASE_S);
        const [first, second] = pair % 2 === 0 ? [await alonePhase(), await besidePhase()] : [await besidePhase(), await alonePhase()].reverse();
        const aloneRate = first!.bytesPerS.get(bTopic) ?? 0;
        const besideRate = second!.bytesPerS.get(bTopic) ?? 0;
        const aRate = second!.bytesPerS.get(aTopic) ?? 0;
        ratios.push(besideRate / aloneRate);
        console.log(`    ${workload} pair ${pair + 1}: B alone ${mb(aloneRate)} MB/s, B beside A ${mb(besideRate)} MB/s (A ${mb(aRate)} MB/s): ${fmt(besideRate / aloneRate, 3)}`);
      }
      const sorted = [...ratios].sort((x, y) => x - y);
      const middle = sorted.length / 2;
      const median = sorted.length % 2 === 1 ? sorted[Math.floor(middle)]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
      interleavedRows.push(`| ${workload} | ${ratios.map((r) => fmt(r, 3)).join(', ')} | ${fmt(median, 3)} |`);
    };
    await interleaved('produce', 'strata_produce_bytes_total', 'b-produce', 'a-produce', (client, topic, signal) => produceFlat(client, topic, signal));
    await interleaved('consume', 'strata_fetch_bytes_total', 'b-read', 'a-read', (client, topic, signal) => consumeFlat(client, topic, fillRecords, signal));
  } finally {
    a.close();
    b.close();
  }
  console.log('\n| workload | Q MB/s | A MB/s | A / Q | B alone MB/s (before, after) | B with A MB/s | B with A / mean alone |');
  console.log('|---|---|---|---|---|---|---|');
  for (const line of rows) console.log(line);
  console.log('\n| workload | B beside A / B alone, per pair | median |');
  console.log('|---|---|---|');
  for (const line of interleavedRows) console.log(line);
}

/** B alone is measured before and after the run with A (the shared machine's load drifts): the ratio is to their mean. */
function row(workload: string, bAlone: [number, number], aRate: number, bTogether: number): string {
  const meanAlone = (bAlone[0] + bAlone[1]) / 2;
  return `| ${workload} | ${mb(QUOTA_BYTES_PER_S)} | ${mb(aRate)} | ${fmt(aRate / QUOTA_BYTES_PER_S, 3)} | ${mb(bAlone[0])}, ${mb(bAlone[1])} | ${mb(bTogether)} | ${fmt(bTogether / meanAlone, 2)} |`;
}

try {
  await main();
} finally {
  await stopAllChildren();
}
