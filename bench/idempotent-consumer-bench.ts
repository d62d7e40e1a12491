/**
 * What IdempotentConsumer with its in-memory store costs, without transport: CPU per record of a
 * handler wrapped by it against the same handler bare (process.cpuUsage, so a loaded machine moves it
 * less than wall time), for new keys below the store's bound, new keys past it (each mark evicts), and
 * duplicates; and the heap one key takes, for an offset key and a message-id key holding a UUID.
 *
 *   make build && node --expose-gc dist/bench/idempotent-consumer-bench.js [--records=200000] [--rounds=3]
 *
 * README's "Delivery guarantees" quotes it. The store a real deployment uses (its database) costs a
 * transaction per record, which this does not measure.
 */
import { loadavg } from 'node:os';
import { IdempotentConsumer, MESSAGE_ID_HEADER, type RecordIdentity } from '../src/client/idempotent-consumer.js';
import { MemoryProcessedKeyStore } from '../src/client/memory-processed-key-store.js';

const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string]));
const RECORDS = Number(args.get('records') ?? 200_000);
const ROUNDS = Number(args.get('rounds') ?? 3);
const HEAP_KEYS = 1_000_000;

const records: RecordIdentity[] = Array.from({ length: RECORDS }, (_, i) => ({
  topic: 'orders',
  partition: i % 8,
  offset: i,
  headers: [{ key: MESSAGE_ID_HEADER, value: Buffer.from(`order-${i}`) }],
}));

/** CPU µs per record of `handle` over every record. */
async function cpuPerRecordUs(handle: (record: RecordIdentity) => Promise<void>): Promise<number> {
  const start = process.cpuUsage();
  for (const record of records) await handle(record);
  const used = process.cpuUsage(start);
  return (used.user + used.system) / RECORDS;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function heapPerKeyBytes(keyOf: (i: number) => string): Promise<number | undefined> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return undefined;
  gc();
  const before = process.memoryUsage().heapUsed;
  const store = new MemoryProcessedKeyStore({ maxKeys: HEAP_KEYS });
  for (let i = 0; i < HEAP_KEYS; i++) await store.runOnce(keyOf(i), () => undefined);
  gc();
  const after = process.memoryUsage().heapUsed;
  if (store.size !== HEAP_KEYS) throw new Error('the store lost keys');
  return (after - before) / HEAP_KEYS;
}

console.log(`node ${process.version}, load ${loadavg().map((l) => l.toFixed(1)).join(' ')}, ${RECORDS} records, ${ROUNDS} rounds`);
console.log(`command: node ${process.execArgv.join(' ')} ${process.argv.slice(1).join(' ')}`);
const results: Record<string, number[]> = { bare: [], 'new keys': [], 'new keys past the bound': [], duplicates: [] };
for (let round = 0; round < ROUNDS; round++) {
  results.bare!.push(await cpuPerRecordUs(async () => undefined));
  const roomy = new IdempotentConsumer({ store: new MemoryProcessedKeyStore({ maxKeys: RECORDS }) });
  const roomyHandle = roomy.handler(async () => undefined);
  results['new keys']!.push(await cpuPerRecordUs(roomyHandle));
  results.duplicates!.push(await cpuPerRecordUs(roomyHandle));
  const small = new IdempotentConsumer({ store: new MemoryProcessedKeyStore({ maxKeys: Math.floor(RECORDS / 4) }) });
  const smallHandle = small.handler(async () => undefined);
  await cpuPerRecordUs(smallHandle); // fill it past its bound
  results['new keys past the bound']!.push(await cpuPerRecordUs(smallHandle));
  if (roomy.counts.duplicates !== RECORDS || small.counts.duplicates !== 0) throw new Error(`unexpected counts ${JSON.stringify([roomy.counts, small.counts])}`);
}
for (const [name, values] of Object.entries(results)) {
  console.log(`${name.padEnd(24)} median ${median(values).toFixed(2)} CPU us per record (rounds: ${values.map((v) => v.toFixed(2)).join(', ')})`);
}
const offsetBytes = await heapPerKeyBytes((i) => `offset:orders/${i % 8}/${i}`);
const uuidBytes = await heapPerKeyBytes(() => `id:orders/${crypto.randomUUID()}`);
console.log(
  offsetBytes === undefined
    ? 'heap per key: SKIP (run with --expose-gc)'
    : `heap per key (${HEAP_KEYS} keys): ${offsetBytes.toFixed(0)} bytes for offset:orders/5/5, ${uuidBytes!.toFixed(0)} for id:orders/<UUID>`,
);
