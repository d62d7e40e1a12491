/**
 * gRPC produce and consume benchmark (issue: produce/consume throughput). One run, everything on
 * 127.0.0.1, the Strata server a separate child process with a temporary data directory (removed at
 * the end); the machine is shared and noisy, so each Strata number is shown beside a transport
 * ceiling measured in the same run:
 *
 *   1. transport ceiling: bench/echo-server.ts (bare grpc-js, identity serializers, no protobuf) in a
 *      child process; 16 KiB messages pipelined with a bounded window on one bidi stream, echoed back
 *      (Echo) and, produce-like, answered with 8 bytes (Ack); fetch-like, 1 MiB messages pushed on a
 *      server stream (Pull). The Echo ceiling is measured before and after the produce runs.
 *   2. produce through StrataClient.producer() (defaults: 16 KiB batches, linger 5 ms, 5 requests in
 *      flight per partition, up to 4 queued batches each; a case ends when every send is acknowledged), 100-byte values, keyed
 *      (10k keys, round robin) and unkeyed, 8 partitions, flush=interval and flush=always; each case
 *      at two bounds on un-awaited sends (PRODUCE_WINDOWS): 2,000 and 50,000 (an application that
 *      fires and forgets; the more sends are pending, the more the client spends in GC, see
 *      bench/RESULTS.md); and through sendBatch() in calls of 1,000 records, 50,000 un-awaited
 *      (one promise per call instead of per record).
 *      Beside it, two bounds measured in the same run: the Producer with a fake transport (client CPU
 *      only), and the server's produce path fed raw batches without the Producer class.
 *   3. replay from offset 0 of each produced topic through client.consume(topic, {from: 'earliest'})
 *      and through client.consumeBatches (an array per response), checking that every offset of every
 *      partition arrives once, in order.
 *   4. end-to-end latency (send -> a subscriber started before, in a child process of its own:
 *      bench/latency-subscriber.ts), at ~10 % and ~50 % of the peak unkeyed produce rate of step 2,
 *      lingerMs 0 and 5, flush=interval and flush=always.
 *   5. Redis Streams (if `redis-server` and ioredis are there): XADD pipelined, XREADGROUP + XACK,
 *      without persistence and with appendonly yes / appendfsync everysec.
 *
 *   make build && node dist/bench/grpc-bench.js            full run (about 2 minutes)
 *   node dist/bench/grpc-bench.js --quick                   smoke run (short budgets, fewer cases)
 *   options: --only=echo,produce,replay,latency,redis       run some steps (produce feeds replay/latency)
 *            --produce-seconds=N                            time per produce case
 *            --server-cpu-prof=DIR                          run the server under node --cpu-prof
 *            --client-cpu-prof=DIR                          profile this process during the produce and
 *                                                           replay steps (DIR/client-produce.cpuprofile, ...)
 *            --window=N                                     send() with only this bound on un-awaited sends
 *            --api=send,sendBatch                           which producer calls to measure
 *            --json=FILE                                    also write the results as JSON
 *   Summarise a profile with: node dist/bench/cpuprofile-top.js FILE.cpuprofile
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Session } from 'node:inspector/promises';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import type { ConsumedRecord } from '../src/client/consume.js';
import { startCpuMeter } from './process-cpu.js';
import { StrataClient } from '../src/client/strata-client.js';
import { Producer } from '../src/client/producer.js';
import { encodeRecordBatch } from '../src/format/record-batch-codec.js';
import type { ProduceRequest } from '../src/generated/strata/v1/ProduceRequest.js';
import type { ProduceResponse__Output } from '../src/generated/strata/v1/ProduceResponse.js';

const KiB = 1024;
const MiB = 1024 * KiB;
/** Rates are decimal: MB/s = 1e6 bytes per second. */
const MB = 1e6;

// ---------------------------------------------------------------------------------------------------
// Options

const argv = process.argv.slice(2);
function option(name: string): string | undefined {
  const prefix = `--${name}=`;
  const found = argv.find((a) => a.startsWith(prefix));
  return found?.slice(prefix.length);
}
const isQuick = argv.includes('--quick') || process.env['STRATA_BENCH_QUICK'] === '1';
const STEPS = ['echo', 'produce', 'replay', 'latency', 'redis'] as const;
type Step = (typeof STEPS)[number];
const onlySteps = new Set((option('only') ?? STEPS.join(',')).split(',').map((s) => s.trim()).filter(Boolean));
for (const step of onlySteps) if (!(STEPS as readonly string[]).includes(step)) throw new Error(`--only: unknown step '${step}' (known: ${STEPS.join(', ')})`);
const runs = (step: Step) => onlySteps.has(step);
const serverCpuProfDir = option('server-cpu-prof');
const clientCpuProfDir = option('client-cpu-prof');
const jsonPath = option('json');

const params = isQuick
  ? { warmupMs: 500, echoMs: 1000, produceMs: 1000, latencyMs: 1000, latencyWarmupMs: 300, redisMs: 1000, latencyFlushes: ['interval'] as const }
  : { warmupMs: 1500, echoMs: 2500, produceMs: 4000, latencyMs: 3000, latencyWarmupMs: 500, redisMs: 3000, latencyFlushes: ['interval', 'always'] as const };
const produceMs = option('produce-seconds') ? Number(option('produce-seconds')) * 1000 : params.produceMs;

const PARTITIONS = 8;
const VALUE_BYTES = 100;
const KEY_COUNT = 10_000;
/** Sends not yet acknowledged, at most; the send loop waits for half of them when it is reached. */
const PRODUCE_WINDOWS = option('window') ? [Number(option('window'))] : [2_000, 50_000];
/** Which producer calls the produce step measures (--api=send,sendBatch). */
const PRODUCE_APIS = new Set((option('api') ?? 'send,sendBatch').split(','));
/** Sends the latency step lets pile up unacknowledged before it skips (and reports) sends. */
const LATENCY_MAX_OUTSTANDING = 50_000;
const ECHO_MESSAGE_BYTES = 16 * KiB;
/** Messages in flight on the echo stream (1 MiB; the producer keeps up to 8 partitions x 5 requests = 40 in flight). */
const ECHO_WINDOW = 64;
const PULL_MESSAGE_BYTES = 1 * MiB;
/** The same channel options as StrataClient, so the ceiling and Strata ride the same transport. */
const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.max_receive_message_length': 17 * MiB,
  'grpc-node.flow_control_window': 8 * MiB,
};

