/**
 * The Producer's own CPU per record, A/B between two builds: the producer without transport (a fake
 * Produce stream acknowledging on setImmediate, as grpc-bench's step of that name) measured in CPU
 * time (process.cpuUsage, every thread), not wall time, so a loaded shared machine moves it far less
 * than a records/s figure. Each round runs every case against each build back to back (A, B, A, B),
 * and the median of each build and of the per-round ratios B/A is printed.
 *
 *   make build && node dist/bench/producer-cpu-bench.js --a=/work/main --b=. [--rounds=6] [--window=50000]
 *
 * `--a` and `--b` are checkouts with a built dist/ (default: this one for both). Each run is a child
 * process, so the two builds never share a heap or a JIT.
 */
import { execFileSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const PARTITIONS = 8;
/** Un-awaited records (grpc-bench's "window"); --window changes it. */
const DEFAULT_WINDOW_RECORDS = 50_000;
const BATCH_RECORDS = 1_000;
const CASES = [
  { api: 'sendBatch', keyed: false, records: 2_000_000 },
  { api: 'sendBatch', keyed: true, records: 2_000_000 },
  { api: 'send', keyed: false, records: 500_000 },
  { api: 'send', keyed: true, records: 500_000 },
] as const;

interface ProducerLike {
  send(topic: string, record: object): Promise<unknown>;
  sendBatch(topic: string, records: object[]): Promise<unknown>;
  close(): Promise<void>;
}

/** One case in this process, with the Producer of the build at `root`: CPU ns per record. */
async function runCase(root: string, api: 'send' | 'sendBatch', keyed: boolean, records: number, windowRecords: number): Promise<number> {
  const { Producer } = (await import(pathToFileURL(`${root}/dist/src/client/producer.js`).href)) as { Producer: new (client: unknown, options: object) => ProducerLike };
  const { systemClock } = (await import(pathToFileURL(`${root}/dist/src/core/clock.js`).href)) as { systemClock: unknown };
  const stream = new EventEmitter() as EventEmitter & { write(request: { requestId: number; partition: number }): boolean; end(): void };
  let nextOffset = 0;
  stream.write = (request) => {
    setImmediate(() => {
      stream.emit('data', { requestId: request.requestId, partition: request.partition, baseOffset: nextOffset, lastOffset: nextOffset, durability: 'ACK_LEVEL_WRITTEN', failure: null, duplicate: false });
      nextOffset += 1000;
    });
    return true;
  };
  stream.end = () => undefined;
  const fakeClient = {
    admin: { describeTopic: async () => ({ partitionCount: PARTITIONS }) },
    stubs: { produce: { produce: () => stream } },
    connection: { address: 'no-transport', isReady: true, hasBeenReady: true, unreachableSinceMs: undefined, onChange: () => () => undefined, connect: () => undefined },
    clock: systemClock,
  };
  const producer = new Producer(fakeClient, {});
  const value = 'x'.repeat(100);
  const batch = Array.from({ length: BATCH_RECORDS }, (_, i) => (keyed ? { key: `key-${(i * 7919) % 10_000}`, value } : { value }));
  const run = async (count: number) => {
    const pending: Array<Promise<unknown> | undefined> = [];
    let oldest = 0;
    const step = api === 'sendBatch' ? BATCH_RECORDS : 1;
    for (let sent = 0; sent < count; sent += step) {
      pending.push(api === 'sendBatch' ? producer.sendBatch('t', batch) : producer.send('t', batch[sent % BATCH_RECORDS]!));
      // A window of un-awaited records, awaited oldest first.
      if ((pending.length - oldest) * step >= windowRecords) {
        await pending[oldest];
        pending[oldest++] = undefined;
      }
    }
    await Promise.all(pending.slice(oldest));
  };
  await run(Math.min(records, 200_000)); // warm-up: metadata, JIT, buffer pools
  const before = process.cpuUsage();
  await run(records);
  const cpu = process.cpuUsage(before);
  await producer.close();
  return ((cpu.user + cpu.system) * 1000) / records;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function main(): Promise<void> {
  const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string]));
  if (args.has('child')) {
    const [root, api, keyed, records, windowRecords] = args.get('child')!.split(',');
    process.stdout.write(String(await runCase(root!, api as 'send' | 'sendBatch', keyed === 'keyed', Number(records), Number(windowRecords))));
    return;
  }
  const here = resolve(fileURLToPath(new URL('../..', import.meta.url)));
  const a = resolve(args.get('a') ?? here);
  const b = resolve(args.get('b') ?? here);
  const rounds = Number(args.get('rounds') ?? 6);
  const windowRecords = Number(args.get('window') ?? DEFAULT_WINDOW_RECORDS);
  console.log(`producer CPU per record, A = ${a}, B = ${b}, ${rounds} rounds (A, B back to back per case), window ${windowRecords} records, node ${process.version}`);
  const results = CASES.map(() => ({ a: [] as number[], b: [] as number[] }));
  for (let round = 0; round < rounds; round++) {
    CASES.forEach(({ api, keyed, records }, i) => {
      for (const [side, root] of [['a', a], ['b', b]] as const) {
        const out = execFileSync(process.execPath, [fileURLToPath(import.meta.url), `--child=${root},${api},${keyed ? 'keyed' : 'unkeyed'},${records},${windowRecords}`], { encoding: 'utf8' });
        results[i]![side].push(Number(out));
      }
    });
  }
  console.log('| call | keys | CPU ns/record A (median) | B (median) | B/A (median of rounds) | B/A per round |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  CASES.forEach(({ api, keyed }, i) => {
    const { a: as, b: bs } = results[i]!;
    const ratios = as.map((x, j) => bs[j]! / x);
    console.log(`| ${api} | ${keyed ? '10k keys' : 'none'} | ${median(as).toFixed(0)} | ${median(bs).toFixed(0)} | ${median(ratios).toFixed(2)} | ${ratios.map((r) => r.toFixed(2)).join(' ')} |`);
  });
}

await main();
