/**
 * What overflow costs on the append path (issue 16, retention per use), at the storage layer: one
 * partition, flush=never, appends of 100 x 100-byte records with 100 in flight, 20 queue groups behind
 * the consumption-progress port, in a temporary data directory removed after each case. Cases, in
 * alternating rounds (the machine is shared: compare ratios within one run):
 *   none          no max
 *   reject        max.unconsumed.records far above what is written (the check, never a refusal)
 *   reject-bytes  the same with max.unconsumed.bytes (walks the segments per append)
 *   drop-oldest   max.unconsumed.records 100,000: past it, every append moves the log start (an
 *                 atomic write of the log start file; appends finishing meanwhile share the next)
 * Prints each case's median records/s and its ratio to `none`. Run: `npx tsc -p tsconfig.json &&
 * node dist/bench/overflow-bench.js [rounds=7] [appends=20000]`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeRecordBatch } from '../src/format/record-batch-codec.js';
import type { ConsumptionReader } from '../src/storage/consumption-progress.js';
import { LogManager } from '../src/storage/log-manager.js';

const rounds = Number(process.argv[2] ?? 7);
const appendCount = Number(process.argv[3] ?? 20_000);
const RECORDS_PER_APPEND = 100;
const IN_FLIGHT = 100;
const template = encodeRecordBatch(Array.from({ length: RECORDS_PER_APPEND }, () => ({ value: 'x'.repeat(100), timestampMs: Date.now() })));
const readers: ConsumptionReader[] = Array.from({ length: 20 }, (_, i) => ({ kind: 'queue', groupId: `g${i}`, consumedBeforeOffset: 0 }));
const cases: Array<[string, Record<string, string>]> = [
  ['none', {}],
  ['reject', { 'max.unconsumed.records': '1000000000', overflow: 'reject' }],
  ['reject-bytes', { 'max.unconsumed.bytes': '1000000000000', overflow: 'reject' }],
  ['drop-oldest', { 'max.unconsumed.records': '100000', overflow: 'drop-oldest' }],
];

async function recordsPerSecond(config: Record<string, string>): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'strata-overflow-bench-'));
  const manager = await LogManager.open({ dataDir: dir });
  try {
    manager.setConsumptionProgress({ readersOf: () => readers });
    await manager.createTopic('t', 1, { flush: 'never', ...config });
    const log = manager.partition('t', 0);
    const startMs = performance.now();
    let inFlight: Array<Promise<unknown>> = [];
    for (let i = 0; i < appendCount; i++) {
      inFlight.push(log.append(Buffer.from(template)));
      if (inFlight.length >= IN_FLIGHT) {
        await Promise.all(inFlight);
        inFlight = [];
      }
    }
    await Promise.all(inFlight);
    return (appendCount * RECORDS_PER_APPEND) / ((performance.now() - startMs) / 1000);
  } finally {
    await manager.close();
    await rm(dir, { recursive: true, force: true });
  }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
console.log(`node ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), load ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
console.log(`node dist/bench/overflow-bench.js ${rounds} ${appendCount}: ${RECORDS_PER_APPEND} records of 100 B per append, ${IN_FLIGHT} in flight, flush=never`);
await recordsPerSecond({}); // warm-up
const results = new Map<string, number[]>(cases.map(([name]) => [name, []]));
for (let round = 0; round < rounds; round++) for (const [name, config] of cases) results.get(name)!.push(await recordsPerSecond(config));
const baseline = median(results.get('none')!);
for (const [name, values] of results) {
  console.log(`${name.padEnd(13)} median ${(median(values) / 1e6).toFixed(2)}M records/s (${(Math.min(...values) / 1e6).toFixed(2)}-${(Math.max(...values) / 1e6).toFixed(2)}), ${(median(values) / baseline).toFixed(2)}x none`);
}
