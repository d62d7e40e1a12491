/**
 * Step 1, the transport ceiling: bench/echo-server.ts (bare grpc-js, identity serializers, no
 * protobuf) in a child process, so that each Strata number has beside it what grpc-js alone reaches
 * on this machine in the same run.
 */
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { SERVER_NODE_FLAGS } from '../../src/cli/server-node-flags.js';
import { cpuPerMb, startCpuMeter } from '../process-cpu.js';
import { startChild, type StartedServer } from './child-processes.js';
import { cpuText, fmt, log } from './report-format.js';
import { sleep } from './sleep.js';
import { KiB, MB, MiB } from './workload.js';

const ECHO_MESSAGE_BYTES = 16 * KiB;
/** Messages in flight on the echo stream (1 MiB; the producer keeps up to 8 partitions x 5 requests = 40 in flight). */
const ECHO_WINDOW = 64;
const PULL_MESSAGE_BYTES = 1 * MiB;
/** The same channel options as StrataClient, so the ceiling and Strata ride the same transport. */
const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.max_receive_message_length': 17 * MiB,
  'grpc-node.flow_control_window': 8 * MiB,
};

export interface CeilingResult {
  method: string;
  messageBytes: number;
  messagesPerSec: number;
  mbPerSec: number;
  /** CPU of both processes (client and server, every thread) per MB of messages, one direction, and each side's part. */
  cpuMsPerMb: number;
  clientCpuMsPerMb: number;
  serverCpuMsPerMb: number;
}

/** The ceilings the produce and replay tables divide by (NaN when the echo step did not run). */
export interface CeilingSummary {
  /** Mean of the Echo runs (before and after the produce runs). */
  echoMbPerSec: number;
  ackMbPerSec: number;
  echoCpuMsPerMb: number;
  pullMbPerSec: number;
}

const identity = (buffer: Buffer): Buffer => buffer;

export async function startEcho(): Promise<StartedServer> {
  const script = fileURLToPath(new URL('../echo-server.js', import.meta.url));
  // The same V8 flags as the Strata server: the ceiling runs on the same runtime settings.
  const { child, match } = await startChild('echo server', process.execPath, [...SERVER_NODE_FLAGS, script], /^echo listening on (\S+)$/);
  return { child, address: match[1]! };
}

/** One bidi stream, `window` messages in flight, for `durationMs` after a short warm-up. */
async function measureBidi(echo: StartedServer, method: 'Echo' | 'Ack', durationMs: number): Promise<CeilingResult> {
  const client = new grpc.Client(echo.address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
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
    const stopCpu = startCpuMeter(echo.child.pid);
    await Promise.race([sleep(durationMs), failed]);
    const count = received - startCount;
    const seconds = (performance.now() - start) / 1000;
    const cpu = stopCpu();
    isStopping = true;
    if (outstanding > 0) await Promise.race([new Promise<void>((resolve) => (whenIdle = resolve)), failed]);
    call.end();
    const mb = (count * ECHO_MESSAGE_BYTES) / MB;
    return { method, messageBytes: ECHO_MESSAGE_BYTES, messagesPerSec: count / seconds, mbPerSec: mb / seconds, ...cpuPerMb(cpu, mb) };
  } finally {
    client.close();
  }
}

/** One server stream of 1 MiB messages (fetch-like), for `durationMs` after a short warm-up. */
async function measurePull(echo: StartedServer, durationMs: number): Promise<CeilingResult> {
  const client = new grpc.Client(echo.address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
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
    const stopCpu = startCpuMeter(echo.child.pid);
    await Promise.race([sleep(durationMs), failed]);
    const bytes = received - startBytes;
    const seconds = (performance.now() - start) / 1000;
    const cpu = stopCpu();
    call.cancel();
    return { method: 'Pull', messageBytes: PULL_MESSAGE_BYTES, messagesPerSec: bytes / PULL_MESSAGE_BYTES / seconds, mbPerSec: bytes / seconds / MB, ...cpuPerMb(cpu, bytes / MB) };
  } finally {
    client.close();
  }
}

export async function runCeilingStep(echo: StartedServer, durationMs: number): Promise<CeilingResult[]> {
  log('## 1. Transport ceiling (bare grpc-js, identity serializers, same channel options as StrataClient)');
  const ceilings: CeilingResult[] = [];
  ceilings.push(await measureBidi(echo, 'Echo', durationMs));
  ceilings.push(await measureBidi(echo, 'Ack', durationMs));
  ceilings.push(await measurePull(echo, durationMs));
  for (const c of ceilings) log(`  ${c.method.padEnd(5)} ${fmt(c.messageBytes / KiB)} KiB: ${fmt(c.messagesPerSec)} msgs/s, ${fmt(c.mbPerSec)} MB/s, ${cpuText(c)} CPU ms per MB (client + server)`);
  log('');
  return ceilings;
}

/** The Echo ceiling again: the produce runs may have changed what the machine gives (neighbours, heat). */
export async function measureEchoAgain(echo: StartedServer, durationMs: number): Promise<CeilingResult> {
  const again = { ...(await measureBidi(echo, 'Echo', durationMs)), method: 'Echo (again, after produce)' };
  log(`  Echo again after the produce runs: ${fmt(again.mbPerSec)} MB/s, ${cpuText(again)} CPU ms per MB`);
  log('');
  return again;
}

export function summarizeCeilings(ceilings: CeilingResult[]): CeilingSummary {
  const echoRuns = ceilings.filter((c) => c.method.startsWith('Echo'));
  return {
    echoMbPerSec: echoRuns.length > 0 ? echoRuns.reduce((s, c) => s + c.mbPerSec, 0) / echoRuns.length : NaN,
    ackMbPerSec: ceilings.find((c) => c.method === 'Ack')?.mbPerSec ?? NaN,
    echoCpuMsPerMb: echoRuns.length > 0 ? echoRuns.reduce((s, c) => s + c.cpuMsPerMb, 0) / echoRuns.length : NaN,
    pullMbPerSec: ceilings.find((c) => c.method === 'Pull')?.mbPerSec ?? NaN,
  };
}
