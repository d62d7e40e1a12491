/**
 * What the client's schema serializers cost: CPU per record to serialize and to deserialize ~100-byte
 * records in Avro, JSON Schema and Protobuf (the synchronous path, schema known), beside plain
 * JSON.stringify / JSON.parse of the same object in the same run; then produce through sendBatch()
 * of an in-process server, pre-encoded Avro bytes against the same objects through a
 * SerializingProducer (records/s and CPU per record, client and server sharing this process).
 *
 *   make build && node dist/bench/serde-bench.js [--records=200000] [--rounds=3]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { StrataClient } from '../src/client/strata-client.js';
import type { SchemaRegistryClient } from '../src/client/schema-codec.js';
import { schemaDeserializer } from '../src/client/schema-deserializer.js';
import { schemaSerializer, type Serializer } from '../src/client/schema-serializer.js';
import { silentLogger } from '../src/core/logger.js';
import { startServer } from '../src/server/bootstrap.js';
import { resolveServerConfig } from '../src/server/server-config.js';

const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string]));
const RECORDS = Number(args.get('records') ?? 200_000);
const ROUNDS = Number(args.get('rounds') ?? 3);

const avro = { type: 'record', name: 'Event', namespace: 'bench', fields: [{ name: 'id', type: 'long' }, { name: 'user', type: 'string' }, { name: 'kind', type: 'string' }, { name: 'amount', type: 'double' }, { name: 'note', type: 'string' }] };
const json = { title: 'Event', type: 'object', properties: { id: { type: 'integer' }, user: { type: 'string' }, kind: { type: 'string' }, amount: { type: 'number' }, note: { type: 'string' } }, required: ['id', 'user', 'kind', 'amount', 'note'] };
const proto = 'syntax = "proto3";\npackage bench;\nmessage Event {\n  int64 id = 1;\n  string user = 2;\n  string kind = 3;\n  double amount = 4;\n  string note = 5;\n}\n';
const values = Array.from({ length: 1000 }, (_, i) => ({ id: i, user: `user-${i % 97}`, kind: 'purchase', amount: i * 1.25, note: 'x'.repeat(40 + (i % 20)) }));

/** An in-memory registry: the registry's cost is the first value's only, which this does not measure. */
function memoryRegistry(): SchemaRegistryClient {
  const schemas: Array<{ schemaType: 'AVRO' | 'JSON' | 'PROTOBUF'; schema: string }> = [];
  return {
    register: async (_subject, spec) => ({ id: schemas.push({ schemaType: spec.schemaType ?? 'AVRO', schema: spec.schema }), version: 1 }),
    getById: async (id) => ({ ...schemas[id - 1]!, references: [], versions: [] }),
    getVersion: async () => {
      throw new Error('not used');
    },
    listVersions: async () => [],
  };
}

