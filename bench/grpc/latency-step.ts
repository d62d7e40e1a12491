/** Step 4: end-to-end latency, send -> a subscriber in a child process of its own. */
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { StrataClient } from '../../src/client/strata-client.js';
import type { BenchParams } from './bench-options.js';
import { nextLine, startChild, stopChild, type Started } from './child-processes.js';
import type { ProduceResult } from './measure-produce.js';
import { fmt, log, pct, table } from './report-format.js';
import { sleep } from './sleep.js';
import { PARTITIONS, VALUE, VALUE_BYTES, createTopic, topicName } from './workload.js';

/** Sends the latency step lets pile up unacknowledged before it skips (and reports) sends. */
const LATENCY_MAX_OUTSTANDING = 50_000;

export interface LatencyResult {
  flush: 'interval' | 'always';
  lingerMs: number;
  targetPerSec: number;
  achievedPerSec: number;
  measured: number;
  received: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
}

/**
 * The subscriber is a child process (bench/latency-subscriber.ts, its own connection and JS thread)
 * that starts at 'latest' before anything is measured; probes are sent until it has seen one. The
 * producer (its own StrataClient in this process) then sends at `ratePerSec` in 1 ms ticks, each
 * value carrying process.hrtime.bigint() at send: CLOCK_MONOTONIC, the same clock in both processes.
 * Three processes (server, producer, subscriber) share the 2 cores.
 */
export async function measureLatency(address: string, flush: 'interval' | 'always', lingerMs: number, ratePerSec: number, durationMs: number, warmupMs: number): Promise<LatencyResult> {
  const producerClient = new StrataClient({ address });
  let subscriber: Started | undefined;
  try {
    const topic = topicName(`latency-${flush}-linger${lingerMs}`);
    await createTopic(producerClient, topic, flush);
    const script = fileURLToPath(new URL('../latency-subscriber.js', import.meta.url));
    subscriber = await startChild('latency subscriber', process.execPath, [script, address, topic], /^subscribing$/);
    const probeSeen = nextLine(subscriber, /^probe$/, 15_000);
    let hasSeenProbe = false;
    probeSeen.then(() => (hasSeenProbe = true), () => undefined);
    const producer = producerClient.producer({ lingerMs });
    const makeValue = (kind: number) => {
      const value = Buffer.allocUnsafe(VALUE_BYTES);
      VALUE.copy(value);
      value.writeBigUInt64LE(process.hrtime.bigint(), 0);
      value[8] = kind;
      return value;
    };
    // Until the subscription is live: a probe to every partition, again, until one arrives.
    while (!hasSeenProbe) {
      const probes = Array.from({ length: PARTITIONS }, (_, p) => producer.send(topic, { value: makeValue(2), partition: p }));
      await Promise.allSettled(probes);
      await Promise.race([probeSeen, sleep(50)]);
    }
    let outstanding = 0;
    let sent = 0;
    let measuredSent = 0;
    let skipped = 0;
    const settled = () => void outstanding--;
    const start = performance.now();
    const measureFrom = start + warmupMs;
    const end = measureFrom + durationMs;
    for (;;) {
      const now = performance.now();
      if (now >= end) break;
      const due = Math.floor((ratePerSec * (now - start)) / 1000);
      const isMeasured = now >= measureFrom;
      while (sent < due) {
        sent++;
        if (outstanding >= LATENCY_MAX_OUTSTANDING) {
          skipped++;
          continue;
        }
        outstanding++;
        if (isMeasured) measuredSent++;
        producer.send(topic, { value: makeValue(isMeasured ? 1 : 0) }).then(settled, settled);
      }
      await sleep(1);
    }
    const sendSeconds = (performance.now() - measureFrom) / 1000;
    // Every send acknowledged, then close (see sendFor).
    const settleDeadline = performance.now() + 60_000;
    while (outstanding > 0 && performance.now() < settleDeadline) await sleep(5);
    await producer.close();
    if (skipped > 0) log(`  ! ${skipped} sends skipped: more than ${LATENCY_MAX_OUTSTANDING} unacknowledged`);
    const resultLine = nextLine(subscriber, /^result (.*)$/, 30_000);
    subscriber.child.stdin!.write(`stop ${measuredSent}\n`);
    const r = JSON.parse((await resultLine)[1]!) as { received: number; p50Ms: number; p99Ms: number; p999Ms: number; maxMs: number };
    if (r.received < measuredSent) log(`  ! the subscriber received ${r.received} of ${measuredSent} measured records`);
    return { flush, lingerMs, targetPerSec: ratePerSec, achievedPerSec: measuredSent / sendSeconds, measured: measuredSent, ...r };
  } finally {
    producerClient.close();
    if (subscriber) await stopChild(subscriber.child);
  }
}

/** Rates are shares of the peak unkeyed send() rate step 2 measured for the same flush policy. */
export async function runLatencyStep(address: string, produced: ProduceResult[], params: BenchParams): Promise<LatencyResult[]> {
  log(`## 4. End-to-end latency (send -> subscriber), ${fmt(params.latencyMs / 1000, 1)} s measured after ${params.latencyWarmupMs} ms warm-up`);
  const latencies: LatencyResult[] = [];
  for (const flush of params.latencyFlushes) {
    // The peak: the best unkeyed send() rate of this flush policy, over the windows (the latency
    // producer calls send() per record; sendBatch rates are out of its reach).
    const peak = Math.max(...produced.filter((p) => p.flush === flush && !p.keyed && p.api === 'send').map((p) => p.recordsPerSec));
    for (const share of [0.1, 0.5]) {
      for (const lingerMs of [0, 5]) {
        const rate = Math.max(1000, Math.round((peak * share) / 1000) * 1000);
        const r = await measureLatency(address, flush, lingerMs, rate, params.latencyMs, params.latencyWarmupMs);
        latencies.push(r);
        log(`  flush=${flush.padEnd(8)} ${pct(share)} of peak, linger ${lingerMs}: target ${fmt(rate)}/s, achieved ${fmt(r.achievedPerSec)}/s; p50 ${fmt(r.p50Ms, 2)} ms, p99 ${fmt(r.p99Ms, 2)} ms, p99.9 ${fmt(r.p999Ms, 2)} ms, max ${fmt(r.maxMs, 2)} ms (${fmt(r.received)} of ${fmt(r.measured)} received)`);
      }
    }
  }
  log('');
  log(
    table(
      ['flush', 'rate (target)', 'achieved', 'lingerMs', 'p50 ms', 'p99 ms', 'p99.9 ms', 'max ms'],
      latencies.map((r) => [r.flush, `${fmt(r.targetPerSec)}/s`, `${fmt(r.achievedPerSec)}/s`, String(r.lingerMs), fmt(r.p50Ms, 2), fmt(r.p99Ms, 2), fmt(r.p999Ms, 2), fmt(r.maxMs, 1)]),
    ),
  );
  log('');
  return latencies;
}
