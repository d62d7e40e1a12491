/**
 * The three delivery guarantees of README's "Delivery guarantees", each proven by counting side
 * effects across real crashes: a consumer process (delivery-mode-child) is SIGKILLed twice at the
 * mode's crash window (the record printed as its crash point), once more at a random moment while
 * it works, and restarted each time; a last run drains the topic with no fault and exits cleanly.
 * Then, per message id: at-most-once applied none twice and lost the crash points; at-least-once
 * lost none and repeated the crash points; effectively-once (IdempotentConsumer over a journal that
 * writes the effect and the mark in one atomic step) applied every id exactly once, though the topic
 * also holds messages its producer wrote twice and the crash points were delivered again.
 * Both consumers: the group consumer and a queue group.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { MESSAGE_ID_HEADER } from '../../src/client/idempotent-consumer.js';
import type { StrataClient } from '../../src/client/strata-client.js';
import { eventually } from '../helpers/eventually.js';
import { readJournal } from '../helpers/file-journal-store.js';
import { useInProcessServer } from '../helpers/in-process-server.js';
import { useTempDir } from '../helpers/temp-dir.js';

const CHILD = fileURLToPath(new URL('../../dist/test/integration/delivery-mode-child.js', import.meta.url));
/** Messages per run: two crashed at the window, one killed at random, the drain. */
const PHASE = 40;
const MESSAGES = 4 * PHASE;
/** Messages the producer "resends" (same id, new offset) for the effectively-once runs. */
const RESENT = 20;
const PARTITIONS = 3;
const STOP_AT = 30;
const DELAY_MS = 3;
/** Four consumer processes one after another, on a shared 2-core machine. */
const TEST_TIMEOUT_MS = 180_000;

type Kind = 'group' | 'queue';
type Mode = 'at-most-once' | 'at-least-once' | 'effectively-once';

interface ChildLine {
  event: 'handled' | 'skipped' | 'crash-point';
  id: string;
  p: number;
  o: number;
}

interface Child {
  process: ChildProcess;
  lines: ChildLine[];
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const running = new Set<ChildProcess>();

function startChild(server: string, kind: Kind, mode: Mode, topic: string, outDir: string, stopAt: number): Child {
  if (!existsSync(CHILD)) throw new Error(`${CHILD} is missing: run 'make build' (make test does) first`);
  const child = spawn(process.execPath, [CHILD, server, kind, mode, topic, `${topic}-readers`, outDir, String(stopAt), String(DELAY_MS)], { stdio: ['pipe', 'pipe', 'pipe'] });
  running.add(child);
  const lines: ChildLine[] = [];
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    const parts = stdout.split('\n');
    stdout = parts.pop()!;
    for (const part of parts) if (part) lines.push(JSON.parse(part) as ChildLine);
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    }),
  );
  return { process: child, lines, stderr: () => stderr, exited };
}

async function kill(child: Child): Promise<void> {
  child.process.kill('SIGKILL');
  expect((await child.exited).signal).toBe('SIGKILL');
}

/**
 * Ids m-<from>..m-<to - 1> over the partitions by key, then the first `resent` of them again, each
 * into another partition than its first copy (as a keyless resend after a producer restart may land).
 */
async function produce(client: StrataClient, topic: string, from: number, to: number, resent: number): Promise<void> {
  const producer = client.producer({ acks: 'durable' });
  const message = (i: number) => ({ key: `k${i}`, value: `v${i}`, headers: { [MESSAGE_ID_HEADER]: `m-${i}` } });
  const ids = Array.from({ length: to - from }, (_, i) => from + i);
  await producer.sendBatch(topic, ids.map(message));
  await producer.sendBatch(topic, ids.slice(0, resent).map((i) => ({ ...message(i), key: null, partition: (i + 1) % PARTITIONS })));
  await producer.close();
}

/** Whether the readers have consumed every record: committed past (group) or acknowledged (queue). */
async function isDrained(client: StrataClient, kind: Kind, topic: string): Promise<boolean> {
  if (kind === 'group') {
    const { lag } = await client.admin.describeGroup(`${topic}-readers`);
    return lag.length === PARTITIONS && lag.every((p) => p.lagRecords === 0);
  }
  const { total } = await client.admin.describeQueueGroup(`${topic}-readers`);
  return total.depth === 0 && total.inFlight === 0;
}

/** Side effects applied per message id, from the effects log or the journal. */
function effectCounts(outDir: string, mode: Mode): Map<string, number> {
  const ids: string[] =
    mode === 'effectively-once'
      ? readJournal(join(outDir, 'journal')).flatMap((entry) => entry.effects.map((e) => (e as { id: string }).id))
      : existsSync(join(outDir, 'effects.log'))
      ? readFileSync(join(outDir, 'effects.log'), 'utf8').split('\n').filter(Boolean).map((line) => (JSON.parse(line) as { id: string }).id)
      : [];
  const counts = new Map<string, number>();
  for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
  return counts;
}

interface RunResult {
  counts: Map<string, number>;
  crashPoints: string[];
  skipped: ChildLine[];
}

/**
 * Two kills at the crash window, one at a random moment, then a clean drain; the effects counted.
 * Each run gets a phase of new messages of its own (a member may take all there is: under
 * at-most-once, a queue member is sent what flow control lets through, and loses it all in a crash).
 */
