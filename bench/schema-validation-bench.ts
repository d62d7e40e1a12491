/**
 * Schema validation on the produce path (topic key schema.validation): what `id` and `full` cost
 * against `none`, for bench/RESULTS.md, "Schema validation".
 *
 * A server process; an Avro schema ({id: long, text: string}) registered under each topic's
 * `<topic>-value`; records of exactly 100 bytes (Confluent framing: magic byte 0, the 4-byte schema
 * id, then the Avro binary), the same bytes in every mode: only the topic's `schema.validation`
 * differs. Each run produces --records records to a fresh topic (8 partitions, flush=interval: the
 * fastest produce path, where a per-record check weighs most) through sendBatch() (1,000 a call,
 * 50,000 un-awaited). Each round runs the three modes, the order rotated round by round (none, id,
 * full; id, full, none; full, none, id; ...). Reported per run: records/s (wall time) and the
 * server's CPU per record (its process tree, /proc); ratios id/none and full/none taken within each
 * round, and their medians.
 *
 * 2. The check alone, in this process: CPU ns per record (process.cpuUsage, so a loaded machine's
 *    waits do not count) of RecordSchemaCheck under `id` and `full` over one 1,000-record batch of
 *    the same records, beside validateBatches of that batch (what every produce pays), medians of 7
 *    samples of 2,000 passes after a warm-up. The registry is a stub that knows the one schema.
 *
 *   make build && node dist/bench/schema-validation-bench.js [--records=300000] [--rounds=6] [--server-cpu-prof=DIR] [--only=full] [--skip-produce]
 */
import { execFileSync } from 'node:child_process';
import * as os from 'node:os';
import avro from 'avsc';
import { StrataClient } from '../src/client/strata-client.js';
import { encodeRecordBatch } from '../src/format/record-batch-codec.js';
import { validateBatches } from '../src/format/record-batch.js';
import type { SchemaRegistry } from '../src/schemas/schema-registry.js';
import { RecordSchemaCheck } from '../src/server/record-schema-check.js';
import { makeTempDir, stopAllChildren } from './grpc/child-processes.js';
import { startStrata } from './grpc/strata-server.js';
import { processTreeCpuMs } from './process-cpu.js';

const PARTITIONS = 8;
const RECORD_BYTES = 100;
const CALL_RECORDS = 1_000;
const WINDOW_RECORDS = 50_000;
const MODES = ['none', 'id', 'full'] as const;
type Mode = (typeof MODES)[number];
const SCHEMA = JSON.stringify({ type: 'record', name: 'Reading', fields: [{ name: 'id', type: 'long' }, { name: 'text', type: 'string' }] });
const readingType = avro.Type.forSchema(JSON.parse(SCHEMA) as avro.Schema);

function option(name: string, fallback: number): number {
  const raw = process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
  return raw === undefined ? fallback : Number(raw);
}
const only = process.argv.find((a) => a.startsWith('--only='))?.split('=')[1] as Mode | undefined;
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const fmt = (value: number, digits = 0) => value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** Framed Avro values of exactly RECORD_BYTES bytes (the text pads it), all different. */
function framedValues(schemaId: number, count: number): Buffer[] {
  const values: Buffer[] = [];
  let textLength = RECORD_BYTES;
  for (let i = 0; i < count; i++) {
    // The id's varint grows with i, so the text shrinks now and then: start from the last length.
    let payload = readingType.toBuffer({ id: i, text: 'x'.repeat(textLength) });
    while (payload.length + 5 > RECORD_BYTES) payload = readingType.toBuffer({ id: i, text: 'x'.repeat(--textLength) });
    if (payload.length + 5 !== RECORD_BYTES) throw new Error(`no text length makes record ${i} exactly ${RECORD_BYTES} bytes`);
    const value = Buffer.alloc(RECORD_BYTES);
    value.writeInt32BE(schemaId, 1);
    payload.copy(value, 5);
    values.push(value);
  }
  return values;
}

interface Run {
  recordsPerSecond: number;
  serverCpuUsPerRecord: number;
}