function cpuUsPerRecord(run: (i: number) => void): number {
  const start = process.cpuUsage();
  for (let i = 0; i < RECORDS; i++) run(i);
  const used = process.cpuUsage(start);
  return (used.user + used.system) / RECORDS;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const context = { topic: 'events', isKey: false };
const where = { topic: 'events', partition: 0, offset: 0, isKey: false };

console.log(`node ${process.version}, load ${loadavg().map((l) => l.toFixed(1)).join(' ')}, ${RECORDS} records, ${ROUNDS} rounds`);
console.log(`command: node ${process.execArgv.join(' ')} ${process.argv.slice(1).join(' ')}`);
const registry = memoryRegistry();
const serializers: Record<string, Serializer<unknown>> = {
  avro: schemaSerializer({ registry, format: 'avro', schema: avro }),
  json: schemaSerializer({ registry, format: 'json', schema: json }),
  protobuf: schemaSerializer({ registry, format: 'protobuf', schema: proto }),
};
const deserializer = schemaDeserializer({ registry });
const encoded: Record<string, Buffer[]> = {};
for (const [format, serializer] of Object.entries(serializers)) {
  await serializer.serialize(values[0], context);
  encoded[format] = values.map((value) => Buffer.from(serializer.serialize(value, context) as Uint8Array));
  await deserializer.deserialize(encoded[format]![0]!, where);
}
const plainEncoded = values.map((value) => Buffer.from(JSON.stringify(value)));
console.log(`payload bytes (framing included): avro ${encoded.avro![0]!.length}, json ${encoded.json![0]!.length}, protobuf ${encoded.protobuf![0]!.length}, plain JSON ${plainEncoded[0]!.length}`);
console.log('\nCPU µs per record (median of rounds): serialize / deserialize');
const rows: Array<[string, number[], number[]]> = [['plain JSON (no schema)', [], []], ...Object.keys(serializers).map((f) => [f, [], []] as [string, number[], number[]])];
for (let round = 0; round < ROUNDS; round++) {
  rows[0]![1].push(cpuUsPerRecord((i) => Buffer.from(JSON.stringify(values[i % 1000]))));
  rows[0]![2].push(cpuUsPerRecord((i) => JSON.parse(plainEncoded[i % 1000]!.toString())));
  for (const row of rows.slice(1)) {
    const serializer = serializers[row[0]]!;
    const bytes = encoded[row[0]]!;
    row[1].push(cpuUsPerRecord((i) => serializer.serialize(values[i % 1000], context)));
    row[2].push(cpuUsPerRecord((i) => deserializer.deserialize(bytes[i % 1000]!, where)));
  }
}
for (const [name, ser, de] of rows) console.log(`  ${name.padEnd(24)} ${median(ser).toFixed(2)} / ${median(de).toFixed(2)}`);

// Produce: the same records, bytes the caller encoded against objects the producer serializes.
const dir = await mkdtemp(join(tmpdir(), 'strata-serde-bench-'));
const server = await startServer(resolveServerConfig({ dataDir: dir, port: 0, httpPort: 0, host: '127.0.0.1' }), silentLogger);
const client = new StrataClient({ address: `127.0.0.1:${server.port}` });
await client.admin.createTopic('raw', { partitions: 4 });
await client.admin.createTopic('serialized', { partitions: 4 });
const BATCH = 1000;
async function produceRun(send: (start: number) => Promise<unknown>): Promise<{ recordsPerS: number; cpuUs: number }> {
  const wall = performance.now();
  const cpu = process.cpuUsage();
  const inFlight: Array<Promise<unknown>> = [];
  for (let start = 0; start < RECORDS; start += BATCH) {
    inFlight.push(send(start));
    if (inFlight.length >= 16) await inFlight.shift();
  }
  await Promise.all(inFlight);
  const used = process.cpuUsage(cpu);
  return { recordsPerS: RECORDS / ((performance.now() - wall) / 1000), cpuUs: (used.user + used.system) / RECORDS };
}
const rawProducer = client.producer();
const serializingProducer = client.producer({ valueSerializer: schemaSerializer({ registry: client.schemas, format: 'avro', schema: avro }) });
await serializingProducer.send('serialized', { value: values[0] });
const rawRecords = Array.from({ length: BATCH }, (_, i) => ({ key: `k${i % 64}`, value: encoded.avro![i]! }));
const objectRecords = Array.from({ length: BATCH }, (_, i) => ({ key: `k${i % 64}`, value: values[i] }));
const produced: Record<string, Array<{ recordsPerS: number; cpuUs: number }>> = { raw: [], serialized: [] };
for (let round = 0; round < ROUNDS; round++) {
  produced.raw!.push(await produceRun(() => rawProducer.sendBatch('raw', rawRecords)));
  produced.serialized!.push(await produceRun(() => serializingProducer.sendBatch('serialized', objectRecords)));
}
await rawProducer.close();
await serializingProducer.close();
client.close();
await server.close();
await rm(dir, { recursive: true, force: true });
console.log(`\nproduce ${RECORDS} Avro records per round through sendBatch(${BATCH}), 4 partitions, in-process server (median of rounds):`);
const summary = (name: string) => ({ recordsPerS: median(produced[name]!.map((r) => r.recordsPerS)), cpuUs: median(produced[name]!.map((r) => r.cpuUs)) });
const raw = summary('raw');
const serialized = summary('serialized');
console.log(`  pre-encoded bytes        ${Math.round(raw.recordsPerS)} records/s, ${raw.cpuUs.toFixed(2)} CPU µs per record`);
console.log(`  SerializingProducer      ${Math.round(serialized.recordsPerS)} records/s, ${serialized.cpuUs.toFixed(2)} CPU µs per record`);
console.log(`  ratio                    ${(serialized.recordsPerS / raw.recordsPerS).toFixed(3)}x records/s, ${(serialized.cpuUs / raw.cpuUs).toFixed(3)}x CPU per record`);
