import { Buffer } from 'node:buffer';
import { createHistogram, performance, type RecordableHistogram } from 'node:perf_hooks';
import { SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import type { StrataClient } from '../client/strata-client.js';
import { examples, parseInteger, printJson, printTable, withClient } from './cli-context.js';

interface BenchOptions {
  topic: string;
  records: number;
  recordBytes: number;
  partitions: number;
  keys: number;
  lingerMs: number;
  batchBytes: number;
  acks: 'default' | 'none' | 'written' | 'durable';
  window: number;
  /** Records per call: 1 is one send() each, more is sendBatch() of that many. */
  callRecords: number;
  json?: boolean;
}

interface BenchSummary {
  workload: string;
  records: number;
  bytes: number;
  seconds: number;
  recordsPerSecond: number;
  megabytesPerSecond: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  latencyMaxMs: number;
}

function summarize(workload: string, records: number, bytes: number, startedAtMs: number, latency: RecordableHistogram): BenchSummary {
  const seconds = (performance.now() - startedAtMs) / 1000;
  return {
    workload,
    records,
    bytes,
    seconds: round(seconds),
    recordsPerSecond: Math.round(records / seconds),
    megabytesPerSecond: round(bytes / seconds / 1e6),
    latencyP50Ms: round(latency.count ? latency.percentile(50) / 1e6 : 0),
    latencyP99Ms: round(latency.count ? latency.percentile(99) / 1e6 : 0),
    latencyMaxMs: round(latency.count ? latency.max / 1e6 : 0),
  };
}

const round = (n: number) => Math.round(n * 100) / 100;

/** A live line: records/s, MB/s and latency percentiles, redrawn a few times a second (on stderr). */
function progressBar(total: number, label: string): SingleBar {
  const bar = new SingleBar(
    {
      format: `${label} {bar} {percentage}% | {value}/{total} records | {rate} rec/s | {mbps} MB/s | p50 {p50} ms | p99 {p99} ms`,
      // Never hidden: a Ctrl-C mid-run would leave the terminal without its cursor.
      hideCursor: false,
      stream: process.stderr,
      noTTYOutput: true,
      notTTYSchedule: 1000,
    },
  );
  bar.start(total, 0, { rate: 0, mbps: 0, p50: 0, p99: 0 });
  return bar;
}

function updateBar(bar: SingleBar, done: number, bytes: number, startedAtMs: number, latency: RecordableHistogram): void {
  const seconds = Math.max(1e-3, (performance.now() - startedAtMs) / 1000);
  bar.update(done, {
    rate: Math.round(done / seconds),
    mbps: round(bytes / seconds / 1e6),
    p50: round(latency.count ? latency.percentile(50) / 1e6 : 0),
    p99: round(latency.count ? latency.percentile(99) / 1e6 : 0),
  });
}

async function benchProduce(client: StrataClient, options: BenchOptions): Promise<BenchSummary> {
  const existing = (await client.admin.listTopics()).some((t) => t.name === options.topic);
  if (!existing) await client.admin.createTopic(options.topic, { partitions: options.partitions });
  const producer = client.producer({ lingerMs: options.lingerMs, batchBytes: options.batchBytes, acks: options.acks });
  const value = Buffer.alloc(options.recordBytes, 'x');
  const latency = createHistogram();
  const bar = progressBar(options.records, 'produce');
  const startedAtMs = performance.now();
  let done = 0;
  let shownAt = 0;
  let inFlight = 0;
  let wake: (() => void) | undefined;
  let firstError: unknown;
  const record = (i: number) => ({ key: options.keys > 0 ? `key-${i % options.keys}` : null, value });
  try {
    for (let i = 0; i < options.records; i += options.callRecords) {
      const count = Math.min(options.callRecords, options.records - i);
      const sentAtMs = performance.now();
      inFlight += count;
      const sent = options.callRecords === 1 ? producer.send(options.topic, record(i)) : producer.sendBatch(options.topic, Array.from({ length: count }, (_, j) => record(i + j)));
      sent.then(
        () => {
          // The latency of the call: with sendBatch(), until its last record is acknowledged.
          latency.record(Math.max(1, Math.round((performance.now() - sentAtMs) * 1e6)));
          done += count;
          inFlight -= count;
          if (done - shownAt >= 10_000) {
            shownAt = done;
            updateBar(bar, done, done * options.recordBytes, startedAtMs, latency);
          }
          wake?.();
        },
        (error: unknown) => {
          firstError ??= error;
          inFlight -= count;
          wake?.();
        },
      );
      // A bounded window of unacknowledged sends keeps memory flat and latency honest.
      while (inFlight >= options.window) await new Promise<void>((resolve) => (wake = resolve));
      if (firstError) throw firstError;
    }
    await producer.flush();
    if (firstError) throw firstError;
  } finally {
    updateBar(bar, done, done * options.recordBytes, startedAtMs, latency);
    bar.stop();
    await producer.close().catch(() => undefined);
  }
  return summarize('produce', done, done * options.recordBytes, startedAtMs, latency);
}

async function benchConsume(client: StrataClient, options: BenchOptions): Promise<BenchSummary> {
  const latest = await client.admin.listOffsets(options.topic, 'latest');
  const earliest = await client.admin.listOffsets(options.topic, 'earliest');
  const available = latest.reduce((n, p) => n + p.offset, 0) - earliest.reduce((n, p) => n + p.offset, 0);
  const target = Math.min(options.records, available);
  // End-to-end age of each record when it arrives: now minus its timestamp.
  const latency = createHistogram();
  const bar = progressBar(target, 'consume');
  const startedAtMs = performance.now();
  let count = 0;
  let bytes = 0;
  try {
    if (target > 0) {
      for await (const record of client.consume(options.topic, { from: 'earliest' })) {
        count++;
        bytes += record.value?.length ?? 0;
        latency.record(Math.max(1, Math.round((Date.now() - record.timestampMs) * 1e6)));
        if (count % 10_000 === 0) updateBar(bar, count, bytes, startedAtMs, latency);
        if (count >= target) break;
      }
    }
  } finally {
    updateBar(bar, count, bytes, startedAtMs, latency);
    bar.stop();
  }
  return summarize('consume', count, bytes, startedAtMs, latency);
}

export function registerBenchCommand(program: Command): void {
  const bench = program.command('bench').description('measure produce or consume throughput and latency against a server').addHelpText('after', examples('strata bench produce --records 1000000 --record-bytes 100', 'strata bench consume --records 1000000'));
  const common = (command: Command) =>
    command
      .option('--topic <name>', 'topic to use (created if missing)', 'strata-bench')
      .option('--records <n>', 'records to produce or consume', parseInteger('--records', 1), 1_000_000)
      .option('--json', 'print the summary as JSON');
  common(bench.command('produce'))
    .addHelpText('after', examples('strata bench produce --records 1000000 --partitions 8 --acks durable', 'strata bench produce --call-records 1000 --json'))
    .description('send records as fast as the producer allows; prints records/s, MB/s, p50/p99 ack latency')
    .option('--record-bytes <n>', 'value size', parseInteger('--record-bytes', 0), 100)
    .option('--partitions <n>', 'partitions, if the topic is created', parseInteger('--partitions', 1), 8)
    .option('--keys <n>', 'distinct keys (0: keyless, sticky partitioning)', parseInteger('--keys', 0), 0)
    .option('--linger-ms <n>', 'producer linger', parseInteger('--linger-ms', 0), 5)
    .option('--batch-bytes <n>', 'producer batch size', parseInteger('--batch-bytes', 1), 16_384)
    .option('--acks <level>', 'default | none | written | durable', 'default')
    .option('--window <n>', 'most unacknowledged records at once (more adds queueing latency, not throughput)', parseInteger('--window', 1), 5_000)
    .option('--call-records <n>', 'records per call: 1 sends each with send(), more with sendBatch() (latency is then per call)', parseInteger('--call-records', 1), 1)
    .action(async (options: BenchOptions, command: Command) => report(await withClient(command, (client) => benchProduce(client, options)), options));
  common(bench.command('consume'))
    .addHelpText('after', examples('strata bench consume --topic strata-bench --records 1000000'))
    .description('read the topic from the earliest offset; prints records/s, MB/s, p50/p99 record age on arrival')
    .action(async (options: BenchOptions, command: Command) => report(await withClient(command, (client) => benchConsume(client, options)), options));
}

function report(summary: BenchSummary, options: { json?: boolean }): void {
  if (options.json) return printJson(summary);
  printTable(
    ['workload', 'records', 'seconds', 'records/s', 'MB/s', 'p50 ms', 'p99 ms', 'max ms'],
    [[summary.workload, summary.records, summary.seconds, summary.recordsPerSecond, summary.megabytesPerSecond, summary.latencyP50Ms, summary.latencyP99Ms, summary.latencyMaxMs]],
  );
}