async function produceRun(client: StrataClient, serverPid: number, topic: string, calls: ReadonlyArray<ReadonlyArray<{ value: Buffer }>>, recordCount: number): Promise<Run> {
  const producer = client.producer({ lingerMs: 5 });
  // Warm-up: metadata, JIT, the topic's subject ids and compiled schema (a first request of the topic).
  await producer.sendBatch(topic, calls[0]!);
  const cpuBeforeMs = processTreeCpuMs(serverPid);
  const startedMs = performance.now();
  const pending: Array<Promise<unknown> | undefined> = [];
  let oldest = 0;
  for (const call of calls) {
    pending.push(producer.sendBatch(topic, call as Array<{ value: Buffer }>));
    if ((pending.length - oldest) * CALL_RECORDS >= WINDOW_RECORDS) {
      await pending[oldest];
      pending[oldest++] = undefined;
    }
  }
  await Promise.all(pending.slice(oldest));
  const elapsedMs = performance.now() - startedMs;
  const serverCpuMs = processTreeCpuMs(serverPid) - cpuBeforeMs;
  await producer.close();
  return { recordsPerSecond: (recordCount * 1000) / elapsedMs, serverCpuUsPerRecord: (serverCpuMs * 1000) / recordCount };
}

function commit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

function checkAlone(): void {
  const batchRecords = 1_000;
  const passes = 2_000;
  const batch = encodeRecordBatch(framedValues(1, batchRecords).map((value) => ({ value })));
  const headers = validateBatches(batch, { maxBatchBytes: 1024 * 1024 });
  const registry = {
    liveIdsOf: () => new Set([1]),
    getById: () => ({ schemaType: 'AVRO', schema: SCHEMA, references: [] }),
    resolvedById: () => ({ schemaType: 'AVRO', schema: SCHEMA, references: [] }),
    onSubjectChanged: () => () => undefined,
  } as unknown as SchemaRegistry;
  const check = new RecordSchemaCheck(registry);
  const config = (schemaValidation: Mode) => ({ schemaValidation, schemaKeyValidation: false, schemaSubjectStrategy: 'topic' as const, maxBatchBytes: 1024 * 1024 });
  const nsPerRecord = (fn: () => void): number => {
    for (let i = 0; i < passes; i++) fn();
    const samples: number[] = [];
    for (let sample = 0; sample < 7; sample++) {
      const before = process.cpuUsage();
      for (let i = 0; i < passes; i++) fn();
      const used = process.cpuUsage(before);
      samples.push(((used.user + used.system) * 1000) / (passes * batchRecords));
    }
    return median(samples);
  };
  const validate = nsPerRecord(() => validateBatches(batch, { maxBatchBytes: 1024 * 1024 }));
  const id = nsPerRecord(() => check.check('t', config('id'), batch, headers));
  const full = nsPerRecord(() => check.check('t', config('full'), batch, headers));
  console.log(`\n2. the check alone (CPU ns per ${RECORD_BYTES}-byte record, batches of ${fmt(batchRecords)}): validateBatches ${fmt(validate, 1)}, id ${fmt(id, 1)}, full ${fmt(full, 1)}`);
}