// ---------------------------------------------------------------------------------------------------
// Child processes and temporary directories: all stopped and removed on every way out.

const children = new Set<ChildProcess>();
const tempDirs = new Set<string>();

function removeTempDirs(): void {
  for (const dir of tempDirs) {
    try {
      fs.rmSync(dir, { recursive: true, force: true });
    } catch {
      // best effort on the way out
    }
    tempDirs.delete(dir);
  }
}

process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
  removeTempDirs();
});
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    process.stderr.write(`\n${signal}: stopping child processes\n`);
    void stopAllChildren().finally(() => {
      removeTempDirs();
      process.exit(130);
    });
  });
}

function makeTempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

interface Started {
  child: ChildProcess;
  match: RegExpMatchArray;
  /** The last lines the child printed, for error messages. */
  tail: string[];
  /** Emits 'line' for every later line of the child's stdout. */
  lines: EventEmitter;
}

/**
 * Spawns a child and waits for a line of its stdout that matches `ready`. With `guarded`, the command
 * runs under bench/child-guard.ts, which stops it when this process goes away, however it goes (the
 * strata server and redis-server do not watch their stdin; our own children do).
 */
function startChild(name: string, command: string, args: string[], ready: RegExp, options: { guarded?: boolean; removeDir?: string; timeoutMs?: number } = {}): Promise<Started> {
  const timeoutMs = options.timeoutMs ?? 20_000;
  return new Promise((resolve, reject) => {
    const guard = fileURLToPath(new URL('./child-guard.js', import.meta.url));
    const child = options.guarded
      ? spawn(process.execPath, [guard, ...(options.removeDir ? [`--rm=${options.removeDir}`] : []), command, ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
      : spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    children.add(child);
    const tail: string[] = [];
    const lines = new EventEmitter();
    let isReady = false;
    const remember = (line: string) => {
      tail.push(line);
      if (tail.length > 20) tail.shift();
    };
    const timer = setTimeout(() => fail(new Error(`${name} did not start within ${timeoutMs} ms`)), timeoutMs);
    const fail = (error: Error) => {
      if (isReady) return;
      isReady = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${error.message}\n${name} said:\n${tail.join('\n')}`));
    };
    // Both pipes are drained for the child's whole life: a full pipe would stall it.
    createInterface({ input: child.stdout! }).on('line', (line) => {
      remember(line);
      if (isReady) {
        lines.emit('line', line);
        return;
      }
      const match = line.match(ready);
      if (match) {
        isReady = true;
        clearTimeout(timer);
        resolve({ child, match, tail, lines });
      }
    });
    createInterface({ input: child.stderr! }).on('line', remember);
    child.stdin!.on('error', () => undefined);
    child.on('error', (error) => fail(error));
    child.on('exit', (code, signal) => {
      children.delete(child);
      fail(new Error(`${name} exited (code ${code}, signal ${signal}) before it was ready`));
    });
  });
}

/** SIGTERM, then SIGKILL if it has not exited after `graceMs` (longer than child-guard's own 20 s). */
async function stopChild(child: ChildProcess, graceMs = 25_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    children.delete(child);
    return;
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
  children.delete(child);
}

async function stopAllChildren(): Promise<void> {
  await Promise.all([...children].map((child) => stopChild(child)));
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

// ---------------------------------------------------------------------------------------------------
// Helpers

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function fmt(value: number, digits = 0): string {
  if (!Number.isFinite(value)) return 'n/a';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}
const pct = (ratio: number) => `${fmt(ratio * 100, 0)} %`;

function table(headers: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(headers), line(headers.map(() => '---')), ...rows.map(line)].join('\n');
}

function packageVersion(name: string): string {
  try {
    const file = fileURLToPath(new URL(`../../node_modules/${name}/package.json`, import.meta.url));
    return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
  } catch {
    return 'not installed';
  }
}

function log(text: string): void {
  process.stdout.write(`${text}\n`);
}

const results: Record<string, unknown> = {};

// ---------------------------------------------------------------------------------------------------
// 1. Transport ceiling

interface CeilingResult {
  method: string;
  messageBytes: number;
  messagesPerSec: number;
  mbPerSec: number;
  /** CPU of both processes (client and server, every thread) per MB of messages, one direction. */
  cpuMsPerMb: number;
}

/** The server processes' pids, for CPU accounting (set in main). */
const serverPids: { strata?: number; echo?: number } = {};

const identity = (buffer: Buffer): Buffer => buffer;

/** One bidi stream, `window` messages in flight, for `durationMs` after a short warm-up. */
async function measureBidi(address: string, method: 'Echo' | 'Ack', durationMs: number): Promise<CeilingResult> {
  const client = new grpc.Client(address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
  try {
    const call = client.makeBidiStreamRequest<Buffer, Buffer>(`/bench.Echo/${method}`, identity, identity);
    const payload = Buffer.alloc(ECHO_MESSAGE_BYTES, 42);
    let outstanding = 0;
    let received = 0;
    let isStopping = false;
    let isBlocked = false;
    let whenIdle: (() => void) | undefined;
    const pump = () => {
      while (!isStopping && !isBlocked && outstanding < ECHO_WINDOW) {
        outstanding++;
        if (!call.write(payload)) isBlocked = true;
      }
    };
    call.on('drain', () => {
      isBlocked = false;
      pump();
    });
    call.on('data', () => {
      outstanding--;
      received++;
      if (outstanding === 0) whenIdle?.();
      pump();
    });
    const failed = new Promise<never>((_, reject) => call.on('error', reject));
    failed.catch(() => undefined);
    pump();
    await Promise.race([sleep(Math.min(500, durationMs / 4)), failed]);
    const startCount = received;
    const start = performance.now();
    const stopCpu = startCpuMeter(serverPids.echo);
    await Promise.race([sleep(durationMs), failed]);
    const count = received - startCount;
    const seconds = (performance.now() - start) / 1000;
    const cpu = stopCpu();
    isStopping = true;
    if (outstanding > 0) await Promise.race([new Promise<void>((resolve) => (whenIdle = resolve)), failed]);
    call.end();
    const mb = (count * ECHO_MESSAGE_BYTES) / MB;
    return { method, messageBytes: ECHO_MESSAGE_BYTES, messagesPerSec: count / seconds, mbPerSec: mb / seconds, cpuMsPerMb: (cpu.clientMs + cpu.serverMs) / mb };
  } finally {
    client.close();
  }
}

/** One server stream of 1 MiB messages (fetch-like), for `durationMs` after a short warm-up. */
async function measurePull(address: string, durationMs: number): Promise<CeilingResult> {
  const client = new grpc.Client(address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
  try {
    const request = Buffer.alloc(8);
    request.writeUInt32BE(PULL_MESSAGE_BYTES, 0);
    request.writeUInt32BE(0xffff_ffff, 4);
    const call = client.makeServerStreamRequest<Buffer, Buffer>('/bench.Echo/Pull', identity, identity, request);
    let received = 0;
    call.on('data', (message: Buffer) => (received += message.length));
    const failed = new Promise<never>((_, reject) => call.on('error', (error: grpc.ServiceError) => error.code !== grpc.status.CANCELLED && reject(error)));
    failed.catch(() => undefined);
    await Promise.race([sleep(Math.min(500, durationMs / 4)), failed]);
    const startBytes = received;
    const start = performance.now();
    const stopCpu = startCpuMeter(serverPids.echo);
    await Promise.race([sleep(durationMs), failed]);
    const bytes = received - startBytes;
    const seconds = (performance.now() - start) / 1000;
    const cpu = stopCpu();
    call.cancel();
    return { method: 'Pull', messageBytes: PULL_MESSAGE_BYTES, messagesPerSec: bytes / PULL_MESSAGE_BYTES / seconds, mbPerSec: bytes / seconds / MB, cpuMsPerMb: (cpu.clientMs + cpu.serverMs) / (bytes / MB) };
  } finally {
    client.close();
  }
}

// ---------------------------------------------------------------------------------------------------
// 2. Produce

interface ProduceCase {
  flush: 'interval' | 'always';
  keyed: boolean;
  /** Records un-awaited at most. */
  window: number;
  /** `send`: one call (and promise) per record; `sendBatch`: calls of SEND_BATCH_RECORDS records. */
  api: 'send' | 'sendBatch';
}

/** Records per sendBatch() call (kafkajs users pass arrays of messages the same way). */
const SEND_BATCH_RECORDS = 1_000;
/** Records un-awaited at most with sendBatch: 50 calls. */
const SEND_BATCH_WINDOW = 50_000;

interface ProduceResult extends ProduceCase {
  topic: string;
  records: number;
  failed: number;
  seconds: number;
  recordsPerSec: number;
  /** Bytes of the batches as stored (= the `records` field on the wire), per second. */
  batchMbPerSec: number;
  /** Value bytes only (100 per record), per second. */
  valueMbPerSec: number;
  /** Records the log holds (sum of log end offsets) after the run: must equal `records`. */
  logRecords: number;
  /** CPU of the client and the server (every thread) per MB of batches. */
  cpuMsPerMb: number;
}

const VALUE = Buffer.alloc(VALUE_BYTES, 'v');
const KEYS = Array.from({ length: KEY_COUNT }, (_, i) => Buffer.from(`key-${String(i).padStart(5, '0')}`));

let topicCounter = 0;
function topicName(label: string): string {
  return `bench-${label}-${process.pid}-${++topicCounter}`;
}

/**
 * Sends for `durationMs` through send() (one record a call; the clock is read every 1024 calls) or
 * sendBatch() (SEND_BATCH_RECORDS a call, a fresh array of fresh record objects each time, as an
 * application would build them), with at most `window` records un-awaited; the time runs until the
 * last record is acknowledged.
 */
async function sendFor(producer: Producer, topic: string, keyed: boolean, durationMs: number, window: number, api: ProduceCase['api'] = 'send'): Promise<{ records: number; failed: number; seconds: number; firstError: unknown }> {
  const recordsPerCall = api === 'send' ? 1 : SEND_BATCH_RECORDS;
  let outstanding = 0;
  let acknowledged = 0;
  let failed = 0;
  let firstError: unknown;
  let wake: (() => void) | undefined;
  let isDraining = false;
  const settled = () => {
    outstanding -= recordsPerCall;
    if (wake && (isDraining ? outstanding === 0 : outstanding <= window / 2)) {
      const resume = wake;
      wake = undefined;
      resume();
    }
  };
  const onAck = () => {
    acknowledged += recordsPerCall;
    settled();
  };
  const onFail = (error: unknown) => {
    failed += recordsPerCall;
    firstError ??= error;
    settled();
  };
  let next = 0;
  const record = () => {
    const n = next++;
    return { key: keyed ? KEYS[n % KEY_COUNT]! : null, value: VALUE };
  };
  const start = performance.now();
  const deadline = start + durationMs;
  for (let i = 0; ; i++) {
    if ((api === 'sendBatch' || (i & 1023) === 0) && performance.now() >= deadline) break;
    outstanding += recordsPerCall;
    const sent = api === 'send' ? producer.send(topic, record()) : producer.sendBatch(topic, Array.from({ length: recordsPerCall }, record));
    sent.then(onAck, onFail);
    if (outstanding >= window) await new Promise<void>((resolve) => (wake = resolve));
  }
  // Every send acknowledged (the last open batches go out when their linger ends), then flush(), which
  // then has nothing left to do. Waiting for the sends first keeps this loop independent of how
  // flush() treats sends that are still in progress.
  isDraining = true;
  if (outstanding > 0) await new Promise<void>((resolve) => (wake = resolve));
  await producer.flush();
  const seconds = (performance.now() - start) / 1000;
  return { records: acknowledged, failed, seconds, firstError };
}

async function createTopic(client: StrataClient, topic: string, flush: 'interval' | 'always'): Promise<void> {
  await client.admin.createTopic(topic, { partitions: PARTITIONS, config: { flush } });
}

async function measureProduce(client: StrataClient, testCase: ProduceCase, durationMs: number): Promise<ProduceResult> {
  const topic = topicName(`${testCase.flush}-${testCase.keyed ? 'keyed' : 'unkeyed'}-${testCase.api}-w${testCase.window}`);
  await createTopic(client, topic, testCase.flush);
  const producer = client.producer();
  const stopCpu = startCpuMeter(serverPids.strata);
  const sent = await sendFor(producer, topic, testCase.keyed, durationMs, testCase.window, testCase.api);
  const cpu = stopCpu();
  await producer.close();
  if (sent.failed > 0) log(`  ! ${sent.failed} sends failed; the first: ${String(sent.firstError)}`);
  const description = await client.admin.describeTopic(topic);
  const storedBytes = description.partitions.reduce((sum, p) => sum + Number(p.sizeBytes), 0);
  const logRecords = description.partitions.reduce((sum, p) => sum + Number(p.logEndOffset) - Number(p.logStartOffset), 0);
  return {
    ...testCase,
    topic,
    records: sent.records,
    failed: sent.failed,
    seconds: sent.seconds,
    recordsPerSec: sent.records / sent.seconds,
    batchMbPerSec: storedBytes / sent.seconds / MB,
    valueMbPerSec: (sent.records * VALUE_BYTES) / sent.seconds / MB,
    logRecords,
    cpuMsPerMb: (cpu.clientMs + cpu.serverMs) / (storedBytes / MB),
  };
}

/** Records per batch in the raw produce step: 100-byte values, null keys, just under 16 KiB. */
const RAW_RECORDS_PER_BATCH = 136;
/** Produce requests in flight on the raw produce stream (the producer allows 8 partitions x 5 requests = 40, each of up to 4 queued batches). */
const RAW_IN_FLIGHT = 64;

/**
 * The server's produce path without the Producer class: batches made with encodeRecordBatch (one per
 * request, unkeyed, no producer id), written straight on one Produce stream (client.stubs.produce),
 * RAW_IN_FLIGHT requests in flight, partitions round robin, write() backpressure honoured. What
 * Strata's protocol, server and storage reach when the client does almost nothing per record.
 */
async function measureRawProduce(client: StrataClient, flush: 'interval' | 'always', durationMs: number): Promise<{ flush: string; recordsPerSec: number; batchMbPerSec: number; seconds: number; cpuMsPerMb: number }> {
  const topic = topicName(`raw-${flush}`);
  await createTopic(client, topic, flush);
  const records = Array.from({ length: RAW_RECORDS_PER_BATCH }, () => ({ key: null, value: VALUE }));
  const call = client.stubs.produce.produce() as grpc.ClientDuplexStream<ProduceRequest, ProduceResponse__Output>;
  let inFlight = 0;
  let acknowledged = 0;
  let bytes = 0;
  let requestId = 1;
  let isBlocked = false;
  const start = performance.now();
  const deadline = start + durationMs;
  const stopCpu = startCpuMeter(serverPids.strata);
  await new Promise<void>((resolve, reject) => {
    const pump = () => {
      while (!isBlocked && inFlight < RAW_IN_FLIGHT && performance.now() < deadline) {
        const batch = encodeRecordBatch(records, {});
        bytes += batch.length;
        inFlight++;
        if (!call.write({ requestId: requestId, topic, partition: requestId % PARTITIONS, records: batch })) isBlocked = true;
        requestId++;
      }
      if (inFlight === 0) resolve();
    };
    call.on('drain', () => {
      isBlocked = false;
      pump();
    });
    call.on('data', (response: ProduceResponse__Output) => {
      if (response.failure) return reject(new Error(`raw produce failed: ${response.failure.code} ${response.failure.message}`));
      inFlight--;
      acknowledged++;
      pump();
    });
    call.on('error', reject);
    pump();
  });
  const seconds = (performance.now() - start) / 1000;
  const cpu = stopCpu();
  call.end();
  return { flush, recordsPerSec: (acknowledged * RAW_RECORDS_PER_BATCH) / seconds, batchMbPerSec: bytes / seconds / MB, seconds, cpuMsPerMb: (cpu.clientMs + cpu.serverMs) / (bytes / MB) };
}

/**
 * The producer with no transport: a fake StrataClient whose Produce stream acknowledges every request
 * on setImmediate (and a topic of PARTITIONS partitions). What remains is the client's own CPU per
 * record: Producer.send, batching, encoding, the acknowledgement promises. An upper bound for step 2.
 */
async function measureProducerWithoutTransport(keyed: boolean, window: number, durationMs: number, api: ProduceCase['api']): Promise<{ recordsPerSec: number }> {
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
  } as unknown as StrataClient;
  const producer = new Producer(fakeClient, {});
  const sent = await sendFor(producer, 'no-transport', keyed, durationMs, window, api);
  await producer.close();
  return { recordsPerSec: sent.records / sent.seconds };
}

/** Profiles this process (node:inspector) while `body` runs, if --client-cpu-prof was given. */
async function profiled<T>(name: string, body: () => Promise<T>): Promise<T> {
  if (!clientCpuProfDir) return body();
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  try {
    return await body();
  } finally {
    const { profile } = await session.post('Profiler.stop');
    fs.mkdirSync(clientCpuProfDir, { recursive: true });
    const file = path.join(clientCpuProfDir, `client-${name}.cpuprofile`);
    fs.writeFileSync(file, JSON.stringify(profile));
    log(`  (client CPU profile of this step: ${file})`);
    session.disconnect();
  }
}

// ---------------------------------------------------------------------------------------------------
// 3. Replay

interface ReplayResult {
  topic: string;
  api: 'consume' | 'consumeBatches';
  records: number;
  seconds: number;
  recordsPerSec: number;
  mbPerSec: number;
  /** Records out of order, repeated or missing per partition: must be 0. */
  anomalies: number;
}

async function measureReplay(client: StrataClient, topic: string, expected: number, storedBytes: number, api: ReplayResult['api']): Promise<ReplayResult> {
  const controller = new AbortController();
  const nextOffset = new Array<number>(PARTITIONS).fill(0);
  let anomalies = 0;
  let count = 0;
  let lastProgress = count;
  const watchdog = setInterval(() => {
    if (count === lastProgress) controller.abort();
    lastProgress = count;
  }, 10_000);
  const start = performance.now();
  try {
    if (expected > 0) {
      const check = (record: ConsumedRecord) => {
        if (record.offset !== nextOffset[record.partition]) anomalies++;
        nextOffset[record.partition] = record.offset + 1;
        if (record.value === null || record.value.length !== VALUE_BYTES) anomalies++;
        count++;
      };
      if (api === 'consume') {
        for await (const record of client.consume(topic, { from: 'earliest', signal: controller.signal })) {
          check(record);
          if (count >= expected) break;
        }
      } else {
        for await (const records of client.consumeBatches(topic, { from: 'earliest', signal: controller.signal })) {
          for (const record of records) check(record);
          if (count >= expected) break;
        }
      }
    }
  } finally {
    clearInterval(watchdog);
  }
  const seconds = (performance.now() - start) / 1000;
  if (count < expected) {
    log(`  ! replay of ${topic} stalled at ${count} of ${expected} records (no progress for 10 s)`);
    anomalies += expected - count;
  }
  return { topic, api, records: count, seconds, recordsPerSec: count / seconds, mbPerSec: storedBytes / seconds / MB, anomalies };
}

// ---------------------------------------------------------------------------------------------------
// 4. End-to-end latency

interface LatencyResult {
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

/** Waits for a line of a started child that matches `pattern`. */
function nextLine(started: Started, pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    const onLine = (line: string) => {
      const match = line.match(pattern);
      if (!match) return;
      cleanup();
      resolve(match);
    };
    const onExit = () => {
      cleanup();
      reject(new Error(`the child exited while waiting for ${pattern}:\n${started.tail.join('\n')}`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms:\n${started.tail.join('\n')}`));
    }, timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      started.lines.off('line', onLine);
      started.child.off('exit', onExit);
    };
    started.lines.on('line', onLine);
    started.child.on('exit', onExit);
  });
}

