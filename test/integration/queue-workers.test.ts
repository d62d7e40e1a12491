import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { StrataClient } from '../../src/client/strata-client.js';
import { eventually } from '../helpers/eventually.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const WORKER = fileURLToPath(new URL('../../dist/test/fixtures/queue-worker.js', import.meta.url));
const LOCK_DURATION_MS = 2_000;

interface WorkerLine {
  event: 'start' | 'acked' | 'ack-failed' | 'failed';
  o: number;
  d?: number;
  code?: string;
  pid: number;
}

interface Worker {
  child: ChildProcess;
  lines: WorkerLine[];
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const workers: Worker[] = [];

function startWorker(address: string, groupId: string, topic: string, holdMs: number, inFlight: number): Worker {
  const child = spawn(process.execPath, [WORKER, address, groupId, topic, String(holdMs), String(inFlight), String(LOCK_DURATION_MS)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: WorkerLine[] = [];
  let pending = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    pending += chunk;
    const complete = pending.split('\n');
    pending = complete.pop()!;
    for (const line of complete) if (line) lines.push(JSON.parse(line) as WorkerLine);
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const worker = { child, lines, stderr: () => stderr, exited };
  workers.push(worker);
  return worker;
}

const of = (worker: Worker, event: WorkerLine['event']) => worker.lines.filter((l) => l.event === event);

describe('queue group workers as separate processes, against a real server', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let server: ServerProcess;
  let client: StrataClient;
  beforeAll(async () => {
    dir = await makeTempDir();
    server = await startServerProcess(dir.path);
    client = new StrataClient({ address: server.address });
  });
  afterEach(async () => {
    for (const worker of workers.splice(0)) {
      if (worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill('SIGKILL');
      await worker.exited;
    }
  });
  afterAll(async () => {
    client?.close();
    await server?.stop('SIGKILL');
    await dir.remove();
  });

  async function produce(topic: string, count: number): Promise<void> {
    await client.admin.createTopic(topic, { partitions: 1 });
    const producer = client.producer({ acks: 'durable' });
    await producer.sendBatch(topic, Array.from({ length: count }, (_, i) => ({ value: `job-${i}` })));
    await producer.close();
  }

  /** Every record acknowledged in the group's state: nothing left, nothing dead-lettered. */
  async function expectAllDone(groupId: string, count: number): Promise<void> {
    const described = await eventually(
      async () => {
        const d = await client.admin.describeQueueGroup(groupId);
        return d.total.depth === 0 && d.partitions[0]?.startOffset === count ? d : false;
      },
      { what: `every record of ${groupId} done`, timeoutMs: 30_000 },
    );
    expect(described.total).toMatchObject({ depth: 0, inFlight: 0, waitingForRetry: 0, deadLettered: 0 });
  }

  /** Each offset acknowledged (confirmed by the server) exactly once across the workers. */
  async function expectAckedExactlyOnce(all: Worker[], count: number): Promise<Map<number, WorkerLine>> {
    // The state is done before the last results reach the workers and their lines reach this process.
    await eventually(() => new Set(all.flatMap((w) => of(w, 'acked')).map((l) => l.o)).size >= count, { what: 'every acknowledgement printed by a worker' });
    const acked = new Map<number, WorkerLine>();
    for (const line of all.flatMap((w) => of(w, 'acked'))) {
      expect(acked.get(line.o), `offset ${line.o} acknowledged twice`).toBeUndefined();
      acked.set(line.o, line);
    }
    expect([...acked.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: count }, (_, i) => i));
    return acked;
  }

  it('SIGKILL a worker mid-processing: its records go to another worker (at once: its stream broke), every record ends acknowledged exactly once, none lost', async () => {
    const COUNT = 40;
    await produce('jobs-kill', COUNT);
    // The first worker holds its records far longer than the test: it is killed while processing them.
    const stuck = startWorker(server.address, 'kill-group', 'jobs-kill', 60_000, 5);
    await eventually(() => of(stuck, 'start').length === 5, { what: 'the first worker processing 5 records', timeoutMs: 20_000 });
    const taken = of(stuck, 'start').map((l) => l.o);
    const healthy = startWorker(server.address, 'kill-group', 'jobs-kill', 20, 5);
    await eventually(() => of(healthy, 'acked').length >= 5, { what: 'the second worker acknowledging records' });
    stuck.child.kill('SIGKILL');
    await stuck.exited;

    await expectAllDone('kill-group', COUNT);
    const acked = await expectAckedExactlyOnce([stuck, healthy], COUNT);
    expect(of(stuck, 'acked')).toEqual([]);
    for (const offset of taken) {
      // Handed out again (a second delivery) and acknowledged by the other worker.
      expect(acked.get(offset)).toMatchObject({ pid: healthy.child.pid, d: 2 });
    }
    healthy.child.kill('SIGTERM');
    expect(await healthy.exited).toEqual({ code: 0, signal: null });
  });

  it('a worker paused past the lock (SIGSTOP): its records go to another worker when the locks expire; its late acks fail, each record acknowledged once', { timeout: 120_000 }, async () => {
    const COUNT = 20;
    await produce('jobs-stop', COUNT);
    const paused = startWorker(server.address, 'stop-group', 'jobs-stop', 1_000, 5);
    await eventually(() => of(paused, 'start').length === 5, { what: 'the first worker processing 5 records', timeoutMs: 20_000 });
    paused.child.kill('SIGSTOP');
    const taken = of(paused, 'start').map((l) => l.o);
    const healthy = startWorker(server.address, 'stop-group', 'jobs-stop', 20, 5);
    // The paused worker's stream stays open: only the locks' expiry hands its records on.
    await eventually(() => taken.every((o) => of(healthy, 'acked').some((l) => l.o === o)), { what: "the paused worker's records acknowledged by the other", timeoutMs: 45_000 });
    paused.child.kill('SIGCONT');
    await eventually(() => taken.every((o) => paused.lines.some((l) => l.o === o && (l.event === 'ack-failed' || l.event === 'acked'))), { what: 'the resumed worker answering its old records' });
    for (const offset of taken) {
      expect(paused.lines.find((l) => l.o === offset && l.event !== 'start')).toMatchObject({ event: 'ack-failed', code: 'QUEUE_RECORD_NOT_ACQUIRED' });
    }
    await expectAllDone('stop-group', COUNT);
    await expectAckedExactlyOnce([paused, healthy], COUNT);
    paused.child.kill('SIGTERM');
    healthy.child.kill('SIGTERM');
    expect(await paused.exited).toEqual({ code: 0, signal: null });
    expect(await healthy.exited).toEqual({ code: 0, signal: null });
  });
});
