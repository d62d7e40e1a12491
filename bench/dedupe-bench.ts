/**
 * Message-id dedupe (topic key dedupe.window.ms): what it costs, for bench/RESULTS.md, "Message-id dedupe".
 *
 * 1. Produce with the window on against off, same workload, same run, alternating (off, on, off,
 *    on, ...): a server process, a fresh topic per run (8 partitions, flush=always), records of 100 B
 *    sent by sendBatch() (1,000 a call, 50,000 un-awaited), every record with a 36-character
 *    messageId, all different (the ids travel in both; only the topic's window differs). Records/s
 *    (wall time) and the server's CPU per record (every thread, /proc): the ratio on/off of each.
 * 2. Memory per million ids in a window: in a child with --expose-gc, heap used + array buffers after a full GC,
 *    (a) of a MessageIdIndex alone holding 1,000,000 ids, (b) of a server's broker after producing
 *    1,000,000 records with ids to a dedupe topic, minus the same to a topic without a window.
 *
 *   make build && node dist/bench/dedupe-bench.js [--records=500000] [--pairs=4] [--quick] [--only-on] [--server-cpu-prof=DIR]
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as os from 'node:os';
import { fileURLToPath } from 'node:url';
import { StrataClient } from '../src/client/strata-client.js';
import { makeTempDir, stopAllChildren } from './grpc/child-processes.js';
import { startStrata } from './grpc/strata-server.js';
import { processTreeCpuMs } from './process-cpu.js';

const PARTITIONS = 8;
const VALUE = Buffer.alloc(100, 'v');
const CALL_RECORDS = 1_000;
const WINDOW_RECORDS = 50_000;
const MEMORY_IDS = 1_000_000;

function option(name: string, fallback: number): number {
  const raw = process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
  return raw === undefined ? fallback : Number(raw);
}
const isQuick = process.argv.includes('--quick');
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const fmt = (value: number, digits = 0) => value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

async function produceRun(client: StrataClient, serverPid: number, topic: string, ids: readonly string[]): Promise<{ recordsPerSecond: number; serverCpuUsPerRecord: number }> {
  const producer = client.producer({ lingerMs: 5 });
  const calls: Array<Array<{ value: Buffer; messageId: string }>> = [];
  for (let start = 0; start < ids.length; start += CALL_RECORDS) calls.push(ids.slice(start, start + CALL_RECORDS).map((messageId) => ({ value: VALUE, messageId })));
  // Warm-up: metadata, the producer id, JIT (to a topic of its own, so the measured one starts empty).
  await producer.sendBatch(`${topic}-warmup`, calls[0]!).catch(() => undefined);
  const cpuBeforeMs = processTreeCpuMs(serverPid);
  const startedMs = performance.now();
  const pending: Array<Promise<unknown> | undefined> = [];
  let oldest = 0;
  for (const call of calls) {
    pending.push(producer.sendBatch(topic, call));
    if ((pending.length - oldest) * CALL_RECORDS >= WINDOW_RECORDS) {
      await pending[oldest];
      pending[oldest++] = undefined;
    }
  }
  const results = (await Promise.all(pending.slice(oldest))) as Array<Array<{ duplicate?: boolean }>>;
  const elapsedMs = performance.now() - startedMs;
  const serverCpuMs = processTreeCpuMs(serverPid) - cpuBeforeMs;
  await producer.close();
  if (results.some((r) => r.some((m) => m.duplicate))) throw new Error('a record was taken for a duplicate: the ids are all different');
  return { recordsPerSecond: (ids.length * 1000) / elapsedMs, serverCpuUsPerRecord: (serverCpuMs * 1000) / ids.length };
}

async function throughput(records: number, pairs: number): Promise<void> {
  const dataDir = makeTempDir('strata-dedupe-bench-');
  const profileDir = process.argv.find((a) => a.startsWith('--server-cpu-prof='))?.split('=')[1];
  const server = await startStrata(dataDir, profileDir);
  const client = new StrataClient({ address: server.address });
  const ids = Array.from({ length: records }, () => randomUUID());
  const off: Array<{ recordsPerSecond: number; serverCpuUsPerRecord: number }> = [];
  const on: typeof off = [];
  const ratios: number[] = [];
  const cpuRatios: number[] = [];
  console.log(`\n1. produce, dedupe on vs off: ${fmt(records)} records per run, ${pairs} pairs alternating (off first, then on first), 8 partitions, 100 B, 36-char ids, sendBatch() of 1,000, flush=always`);
  console.log('| pair | order | off records/s | on records/s | on/off | off server us/record | on server us/record | on/off CPU |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (let pair = 0; pair < pairs; pair++) {
    const order = process.argv.includes('--only-on') ? (['on'] as const) : pair % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const);
    const result: Record<string, { recordsPerSecond: number; serverCpuUsPerRecord: number }> = {};
    for (const mode of order) {
      const topic = `bench-${mode}-${pair}`;
      await client.admin.createTopic(topic, { partitions: PARTITIONS, config: mode === 'on' ? { 'dedupe.window.ms': '600000' } : {} });
      await client.admin.createTopic(`${topic}-warmup`, { partitions: 1 });
      result[mode] = await produceRun(client, server.child.pid!, topic, ids);
    }
    if (!result.off) {
      console.log(`| ${pair + 1} | on | - | ${fmt(result.on!.recordsPerSecond)} | - | - | ${fmt(result.on!.serverCpuUsPerRecord, 2)} | - |`);
      continue;
    }
    off.push(result.off!);
    on.push(result.on!);
    ratios.push(result.on!.recordsPerSecond / result.off!.recordsPerSecond);
    cpuRatios.push(result.on!.serverCpuUsPerRecord / result.off!.serverCpuUsPerRecord);
    console.log(
      `| ${pair + 1} | ${order.join(', ')} | ${fmt(result.off!.recordsPerSecond)} | ${fmt(result.on!.recordsPerSecond)} | ${fmt(ratios[pair]!, 2)} | ${fmt(result.off!.serverCpuUsPerRecord, 2)} | ${fmt(result.on!.serverCpuUsPerRecord, 2)} | ${fmt(cpuRatios[pair]!, 2)} |`,
    );
  }
  if (off.length > 0) console.log(
    `median: off ${fmt(median(off.map((r) => r.recordsPerSecond)))} records/s, on ${fmt(median(on.map((r) => r.recordsPerSecond)))} records/s; ` +
      `ratio on/off: median ${fmt(median(ratios), 2)} (range ${fmt(Math.min(...ratios), 2)}-${fmt(Math.max(...ratios), 2)}); server CPU per record on/off: median ${fmt(median(cpuRatios), 2)} (range ${fmt(Math.min(...cpuRatios), 2)}-${fmt(Math.max(...cpuRatios), 2)})`,
  );
  client.close();
  await stopAllChildren();
}

/** The memory part, in a child with --expose-gc. */
function memory(): void {
  const self = fileURLToPath(import.meta.url);
  console.log(`\n2. memory per million ids (heap used after a full GC, ${fmt(MEMORY_IDS)} ids of 36 characters)`);
  const output = execFileSync(process.execPath, ['--expose-gc', '--max-old-space-size=4096', self, '--memory-child'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  process.stdout.write(output);
}

async function memoryChild(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc!;
  const heapUsed = () => {
    gc();
    gc();
    return process.memoryUsage().heapUsed;
  };
  const { MessageIdIndex } = await import('../src/broker/message-id-index.js');
  const { silentLogger } = await import('../src/core/logger.js');
  const { ManualClock } = await import('../src/core/clock.js');
  // (a) the index alone: 1,000 appends of 1,000 ids (as the broker admits them), held in typed arrays
  // and an arena outside the JS heap's objects: heap used plus the arrays' external bytes.
  const { hashOf } = await import('../src/broker/message-id-index.js');
  const memory = () => {
    const usage = process.memoryUsage();
    return usage.heapUsed + usage.arrayBuffers;
  };
  heapUsed();
  const before = memory();
  let index: InstanceType<typeof MessageIdIndex> | undefined = new MessageIdIndex({ maxIdCount: MEMORY_IDS, logger: silentLogger, topic: 't', partition: 0 });
  const positions = Array.from({ length: CALL_RECORDS }, (_, i) => i);
  for (let start = 0; start < MEMORY_IDS; start += CALL_RECORDS) {
    const bytes = Buffer.from(Array.from({ length: CALL_RECORDS }, () => randomUUID()).join(''));
    const starts = Int32Array.from(positions, (i) => i * 36);
    const lengths = new Uint8Array(CALL_RECORDS).fill(36);
    const hashes = Int32Array.from(positions, (i) => hashOf(bytes, i * 36, 36));
    index.admit({ bytes, starts, lengths }, positions, positions, hashes, 0, 0).settle(start);
  }
  heapUsed();
  const after = memory();
  console.log(`(a) MessageIdIndex alone: ${fmt((after - before) / MEMORY_IDS, 1)} bytes per id (heap + array buffers; its arrays: ${fmt(index.retainedBytes / MEMORY_IDS, 1)} bytes per id), ${index.size} ids`);
  index = undefined;

  // (b) the broker's path: produce 1M records with ids, dedupe on minus off.
  const { Broker } = await import('../src/broker/broker.js');
  const { LogManager } = await import('../src/storage/log-manager.js');
  const { encodeRecordBatch } = await import('../src/format/record-batch-codec.js');
  const { MESSAGE_ID_HEADER } = await import('../src/format/message-ids.js');
  const results: Record<string, number> = {};
  for (const mode of ['off', 'on'] as const) {
    const dataDir = makeTempDir('strata-dedupe-memory-');
    const manager = await LogManager.open({ dataDir, logger: silentLogger, clock: new ManualClock(Date.now()) });
    await manager.createTopic('t', 1, { flush: 'never', ...(mode === 'on' ? { 'dedupe.window.ms': '600000' } : {}) });
    const broker = new Broker(manager, new ManualClock(Date.now()), silentLogger);
    heapUsed();
    const heapBefore = memory();
    for (let start = 0; start < MEMORY_IDS; start += CALL_RECORDS) {
      const batch = encodeRecordBatch(Array.from({ length: CALL_RECORDS }, () => ({ value: VALUE, headers: { [MESSAGE_ID_HEADER]: randomUUID() } })));
      await broker.produce('t', 0, batch, 'written');
    }
    heapUsed();
    results[mode] = memory() - heapBefore;
    await manager.close();
  }
  console.log(
    `(b) broker path, 1,000,000 records with ids: heap grew ${fmt(results.on! / 1e6, 1)} MB with the window on, ${fmt(results.off! / 1e6, 1)} MB off: ` +
      `${fmt((results.on! - results.off!) / MEMORY_IDS, 1)} bytes per id`,
  );
}

if (process.argv.includes('--memory-child')) {
  await memoryChild();
} else {
  const commit = (() => {
    try {
      return execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { encoding: 'utf8' }).trim();
    } catch {
      return 'unknown';
    }
  })();
  console.log(`dedupe-bench ${new Date().toISOString()} node ${process.version} ${os.cpus()[0]?.model ?? ''} x${os.cpus().length}, load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}, commit ${commit}`);
  console.log(`command: node ${process.argv.slice(1).map((a) => a.replace(/.*\/dist\//, 'dist/')).join(' ')}`);
  await throughput(option('records', isQuick ? 50_000 : 500_000), option('pairs', isQuick ? 1 : 4));
  if (!process.argv.includes('--only-on')) memory();
  console.log(`load at the end: ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
}
