import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/logger.js';
import { LogManager } from '../../src/storage/log-manager.js';
import { decodeAll } from '../helpers/batches.js';
import { readAllBatches } from '../helpers/open-log.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const CHILD = fileURLToPath(new URL('../../dist/test/recovery/crash-appender.js', import.meta.url));
const KILL_ROUNDS = 20;

interface Ack {
  baseOffset: number;
  lastOffset: number;
  label: number;
}

/** Runs the appender child, kills it with SIGKILL after `runMs`, and returns the acks it printed. */
function runAndKill(dataDir: string, firstLabel: number, runMs: number): Promise<Ack[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, dataDir, String(firstLabel), '8'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => {
      const isFirst = out.length === 0;
      out += chunk.toString('utf8');
      if (isFirst) setTimeout(() => child.kill('SIGKILL'), runMs);
    });
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (signal !== 'SIGKILL') return reject(new Error(`appender exited with ${code}: ${err}`));
      const acks: Ack[] = [];
      // The last line may be cut by the kill: only whole lines count as acknowledged.
      for (const line of out.split('\n').slice(0, -1)) {
        const [word, base, last, label] = line.split(' ');
        if (word === 'ack') acks.push({ baseOffset: Number(base), lastOffset: Number(last), label: Number(label) });
      }
      resolve(acks);
    });
  });
}

describe('crash safety under flush: always', () => {
  let dir: { path: string; remove: () => Promise<void> };
  beforeAll(async () => {
    dir = await makeTempDir();
  });
  afterAll(async () => {
    await dir.remove();
  });

  it(`keeps every acknowledged append exactly once, in order, across ${KILL_ROUNDS} SIGKILLs`, async () => {
    expect(existsSync(CHILD), `${CHILD} is missing: run 'make build' (make test does) first`).toBe(true);
    const seed = Number(process.env.STRATA_SEED ?? Date.now() % 1_000_000);
    let random = seed;
    const nextRandom = () => ((random = (random * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const acked = new Map<number, Ack>();
    let nextLabel = 0;
    for (let round = 0; round < KILL_ROUNDS; round++) {
      const acks = await runAndKill(dir.path, nextLabel, 20 + Math.floor(nextRandom() * 250));
      for (const ack of acks) acked.set(ack.label, ack);
      nextLabel += 1_000_000;
      // Restart (recovery runs here) and check the log against everything acknowledged so far.
      const manager = await LogManager.open({ dataDir: dir.path, logger: silentLogger });
      try {
        const log = manager.partition('crash', 0);
        const records = decodeAll(await readAllBatches(log, 0, 1024 * 1024));
        const context = `seed ${seed} (STRATA_SEED=${seed} replays the schedule), round ${round}`;
        // Offsets contiguous from zero.
        records.forEach((r, i) => expect(r.offset, context).toBe(i));
        expect(log.logEndOffset, context).toBe(records.length);
        // Each append appears at most once: its records are consecutive and its label occurs once.
        const firstOffsetOfLabel = new Map<number, number>();
        for (const r of records) {
          const [labelText, indexText] = r.value.split(':');
          const label = Number(labelText);
          if (Number(indexText) === 0) {
            expect(firstOffsetOfLabel.has(label), `${context}: label ${label} twice`).toBe(false);
            firstOffsetOfLabel.set(label, r.offset);
          } else {
            expect(firstOffsetOfLabel.get(label), context).toBe(r.offset - Number(indexText));
          }
        }
        // Every acknowledged append is there, at the offsets its acknowledgement named.
        for (const ack of acked.values()) {
          expect(firstOffsetOfLabel.get(ack.label), `${context}: acknowledged label ${ack.label} lost`).toBe(ack.baseOffset);
          const last = records[ack.lastOffset];
          expect(last?.value.startsWith(`${ack.label}:`), context).toBe(true);
        }
      } finally {
        await manager.close();
      }
    }
    expect(acked.size).toBeGreaterThan(KILL_ROUNDS);
  }, 180_000);
});
