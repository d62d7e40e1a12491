import * as fs from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { PartitionLog } from '../../src/storage/partition-log.js';
import type { FlushPolicy } from '../../src/storage/topic-config.js';
import { APPENDS_IN_FLIGHT, MB, MiB, type BenchParams } from './bench-params.js';
import { closeAndRemove, freshDirectory, newIoStats, openLog, type IoStats } from './counting-file-system.js';
import { fmt, ioText, latencyText, median, pct } from './report-format.js';

export interface Throughput {
  bytes: number;
  batches: number;
  ms: number;
  /** Strata append only. */
  io?: IoStats;
  latenciesMs?: number[];
}

const mbPerSecond = (t: Throughput): number => t.bytes / MB / (t.ms / 1000);

/**
 * Baseline: one synchronous write(2) per 16 KiB batch, sequentially, to a fresh file. The per-batch
 * Buffer.from(template) copy is inside the timed loop, exactly as for Strata. No fsync in the timed
 * region; the file is fdatasync'ed afterwards (untimed) so its writeback does not spill into the next
 * measurement.
 */
export function appendBaseline(directory: string, template: Buffer, budgetMs: number, capBytes: number): Throughput {
  const file = path.join(directory, 'baseline.dat');
  const fd = fs.openSync(file, 'w');
  const maxBatches = Math.floor(capBytes / template.length);
  let batches = 0;
  const start = performance.now();
  const deadline = start + budgetMs;
  while (batches < maxBatches && performance.now() < deadline) {
    const buffer = Buffer.from(template);
    let written = 0;
    while (written < buffer.length) written += fs.writeSync(fd, buffer, written, buffer.length - written);
    batches++;
  }
  const ms = performance.now() - start;
  fs.fdatasyncSync(fd);
  fs.closeSync(fd);
  fs.rmSync(directory, { recursive: true, force: true });
  return { bytes: batches * template.length, batches, ms };
}

/**
 * Strata: `APPENDS_IN_FLIGHT` async loops share one counter; each copies the template (the append
 * takes ownership of its buffer), appends and awaits the acknowledgement. Timed from the first append
 * to the last acknowledgement. Afterwards (untimed) the log is flushed; it is returned open.
 */
export async function appendStrata(
  directory: string,
  flush: FlushPolicy,
  template: Buffer,
  budgetMs: number,
  capBytes: number,
): Promise<Throughput & { log: PartitionLog }> {
  const io = newIoStats();
  const log = await openLog(directory, flush, io);
  const latenciesMs: number[] = [];
  const maxBatches = Math.floor(capBytes / template.length);
  const expectedDurability = flush === 'always' ? 'durable' : 'written';
  let issued = 0;
  let acknowledged = 0;
  const start = performance.now();
  const deadline = start + budgetMs;
  const appender = async (): Promise<void> => {
    while (issued < maxBatches && performance.now() < deadline) {
      issued++;
      const sent = performance.now();
      const result = await log.append(Buffer.from(template));
      latenciesMs.push(performance.now() - sent);
      if (result.durability !== expectedDurability) throw new Error(`flush=${flush} acknowledged ${result.durability}`);
      acknowledged++;
    }
  };
  await Promise.all(Array.from({ length: APPENDS_IN_FLIGHT }, appender));
  const ms = performance.now() - start;
  const ioDuringRun = { ...io };
  await log.flush();
  if (log.sizeBytes !== acknowledged * template.length) {
    throw new Error(`log holds ${log.sizeBytes} bytes, expected ${acknowledged * template.length}`);
  }
  return { bytes: acknowledged * template.length, batches: acknowledged, ms, log, io: ioDuringRun, latenciesMs };
}

/** Medians of section 1 in MB/s; each ratio is the median of the per-repetition ratios. */
export interface AppendSummary {
  baselineMbPerSecond: number;
  intervalMbPerSecond: number;
  alwaysMbPerSecond: number;
  intervalRatio: number;
  alwaysRatio: number;
  /** The last flush=interval log, still open: section 2 reads it, then closes and removes it. */
  readLog: { log: PartitionLog; directory: string };
}

/** Section 1: append throughput, interleaved repetitions of writeSync, flush=interval and flush=always. */
export async function appendSection(root: string, template: Buffer, params: BenchParams): Promise<AppendSummary> {
  console.log(`## 1. Append throughput (${APPENDS_IN_FLIGHT} in flight; Buffer.from(template) per append in every loop, timed)`);
  const appendRows: Array<{ baseline: Throughput; interval: Throughput; always: Throughput }> = [];
  let readLog: { log: PartitionLog; directory: string } | undefined;
  for (let rep = 0; rep < params.repetitions; rep++) {
    const baseline = appendBaseline(freshDirectory(root, 'append-baseline'), template, params.appendBudgetMs, params.appendCapBytes);
    const intervalDirectory = freshDirectory(root, 'append-interval');
    const interval = await appendStrata(intervalDirectory, 'interval', template, params.appendBudgetMs, params.appendCapBytes);
    // The last interval log stays open for the read measurement.
    if (readLog) await closeAndRemove(readLog.log, readLog.directory);
    readLog = { log: interval.log, directory: intervalDirectory };
    const alwaysDirectory = freshDirectory(root, 'append-always');
    const always = await appendStrata(alwaysDirectory, 'always', template, params.appendBudgetMs, params.appendCapBytes);
    await closeAndRemove(always.log, alwaysDirectory);
    appendRows.push({ baseline, interval, always });
    console.log(
      `  rep ${rep + 1}: writeSync ${fmt(mbPerSecond(baseline))} MB/s (${fmt(baseline.bytes / MiB, 0)} MiB in ${fmt(baseline.ms, 0)} ms) | ` +
        `flush=interval ${fmt(mbPerSecond(interval))} MB/s (${fmt(interval.bytes / MiB, 0)} MiB in ${fmt(interval.ms, 0)} ms) ${pct(mbPerSecond(interval) / mbPerSecond(baseline))} | ` +
        `flush=always ${fmt(mbPerSecond(always))} MB/s (${fmt(always.bytes / MiB, 0)} MiB in ${fmt(always.ms, 0)} ms) ${pct(mbPerSecond(always) / mbPerSecond(baseline))}`,
    );
    for (const [name, run] of [['interval', interval], ['always  ', always]] as const) {
      console.log(`         flush=${name} ack latency ${latencyText(run.latenciesMs!)}; ${ioText(run.io!, run.ms)}`);
    }
  }
  const baselineMbPerSecond = median(appendRows.map((r) => mbPerSecond(r.baseline)));
  const intervalMbPerSecond = median(appendRows.map((r) => mbPerSecond(r.interval)));
  const alwaysMbPerSecond = median(appendRows.map((r) => mbPerSecond(r.always)));
  const intervalRatio = median(appendRows.map((r) => mbPerSecond(r.interval) / mbPerSecond(r.baseline)));
  const alwaysRatio = median(appendRows.map((r) => mbPerSecond(r.always) / mbPerSecond(r.baseline)));
  console.log(`  median: writeSync ${fmt(baselineMbPerSecond)} MB/s | flush=interval ${fmt(intervalMbPerSecond)} MB/s, ratio ${pct(intervalRatio)} (target >= 70 %: ${intervalRatio >= 0.7 ? 'MET' : 'NOT MET'}) | flush=always ${fmt(alwaysMbPerSecond)} MB/s, ratio ${pct(alwaysRatio)}`);
  console.log('');
  return { baselineMbPerSecond, intervalMbPerSecond, alwaysMbPerSecond, intervalRatio, alwaysRatio, readLog: readLog! };
}