async function crashAndDrain(client: StrataClient, address: string, kind: Kind, mode: Mode, topic: string, outDir: string): Promise<RunResult> {
  mkdirSync(outDir, { recursive: true });
  await client.admin.createTopic(topic, { partitions: PARTITIONS });
  const phase = (round: number) => produce(client, topic, round * PHASE, (round + 1) * PHASE, round === 0 && mode === 'effectively-once' ? RESENT : 0);
  const crashPoints: string[] = [];
  const skipped: ChildLine[] = [];
  for (let round = 0; round < 2; round++) {
    await phase(round);
    const child = startChild(address, kind, mode, topic, outDir, STOP_AT);
    const point = await eventually(() => child.lines.find((l) => l.event === 'crash-point'), { what: `round ${round}: the crash point (stderr: ${child.stderr()})`, timeoutMs: 30_000 });
    crashPoints.push(point.id);
    await kill(child);
    skipped.push(...child.lines.filter((l) => l.event === 'skipped'));
  }
  // A kill at whatever moment it lands, once the run has done some work of its own.
  await phase(2);
  const randomRun = startChild(address, kind, mode, topic, outDir, 0);
  await eventually(() => randomRun.lines.filter((l) => l.event === 'handled').length >= 10, { what: `the random round's first records (stderr: ${randomRun.stderr()})`, timeoutMs: 30_000 });
  await sleep(Math.floor(Math.random() * 20));
  await kill(randomRun);
  skipped.push(...randomRun.lines.filter((l) => l.event === 'skipped'));

  // The drain: done once every record is consumed and the drain's own phase, which no crashed run
  // was sent, is applied (under at-most-once consumed means handed out, not applied).
  await phase(3);
  const drain = startChild(address, kind, mode, topic, outDir, 0);
  const drainIds = Array.from({ length: PHASE }, (_, i) => `m-${3 * PHASE + i}`);
  const isApplied = () => {
    const handled = new Set(drain.lines.filter((l) => l.event === 'handled').map((l) => l.id));
    return drainIds.every((id) => handled.has(id));
  };
  await eventually(async () => isApplied() && (await isDrained(client, kind, topic)), { what: `the drain (stderr: ${drain.stderr()})`, timeoutMs: 60_000, intervalMs: 100 });
  drain.process.stdin!.write('exit\n');
  expect((await drain.exited).code).toBe(0);
  skipped.push(...drain.lines.filter((l) => l.event === 'skipped'));
  return { counts: effectCounts(outDir, mode), crashPoints, skipped };
}

const allIds = Array.from({ length: MESSAGES }, (_, i) => `m-${i}`);

describe.each<Kind>(['group', 'queue'])('delivery guarantees under SIGKILL: %s consumer', (kind) => {
  const server = useInProcessServer();
  const temp = useTempDir();
  afterAll(() => {
    for (const child of running) child.kill('SIGKILL');
  });

  it('at-most-once: acknowledged before the effect, a crash loses records and nothing is ever applied twice', { timeout: TEST_TIMEOUT_MS }, async () => {
    const { counts, crashPoints } = await crashAndDrain(server.client, server.address, kind, 'at-most-once', `amo-${kind}`, join(temp.path, `amo-${kind}`));
    const repeated = [...counts].filter(([, n]) => n > 1);
    const lost = allIds.filter((id) => !counts.has(id));
    expect(repeated).toEqual([]);
    // The records each crash stopped at were acknowledged and never applied: gone for good.
    for (const id of crashPoints) expect(counts.has(id)).toBe(false);
    expect(lost.length).toBeGreaterThanOrEqual(2);
    expect(counts.size + lost.length).toBe(MESSAGES);
    console.log(`${kind} at-most-once: ${MESSAGES} messages, ${counts.size} applied once, ${lost.length} lost, 0 repeated`);
  });

  it('at-least-once: acknowledged after the effect, a crash repeats records and loses none', { timeout: TEST_TIMEOUT_MS }, async () => {
    const { counts, crashPoints } = await crashAndDrain(server.client, server.address, kind, 'at-least-once', `alo-${kind}`, join(temp.path, `alo-${kind}`));
    const lost = allIds.filter((id) => !counts.has(id));
    const repeated = [...counts].filter(([, n]) => n > 1);
    expect(lost).toEqual([]);
    // The records each crash stopped at were applied, not acknowledged, and applied again after it.
    for (const id of crashPoints) expect(counts.get(id)).toBeGreaterThanOrEqual(2);
    expect(repeated.length).toBeGreaterThanOrEqual(2);
    const applied = [...counts.values()].reduce((a, b) => a + b, 0);
    console.log(`${kind} at-least-once: ${MESSAGES} messages, ${applied} effects, ${repeated.length} ids repeated, 0 lost`);
  });

  it('effectively-once: message ids, IdempotentConsumer and the mark written with the effect apply every message exactly once', { timeout: TEST_TIMEOUT_MS }, async () => {
    const { counts, crashPoints, skipped } = await crashAndDrain(server.client, server.address, kind, 'effectively-once', `eo-${kind}`, join(temp.path, `eo-${kind}`));
    expect([...counts.keys()].sort()).toEqual([...allIds].sort());
    expect([...counts].filter(([, n]) => n !== 1)).toEqual([]);
    // The helper did the work: the crash points came again and were skipped, and so was every resent copy.
    const skippedIds = new Set(skipped.map((l) => l.id));
    for (const id of crashPoints) expect(skippedIds.has(id)).toBe(true);
    expect(skipped.length).toBeGreaterThanOrEqual(RESENT + crashPoints.length);
    console.log(`${kind} effectively-once: ${MESSAGES + RESENT} records (${RESENT} resent), ${MESSAGES} effects, ${skipped.length} skipped, 0 lost, 0 repeated`);
  });
});
