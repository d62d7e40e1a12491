import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StrataClient } from '../../src/client/strata-client.js';
import { MESSAGE_ID_HEADER } from '../../src/format/message-ids.js';
import { eventually } from '../helpers/eventually.js';
import { SeededRandom, seedsFromEnv } from '../helpers/seeded-random.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const CHILD = fileURLToPath(new URL('../../dist/test/recovery/dedupe-producer-child.js', import.meta.url));
const TOPIC = 'payments';
const PARTITIONS = 4;
const ID_COUNT = 3_000;
const ROUNDS = 10;

interface ChildRun {
  /** Ids the server confirmed to the child (written now, or found as duplicates). */
  confirmed: string[];
  duplicateCount: number;
  exit: Promise<void>;
  /** Set once the process has exited. */
  readonly exitCode: number | null | undefined;
  kill(): void;
  ready: Promise<void>;
  done: Promise<void>;
}

/** Runs the application: it sends `ids` and reports every confirmation on stdout. */
async function runChild(address: string, ids: string[], idsFile: string): Promise<ChildRun> {
  await writeFile(idsFile, JSON.stringify(ids));
  const child = spawn(process.execPath, [CHILD, address, TOPIC, idsFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  const run = { confirmed: [] as string[], duplicateCount: 0 };
  let pending = '';
  let stderr = '';
  let onReady!: () => void;
  let onDone!: () => void;
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  const done = new Promise<void>((resolve) => (onDone = resolve));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout!.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    const lines = pending.split('\n');
    // Only whole lines: a line cut by the SIGKILL was not seen confirmed.
    pending = lines.pop()!;
    for (const line of lines) {
      const message = JSON.parse(line) as { event?: string; id?: string; offset?: number; duplicate?: boolean; error?: string };
      if (message.event === 'ready') onReady();
      else if (message.event === 'done') onDone();
      else if (message.id !== undefined && message.error === undefined) {
        run.confirmed.push(message.id);
        if (message.duplicate) run.duplicateCount++;
      }
    }
  });
  let exitCode: number | null | undefined;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', (code) => {
      exitCode = code;
      resolve();
    }),
  );
  void exit.then(() => {
    if (child.exitCode !== null && child.exitCode !== 0) throw new Error(`the application exited with ${child.exitCode}: ${stderr}`);
  });
  return {
    get confirmed() {
      return run.confirmed;
    },
    get duplicateCount() {
      return run.duplicateCount;
    },
    get exitCode() {
      return exitCode;
    },
    exit,
    ready,
    done,
    kill: () => child.kill('SIGKILL'),
  };
}

/** Every record of the topic: the message id of each, read up to the partitions' high watermarks. */
async function readIds(address: string): Promise<string[]> {
  const client = new StrataClient({ address });
  try {
    const description = await client.admin.describeTopic(TOPIC);
    const total = description.partitions.reduce((sum, p) => sum + Number(p.highWatermark), 0);
    const ids: string[] = [];
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), 60_000);
    try {
      for await (const record of client.consume(TOPIC, { from: 'earliest', signal: controller.signal })) {
        ids.push(record.headers.find((h) => h.key === MESSAGE_ID_HEADER)!.value!.toString());
        if (ids.length >= total) break;
      }
    } finally {
      clearTimeout(timer);
    }
    expect(ids.length, 'records read = the sum of the high watermarks').toBe(total);
    return ids;
  } finally {
    client.close();
  }
}

describe('an application that re-sends what it did not see confirmed, SIGKILLed again and again, with server SIGKILLs between rounds', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let server: ServerProcess | undefined;
  beforeEach(async () => {
    if (!existsSync(CHILD)) throw new Error(`${CHILD} is missing: run 'make build' (make test does) first`);
    dir = await makeTempDir('strata-dedupe-crash-');
  });
  afterEach(async () => {
    await server?.stop('SIGKILL');
    server = undefined;
    await dir.remove();
  });

  for (const seed of seedsFromEnv([16])) {
    it(`leaves every message id in the topic exactly once (seed ${seed})`, { timeout: 240_000 }, async () => {
      const random = new SeededRandom(seed);
      const dataDir = join(dir.path, 'data');
      server = await startServerProcess(dataDir);
      const admin = new StrataClient({ address: server.address });
      await admin.admin.createTopic(TOPIC, { partitions: PARTITIONS, config: { 'dedupe.window.ms': String(30 * 60_000) } });
      admin.close();

      const allIds = Array.from({ length: ID_COUNT }, (_, i) => `payment-${seed}-${i}`);
      const confirmed = new Set<string>();
      let duplicatesReported = 0;
      let serverKills = 0;
      for (let round = 0; round < ROUNDS; round++) {
        const remaining = allIds.filter((id) => !confirmed.has(id));
        if (remaining.length === 0) break;
        const run = await runChild(server.address, remaining, join(dir.path, `ids-${round}.json`));
        await run.ready;
        // Killed while it sends, as records are in flight and confirmed: after a random number of
        // confirmations (progress, not wall time, so a loaded machine still kills mid-stream), and a
        // random moment more.
        const confirmationsBeforeKill = random.int(1, Math.min(remaining.length, 600));
        await eventually(() => run.confirmed.length >= confirmationsBeforeKill || run.exitCode !== undefined, { what: `${confirmationsBeforeKill} confirmations`, timeoutMs: 60_000, intervalMs: 2 });
        await new Promise((resolve) => setTimeout(resolve, random.int(0, 30)));
        run.kill();
        await run.exit;
        for (const id of run.confirmed) confirmed.add(id);
        duplicatesReported += run.duplicateCount;
        if (random.chance(0.4)) {
          await server.stop('SIGKILL');
          serverKills++;
          server = await startServerProcess(dataDir);
        }
      }
      // A last, fault-free round: what is still unconfirmed is sent until confirmed (lost vs slow).
      const remaining = allIds.filter((id) => !confirmed.has(id));
      const last = await runChild(server.address, remaining, join(dir.path, 'ids-last.json'));
      await eventually(() => last.confirmed.length === remaining.length, { what: 'the last round confirms everything', timeoutMs: 120_000, intervalMs: 50 });
      await last.done;
      await last.exit;
      duplicatesReported += last.duplicateCount;

      const ids = await readIds(server.address);
      const counts = new Map<string, number>();
      for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
      const twice = [...counts].filter(([, count]) => count > 1).map(([id]) => id);
      const missing = allIds.filter((id) => !counts.has(id));
      expect({ twice: twice.slice(0, 10), twiceCount: twice.length, missing: missing.slice(0, 10), missingCount: missing.length }).toEqual({ twice: [], twiceCount: 0, missing: [], missingCount: 0 });
      expect(ids.length).toBe(ID_COUNT);
      // The run did what it is for: records sent again that were already in the log were caught.
      expect(duplicatesReported, `duplicates the server caught (${serverKills} server kills)`).toBeGreaterThan(0);
    });
  }
});