async function main(): Promise<void> {
  const records = option('records', 300_000);
  const rounds = option('rounds', 6);
  console.log(`schema validation bench: ${new Date().toISOString()}, commit ${commit()}, node ${process.version}, ${os.cpus().length} x ${os.cpus()[0]?.model ?? '?'}, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log(`command: node ${process.argv.slice(1).join(' ')}`);
  if (process.argv.includes('--skip-produce')) return checkAlone();
  console.log('\n1. produce through the client to a server process');
  console.log(`${fmt(records)} records of ${RECORD_BYTES} B per run (framed Avro), ${PARTITIONS} partitions, flush=interval, sendBatch() of ${fmt(CALL_RECORDS)}, ${fmt(WINDOW_RECORDS)} un-awaited; ${rounds} rounds, modes rotated`);
  const dataDir = makeTempDir('strata-schema-validation-bench-');
  const profileDir = process.argv.find((a) => a.startsWith('--server-cpu-prof='))?.split('=')[1];
  const server = await startStrata(dataDir, profileDir);
  const client = new StrataClient({ address: server.address });
  const runs: Record<Mode, Run[]> = { none: [], id: [], full: [] };
  const idRatios: number[] = [];
  const fullRatios: number[] = [];
  const idCpuRatios: number[] = [];
  const fullCpuRatios: number[] = [];
  let calls: Array<Array<{ value: Buffer }>> = [];
  let callsSchemaId: number | undefined;
  try {
    console.log('| round | order | none records/s | id records/s | full records/s | id/none | full/none | server us/record none / id / full | CPU id/none | CPU full/none |');
    console.log('|---|---|---|---|---|---|---|---|---|---|');
    for (let round = 0; round < rounds; round++) {
      const order = only ? [only] : [...MODES.slice(round % 3), ...MODES.slice(0, round % 3)];
      const result: Partial<Record<Mode, Run>> = {};
      for (const mode of order) {
        const topic = `bench-${mode}-${round}`;
        await client.admin.createTopic(topic, { partitions: PARTITIONS, config: { flush: 'interval', 'schema.validation': mode } });
        const { id } = await client.schemas.register(`${topic}-value`, { schema: SCHEMA });
        // One schema, so one id under every topic's subject: the records are made once.
        if (id !== callsSchemaId) {
          const values = framedValues(id, records);
          calls = [];
          for (let start = 0; start < records; start += CALL_RECORDS) calls.push(values.slice(start, start + CALL_RECORDS).map((value) => ({ value })));
          callsSchemaId = id;
        }
        result[mode] = await produceRun(client, server.child.pid!, topic, calls, records);
        runs[mode].push(result[mode]);
        await client.admin.deleteTopic(topic);
      }
      const none = result.none;
      const id = result.id;
      const full = result.full;
      const ratio = (a: Run | undefined, b: Run | undefined, pick: (r: Run) => number) => (a && b ? pick(a) / pick(b) : undefined);
      const idRatio = ratio(id, none, (r) => r.recordsPerSecond);
      const fullRatio = ratio(full, none, (r) => r.recordsPerSecond);
      const idCpu = ratio(id, none, (r) => r.serverCpuUsPerRecord);
      const fullCpu = ratio(full, none, (r) => r.serverCpuUsPerRecord);
      if (idRatio !== undefined) idRatios.push(idRatio);
      if (fullRatio !== undefined) fullRatios.push(fullRatio);
      if (idCpu !== undefined) idCpuRatios.push(idCpu);
      if (fullCpu !== undefined) fullCpuRatios.push(fullCpu);
      const show = (v: number | undefined, digits = 0) => (v === undefined ? '-' : fmt(v, digits));
      console.log(
        `| ${round + 1} | ${order.join(', ')} | ${show(none?.recordsPerSecond)} | ${show(id?.recordsPerSecond)} | ${show(full?.recordsPerSecond)} | ${show(idRatio, 3)} | ${show(fullRatio, 3)} | ` +
          `${show(none?.serverCpuUsPerRecord, 2)} / ${show(id?.serverCpuUsPerRecord, 2)} / ${show(full?.serverCpuUsPerRecord, 2)} | ${show(idCpu, 3)} | ${show(fullCpu, 3)} |`,
      );
    }
    for (const mode of MODES) {
      if (runs[mode].length === 0) continue;
      console.log(`${mode}: median ${fmt(median(runs[mode].map((r) => r.recordsPerSecond)))} records/s, ${fmt(median(runs[mode].map((r) => r.serverCpuUsPerRecord)), 2)} us of server CPU per record`);
    }
    const range = (values: number[]) => `${fmt(Math.min(...values), 3)}-${fmt(Math.max(...values), 3)}`;
    if (idRatios.length > 0) console.log(`id/none records/s: median ${fmt(median(idRatios), 3)} (${range(idRatios)}); server CPU per record id/none: median ${fmt(median(idCpuRatios), 3)} (${range(idCpuRatios)})`);
    if (fullRatios.length > 0) console.log(`full/none records/s: median ${fmt(median(fullRatios), 3)} (${range(fullRatios)}); server CPU per record full/none: median ${fmt(median(fullCpuRatios), 3)} (${range(fullCpuRatios)})`);
  } finally {
    client.close();
    await stopAllChildren();
  }
  checkAlone();
  console.log(`load at the end: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
}

await main();