/**
 * The subscriber is a child process (bench/latency-subscriber.ts, its own connection and JS thread)
 * that starts at 'latest' before anything is measured; probes are sent until it has seen one. The
 * producer (its own StrataClient in this process) then sends at `ratePerSec` in 1 ms ticks, each
 * value carrying process.hrtime.bigint() at send: CLOCK_MONOTONIC, the same clock in both processes.
 * Three processes (server, producer, subscriber) share the 2 cores.
 */
async function measureLatency(address: string, flush: 'interval' | 'always', lingerMs: number, ratePerSec: number, durationMs: number, warmupMs: number): Promise<LatencyResult> {
  const producerClient = new StrataClient({ address });
  let subscriber: Started | undefined;
  try {
    const topic = topicName(`latency-${flush}-linger${lingerMs}`);
    await createTopic(producerClient, topic, flush);
    const script = fileURLToPath(new URL('./latency-subscriber.js', import.meta.url));
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

// ---------------------------------------------------------------------------------------------------
// 5. Redis Streams

interface RedisResult {
  persistence: string;
  produced: number;
  produceSeconds: number;
  producePerSec: number;
  consumed: number;
  consumeSeconds: number;
  consumePerSec: number;
}

const REDIS_PIPELINE = 1000;
const REDIS_PIPELINES_IN_FLIGHT = 8;
const REDIS_READ_COUNT = 1000;

async function measureRedis(persistence: 'none' | 'aof-everysec', durationMs: number): Promise<RedisResult> {
  const { Redis } = await import('ioredis');
  const dir = makeTempDir('strata-grpc-bench-redis-');
  const port = await freePort();
  const persistenceArgs = persistence === 'none' ? ['--appendonly', 'no'] : ['--appendonly', 'yes', '--appendfsync', 'everysec'];
  const { child } = await startChild(
    'redis-server',
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...persistenceArgs, '--dir', dir, '--daemonize', 'no', '--protected-mode', 'yes'],
    /Ready to accept connections/,
    { guarded: true, removeDir: dir },
  );
  const redis = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    const stream = 'bench';
    // Produce: pipelines of REDIS_PIPELINE XADDs, REDIS_PIPELINES_IN_FLIGHT of them at once.
    let produced = 0;
    const start = performance.now();
    const deadline = start + durationMs;
    const inFlight = new Set<Promise<unknown>>();
    while (performance.now() < deadline) {
      const pipeline = redis.pipeline();
      for (let i = 0; i < REDIS_PIPELINE; i++) pipeline.xadd(stream, '*', 'v', VALUE);
      const done: Promise<unknown> = pipeline.exec().then((replies) => {
        for (const [error] of replies ?? []) if (error) throw error;
        produced += REDIS_PIPELINE;
        inFlight.delete(done);
      });
      inFlight.add(done);
      if (inFlight.size >= REDIS_PIPELINES_IN_FLIGHT) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
    const produceSeconds = (performance.now() - start) / 1000;
    // Consume: one consumer of a group, XREADGROUP COUNT 1000, each batch acknowledged with XACK
    // (sent without waiting; the next read follows it on the same connection).
    await redis.xgroup('CREATE', stream, 'g', '0');
    let consumed = 0;
    const acks: Array<Promise<unknown>> = [];
    const consumeStart = performance.now();
    while (consumed < produced) {
      const reply = (await redis.callBuffer('XREADGROUP', ['GROUP', 'g', 'c1', 'COUNT', REDIS_READ_COUNT, 'STREAMS', stream, '>'])) as Array<[Buffer, Array<[Buffer, Buffer[]]>]> | null;
      const entries = reply?.[0]?.[1] ?? [];
      if (entries.length === 0) break;
      for (const [, fields] of entries) if (fields[1]?.length !== VALUE_BYTES) throw new Error('redis returned a value of the wrong size');
      consumed += entries.length;
      acks.push(redis.xack(stream, 'g', ...entries.map(([id]) => id)));
    }
    await Promise.all(acks);
    const consumeSeconds = (performance.now() - consumeStart) / 1000;
    return {
      persistence: persistence === 'none' ? 'none (--save "" --appendonly no)' : 'appendonly yes, appendfsync everysec',
      produced,
      produceSeconds,
      producePerSec: produced / produceSeconds,
      consumed,
      consumeSeconds,
      consumePerSec: consumed / consumeSeconds,
    };
  } finally {
    redis.disconnect();
    await stopChild(child);
  }
}

function redisAvailability(): string | undefined {
  const which = spawnSync('which', ['redis-server'], { encoding: 'utf8' });
  if (which.status !== 0) return 'redis-server not found on PATH (Debian: apt-get install -y redis-server)';
  if (packageVersion('ioredis') === 'not installed') return 'ioredis not installed (npm install --save-exact --save-dev ioredis@5)';
  return undefined;
}

// ---------------------------------------------------------------------------------------------------
// Main

async function startStrata(dataDir: string): Promise<{ child: ChildProcess; address: string }> {
  const bin = fileURLToPath(new URL('../../bin/strata.js', import.meta.url));
  const nodeArgs = serverCpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${serverCpuProfDir}`] : [];
  const { child, match } = await startChild(
    'strata server',
    process.execPath,
    [...nodeArgs, bin, 'serve', '--data-dir', dataDir, '--host', '127.0.0.1', '--port', '0', '--log-level', 'warn'],
    /^strata listening on (\S+)$/,
    { guarded: true, removeDir: dataDir },
  );
  return { child, address: match[1]! };
}

async function startEcho(): Promise<{ child: ChildProcess; address: string }> {
  const script = fileURLToPath(new URL('./echo-server.js', import.meta.url));
  const { child, match } = await startChild('echo server', process.execPath, [script], /^echo listening on (\S+)$/);
  return { child, address: match[1]! };
}

/** A short hash of the compiled code that runs (dist/src/<dir>): src/ changes while people work. */
function codeHash(dir: string): string {
  const root = fileURLToPath(new URL(`../src/${dir}`, import.meta.url));
  const hash = createHash('sha256');
  const walk = (d: string) => {
    for (const entry of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const full = path.join(d, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.js')) hash.update(entry.name).update(fs.readFileSync(full));
    }
  };
  try {
    walk(root);
    return hash.digest('hex').slice(0, 12);
  } catch {
    return 'unknown';
  }
}

function printEnvironment(): void {
  const cpus = os.cpus();
  const redisVersion = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  const environment = {
    date: new Date().toISOString(),
    node: process.version,
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    platform: `${os.type()} ${os.release()}`,
    grpcJs: packageVersion('@grpc/grpc-js'),
    ioredis: packageVersion('ioredis'),
    redisServer: redisVersion.status === 0 ? redisVersion.stdout.trim().split(/\s+/).find((w) => w.startsWith('v='))?.slice(2) ?? 'unknown' : 'absent',
    command: `node ${path.relative(process.cwd(), process.argv[1] ?? '')} ${argv.join(' ')}`.trim(),
    mode: isQuick ? 'quick' : 'full',
    loadAverageAtStart: os.loadavg().map((l) => Number(l.toFixed(2))),
    code: { client: codeHash('client'), server: codeHash('server'), broker: codeHash('broker'), storage: codeHash('storage'), format: codeHash('format') },
  };
  results['environment'] = environment;
  log('# Strata gRPC produce/consume benchmark');
  log(`date:     ${environment.date}`);
  log(`machine:  ${environment.cpu}, ${environment.cores} cores, ${environment.memoryGiB} GiB, ${environment.platform}`);
  log(`software: node ${environment.node}, @grpc/grpc-js ${environment.grpcJs}, ioredis ${environment.ioredis}, redis-server ${environment.redisServer}`);
  log(`command:  ${environment.command}  (${environment.mode} run)`);
  log(`code:     ${Object.entries(environment.code).map(([k, v]) => `${k} ${v}`).join(', ')} (sha-256 of dist/src/<dir>/**/*.js)`);
  log(`load:     ${environment.loadAverageAtStart.join(' ')} (1, 5, 15 min averages at start: other work on this shared machine)`);
  log(`workload: ${VALUE_BYTES}-byte values, ${PARTITIONS} partitions, keyed = ${KEY_COUNT} keys round robin; producer defaults (16 KiB batches, linger 5 ms, 5 requests in flight per partition, up to 4 queued batches a request); send() with at most ${PRODUCE_WINDOWS.join(' or ')} records un-awaited, sendBatch() of ${SEND_BATCH_RECORDS} with at most ${SEND_BATCH_WINDOW}`);
  log('');
}

async function main(): Promise<void> {
  printEnvironment();
  const dataDir = makeTempDir('strata-grpc-bench-');
  const strata = await startStrata(dataDir);
  serverPids.strata = strata.child.pid;
  log(`strata server (under child-guard pid ${strata.child.pid}) at ${strata.address}, data dir ${dataDir}${serverCpuProfDir ? `, cpu profile to ${serverCpuProfDir}` : ''}`);
  const echo = runs('echo') ? await startEcho() : undefined;
  serverPids.echo = echo?.child.pid;
  if (echo) log(`echo server pid ${echo.child.pid} at ${echo.address}`);
  log('');
  const client = new StrataClient({ address: strata.address });
  try {
    const producesRecords = runs('produce') || runs('replay') || runs('latency');
    // Warm-up: JIT both processes on the produce path, on a topic of its own.
    if (producesRecords) {
      const topic = topicName('warmup');
      await createTopic(client, topic, 'interval');
      const producer = client.producer();
      await sendFor(producer, topic, false, params.warmupMs, PRODUCE_WINDOWS[0]!);
      await producer.close();
    }

    const ceilings: CeilingResult[] = [];
    if (echo) {
      log('## 1. Transport ceiling (bare grpc-js, identity serializers, same channel options as StrataClient)');
      ceilings.push(await measureBidi(echo.address, 'Echo', params.echoMs));
      ceilings.push(await measureBidi(echo.address, 'Ack', params.echoMs));
      ceilings.push(await measurePull(echo.address, params.echoMs));
      for (const c of ceilings) log(`  ${c.method.padEnd(5)} ${fmt(c.messageBytes / KiB)} KiB: ${fmt(c.messagesPerSec)} msgs/s, ${fmt(c.mbPerSec)} MB/s, ${fmt(c.cpuMsPerMb, 2)} CPU ms per MB (client + server)`);
      log('');
    }

    const produced: ProduceResult[] = [];
    const rawProduce: Array<Awaited<ReturnType<typeof measureRawProduce>>> = [];
    if (producesRecords) {
      log(`## 2. Produce (${fmt(produceMs / 1000, 1)} s per case, the time runs until the last send is acknowledged)`);
      const cases: ProduceCase[] = [
        ...(PRODUCE_APIS.has('send') ? PRODUCE_WINDOWS.map((window) => ({ api: 'send' as const, window })) : []),
        ...(PRODUCE_APIS.has('sendBatch') ? [{ api: 'sendBatch' as const, window: SEND_BATCH_WINDOW }] : []),
      ].flatMap(({ api, window }) => [
        { flush: 'interval' as const, keyed: false, window, api },
        { flush: 'interval' as const, keyed: true, window, api },
        { flush: 'always' as const, keyed: false, window, api },
        { flush: 'always' as const, keyed: true, window, api },
      ]);
      await profiled('produce', async () => {
        for (const testCase of cases) {
          const r = await measureProduce(client, testCase, produceMs);
          produced.push(r);
          log(`  ${r.api.padEnd(9)} window ${String(r.window).padEnd(6)} flush=${r.flush.padEnd(8)} ${r.keyed ? 'keyed  ' : 'unkeyed'}: ${fmt(r.recordsPerSec)} records/s, ${fmt(r.batchMbPerSec, 1)} MB/s of batches (${fmt(r.valueMbPerSec, 1)} MB/s of values), ${fmt(r.records)} records in ${fmt(r.seconds, 2)} s${r.logRecords !== r.records ? `  ! the log holds ${r.logRecords}` : ''}`);
        }
      });
      log('');
      log('### The producer without transport (fake stream acknowledging on setImmediate; client CPU only)');
      const noTransport: Array<{ api: ProduceCase['api']; keyed: boolean; window: number; recordsPerSec: number }> = [];
      const noTransportCases = [
        ...(PRODUCE_APIS.has('send') ? PRODUCE_WINDOWS.map((window) => ({ api: 'send' as const, window })) : []),
        ...(PRODUCE_APIS.has('sendBatch') ? [{ api: 'sendBatch' as const, window: SEND_BATCH_WINDOW }] : []),
      ];
      for (const { api, window } of noTransportCases) {
        for (const keyed of [false, true]) {
          const r = await measureProducerWithoutTransport(keyed, window, Math.min(2000, produceMs), api);
          noTransport.push({ api, keyed, window, ...r });
          log(`  ${api.padEnd(9)} window ${String(window).padEnd(6)} ${keyed ? 'keyed  ' : 'unkeyed'}: ${fmt(r.recordsPerSec)} records/s`);
        }
      }
      results['producerWithoutTransport'] = noTransport;
      log('');
      log(`### The produce path without the Producer class (encodeRecordBatch, ${RAW_RECORDS_PER_BATCH} records a batch, ${RAW_IN_FLIGHT} requests in flight on one Produce stream)`);
      for (const flush of ['interval', 'always'] as const) {
        const r = await measureRawProduce(client, flush, Math.min(3000, produceMs));
        rawProduce.push(r);
        log(`  flush=${flush.padEnd(8)}: ${fmt(r.recordsPerSec)} records/s, ${fmt(r.batchMbPerSec, 1)} MB/s of batches`);
      }
      results['rawProduce'] = rawProduce;
      log('');
    }

    if (echo && produced.length > 0) {
      ceilings.push({ ...(await measureBidi(echo.address, 'Echo', params.echoMs)), method: 'Echo (again, after produce)' });
      log(`  Echo again after the produce runs: ${fmt(ceilings.at(-1)!.mbPerSec)} MB/s, ${fmt(ceilings.at(-1)!.cpuMsPerMb, 2)} CPU ms per MB`);
      log('');
    }
    const echoRuns = ceilings.filter((c) => c.method.startsWith('Echo'));
    const echoMbPerSec = echoRuns.length > 0 ? echoRuns.reduce((s, c) => s + c.mbPerSec, 0) / echoRuns.length : NaN;
    const ackMbPerSec = ceilings.find((c) => c.method === 'Ack')?.mbPerSec ?? NaN;
    const echoCpuMsPerMb = echoRuns.length > 0 ? echoRuns.reduce((s, c) => s + c.cpuMsPerMb, 0) / echoRuns.length : NaN;
    const pullMbPerSec = ceilings.find((c) => c.method === 'Pull')?.mbPerSec ?? NaN;
    results['ceilings'] = ceilings;
    results['produce'] = produced;

    if (produced.length > 0) {
      log('### Produce summary (ratio: MB/s of batches over the mean Echo ceiling; Ack ceiling beside it)');
      log('CPU ms/MB: CPU of client and server (every thread) per MB of batches. When both runs are CPU-bound on');
      log('the same cores, MB/s over the Echo ceiling cannot pass Echo CPU ms/MB over this (the last column).');
      log(
        table(
          ['call', 'un-awaited records', 'flush', 'keys', 'records/s', 'MB/s (batches)', 'MB/s (values)', '/ Echo ceiling', '/ Ack ceiling', 'target 500k rec/s', 'target 60 % of ceiling', 'CPU ms/MB', 'Echo CPU/MB over it'],
          produced.map((r) => [
            r.api === 'send' ? 'send()' : `sendBatch() of ${fmt(SEND_BATCH_RECORDS)}`,
            fmt(r.window),
            r.flush,
            r.keyed ? `${KEY_COUNT / 1000}k keys` : 'none',
            fmt(r.recordsPerSec),
            fmt(r.batchMbPerSec, 1),
            fmt(r.valueMbPerSec, 1),
            pct(r.batchMbPerSec / echoMbPerSec),
            pct(r.batchMbPerSec / ackMbPerSec),
            r.recordsPerSec >= 500_000 ? 'met' : `missed (${pct(r.recordsPerSec / 500_000)} of it)`,
            Number.isNaN(echoMbPerSec) ? 'n/a' : r.batchMbPerSec >= 0.6 * echoMbPerSec ? 'met' : `missed (${pct(r.batchMbPerSec / echoMbPerSec)})`,
            fmt(r.cpuMsPerMb, 2),
            pct(echoCpuMsPerMb / r.cpuMsPerMb),
          ]).concat(
            rawProduce.map((r) => [
              'raw (no Producer)',
              `${RAW_IN_FLIGHT} requests`,
              r.flush,
              'none',
              fmt(r.recordsPerSec),
              fmt(r.batchMbPerSec, 1),
              fmt((r.recordsPerSec * VALUE_BYTES) / MB, 1),
              pct(r.batchMbPerSec / echoMbPerSec),
              pct(r.batchMbPerSec / ackMbPerSec),
              '(no Producer)',
              '(no Producer)',
              fmt(r.cpuMsPerMb, 2),
              pct(echoCpuMsPerMb / r.cpuMsPerMb),
            ]),
          ),
        ),
      );
      log('');
    }

    if (runs('replay') && produced.length > 0) {
      log('## 3. Replay from offset 0 (client.consume and client.consumeBatches, from: earliest, default maxBytes 1 MiB)');
      const replays: ReplayResult[] = [];
      await profiled('replay', async () => {
        for (const p of produced) {
          const description = await client.admin.describeTopic(p.topic);
          const storedBytes = description.partitions.reduce((sum, d) => sum + Number(d.sizeBytes), 0);
          for (const api of ['consume', 'consumeBatches'] as const) {
            const replayClient = new StrataClient({ address: strata.address });
            try {
              const r = await measureReplay(replayClient, p.topic, p.logRecords, storedBytes, api);
              replays.push(r);
              log(`  ${p.topic} (${api}): ${fmt(r.recordsPerSec)} records/s, ${fmt(r.mbPerSec, 1)} MB/s, ${fmt(r.records)} records in ${fmt(r.seconds, 2)} s${r.anomalies > 0 ? `  ! ${r.anomalies} anomalies` : ''}`);
            } finally {
              replayClient.close();
            }
          }
        }
      });
      results['replay'] = replays;
      log('');
      log(
        table(
          ['topic (produced by)', 'read with', 'records', 'records/s', 'MB/s', '/ Pull ceiling', 'in order, none missing', 'target 1M rec/s'],
          replays.map((r, i) => [
            `${produced[i >> 1]!.api}, flush=${produced[i >> 1]!.flush}, ${produced[i >> 1]!.keyed ? 'keyed' : 'unkeyed'}, window ${fmt(produced[i >> 1]!.window)}`,
            r.api,
            fmt(r.records),
            fmt(r.recordsPerSec),
            fmt(r.mbPerSec, 1),
            pct(r.mbPerSec / pullMbPerSec),
            r.anomalies === 0 ? 'yes' : `NO (${r.anomalies})`,
            r.recordsPerSec >= 1_000_000 ? 'met' : `missed (${pct(r.recordsPerSec / 1_000_000)} of it)`,
          ]),
        ),
      );
      log('');
    }

    if (runs('latency') && produced.length > 0) {
      log(`## 4. End-to-end latency (send -> subscriber), ${fmt(params.latencyMs / 1000, 1)} s measured after ${params.latencyWarmupMs} ms warm-up`);
      const latencies: LatencyResult[] = [];
      for (const flush of params.latencyFlushes) {
        // The peak: the best unkeyed send() rate of this flush policy, over the windows (the latency
        // producer calls send() per record; sendBatch rates are out of its reach).
        const peak = Math.max(...produced.filter((p) => p.flush === flush && !p.keyed && p.api === 'send').map((p) => p.recordsPerSec));
        for (const share of [0.1, 0.5]) {
          for (const lingerMs of [0, 5]) {
            const rate = Math.max(1000, Math.round((peak * share) / 1000) * 1000);
            const r = await measureLatency(strata.address, flush, lingerMs, rate, params.latencyMs, params.latencyWarmupMs);
            latencies.push(r);
            log(`  flush=${flush.padEnd(8)} ${pct(share)} of peak, linger ${lingerMs}: target ${fmt(rate)}/s, achieved ${fmt(r.achievedPerSec)}/s; p50 ${fmt(r.p50Ms, 2)} ms, p99 ${fmt(r.p99Ms, 2)} ms, p99.9 ${fmt(r.p999Ms, 2)} ms, max ${fmt(r.maxMs, 2)} ms (${fmt(r.received)} of ${fmt(r.measured)} received)`);
          }
        }
      }
      results['latency'] = latencies;
      log('');
      log(
        table(
          ['flush', 'rate (target)', 'achieved', 'lingerMs', 'p50 ms', 'p99 ms', 'p99.9 ms', 'max ms'],
          latencies.map((r) => [r.flush, `${fmt(r.targetPerSec)}/s`, `${fmt(r.achievedPerSec)}/s`, String(r.lingerMs), fmt(r.p50Ms, 2), fmt(r.p99Ms, 2), fmt(r.p999Ms, 2), fmt(r.maxMs, 1)]),
        ),
      );
      log('');
    }

    if (runs('redis')) {
      log('## 5. Redis Streams peer (ioredis: XADD pipelined, XREADGROUP COUNT 1000 + XACK)');
      const unavailable = redisAvailability();
      if (unavailable) {
        log(`  SKIP redis: ${unavailable}`);
        results['redis'] = { skipped: unavailable };
      } else {
        const redisResults: RedisResult[] = [];
        for (const persistence of ['none', 'aof-everysec'] as const) {
          const r = await measureRedis(persistence, params.redisMs);
          redisResults.push(r);
          log(`  redis ${r.persistence}: produce ${fmt(r.producePerSec)} records/s (${fmt(r.produced)}), consume ${fmt(r.consumePerSec)} records/s (${fmt(r.consumed)})`);
        }
        results['redis'] = redisResults;
        log('');
        const replays = (results['replay'] as ReplayResult[] | undefined) ?? [];
        const rows: string[][] = produced
          .filter((p) => !p.keyed)
          .map((p) => {
            const replay = replays.find((r) => r.topic === p.topic && r.api === 'consume');
            return [`Strata flush=${p.flush} (${p.flush === 'always' ? 'fdatasync before ack' : 'page cache, fsync every 1 s'}), ${p.api}, window ${fmt(p.window)}`, fmt(p.recordsPerSec), replay ? fmt(replay.recordsPerSec) : 'n/a'];
          });
        for (const r of redisResults) rows.push([`Redis ${r.persistence}`, fmt(r.producePerSec), fmt(r.consumePerSec)]);
        log(table(['system (100-byte records, unkeyed)', 'produce records/s', 'consume records/s'], rows));
        log('  (Strata consume = replay through client.consume; Redis consume = XREADGROUP + XACK)');
        log('');
      }
    }
  } finally {
    client.close();
    await stopAllChildren();
    removeTempDirs();
  }
  results['loadAverageAtEnd'] = os.loadavg().map((l) => Number(l.toFixed(2)));
  log(`load at the end: ${(results['loadAverageAtEnd'] as number[]).join(' ')}`);
  if (jsonPath) fs.writeFileSync(jsonPath, `${JSON.stringify(results, null, 2)}\n`);
  log('done: child processes stopped, temporary directories removed');
}

main().catch(async (error: unknown) => {
  process.stderr.write(`grpc-bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  await stopAllChildren();
  removeTempDirs();
  process.exitCode = 1;
});
