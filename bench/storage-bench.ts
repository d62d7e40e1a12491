/**
 * Storage engine benchmark (issue: storage engine). One run measures, in a temporary data directory
 * under os.tmpdir() that is removed at the end, each Strata number beside a plain-fs baseline taken in
 * the same run (the machine is shared and noisy: compare ratios, not absolute numbers across runs):
 *
 *   1. append throughput, 16 KiB batches of 100-byte records, 64 appends in flight,
 *      flush=interval and flush=always, vs plain fs.writeSync of the same 16 KiB buffers;
 *   2. sequential read of the whole log from offset 0 out of the page cache, read(offset, 1 MiB)
 *      following nextOffset, vs plain fs.readSync of the same segment files in 1 MiB chunks;
 *   3. group commit: flush=always with 32 concurrent appenders (append one batch, await, repeat),
 *      vs one writeSync + fdatasyncSync per batch in a single loop, same duration; beside it, as a
 *      reference, an "ideal" loop of one writev of 32 batches + one fdatasync (no overhead at all).
 *
 * Each measurement is repeated (interleaved: baseline, strata, ... then again) and the median is
 * reported; a ratio is the median of the per-repetition ratios (each pair ran back to back).
 * Alongside, the bench reports what explains the numbers: ack latency percentiles, and the writev and
 * fdatasync calls the log made (counted by wrapping NodeFileSystem), e.g. batches per fdatasync.
 *
 *   make bench                                 (= node dist/bench/storage-bench.js)
 *   node dist/bench/storage-bench.js --quick   (smoke run: 1 repetition, small budgets)
 *   STRATA_BENCH_QUICK=1 has the same effect as --quick.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { systemClock } from '../src/core/clock.js';
import { silentLogger } from '../src/core/logger.js';
import { encodeRecordBatch, type RecordInput } from '../src/format/record-batch-codec.js';
import type { FileHandlePort } from '../src/storage/file-system.js';
import { NodeFileSystem } from '../src/storage/node-file-system.js';
import { PartitionLog } from '../src/storage/partition-log.js';
import { resolveTopicConfig, type FlushPolicy } from '../src/storage/topic-config.js';

const KiB = 1024;
const MiB = 1024 * KiB;
/** Rates are decimal: MB/s = 1e6 bytes per second, GB/s = 1e9 bytes per second. */
const MB = 1e6;
const GB = 1e9;

const isQuick = process.argv.includes('--quick') || process.env['STRATA_BENCH_QUICK'] === '1';

/**
 * Appends run for a fixed time (the byte cap is a safety bound): long enough that flush=interval pays
 * for its periodic fdatasync (flush.ms 1000) at least twice, as it would in steady state.
 */
const params = isQuick
  ? { repetitions: 1, appendCapBytes: 64 * MiB, appendBudgetMs: 400, groupCommitMs: 400, warmupBytes: 4 * MiB }
  : { repetitions: 3, appendCapBytes: 2 * 1024 * MiB, appendBudgetMs: 2500, groupCommitMs: 3000, warmupBytes: 32 * MiB };

const BATCH_TARGET_BYTES = 16 * KiB;
const RECORD_VALUE_BYTES = 100;
const APPENDS_IN_FLIGHT = 64;
const GROUP_COMMIT_APPENDERS = 32;
const READ_CHUNK_BYTES = 1 * MiB;

// ---------------------------------------------------------------------------------------------------
// Helpers

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function percentile(sortedValues: number[], p: number): number {
  if (sortedValues.length === 0) return Number.NaN;
  const index = Math.min(sortedValues.length - 1, Math.max(0, Math.ceil((p / 100) * sortedValues.length) - 1));
  return sortedValues[index]!;
}

function fmt(value: number, digits = 1): string {
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function pct(ratio: number): string {
  return `${fmt(ratio * 100, 0)} %`;
}

/** The file system type holding `directory`, from /proc/mounts (best effort; Linux only). */
function fileSystemTypeOf(directory: string): string {
  try {
    const real = fs.realpathSync(directory);
    let best = { mountPoint: '', type: 'unknown', device: '' };
    for (const line of fs.readFileSync('/proc/mounts', 'utf8').split('\n')) {
      const [device, mountPoint, type] = line.split(' ');
      if (!device || !mountPoint || !type) continue;
      const isPrefix = real === mountPoint || real.startsWith(mountPoint.endsWith('/') ? mountPoint : `${mountPoint}/`);
      if (isPrefix && mountPoint.length >= best.mountPoint.length) best = { mountPoint, type, device };
    }
    return `${best.type} (${best.device} on ${best.mountPoint})`;
  } catch {
    return 'unknown';
  }
}

/** The largest batch of 100-byte records (null keys) that fits in 16 KiB, built with the real codec. */
function buildTemplateBatch(): { template: Buffer; recordCount: number } {
  const value = Buffer.alloc(RECORD_VALUE_BYTES);
  for (let i = 0; i < value.length; i++) value[i] = 0x61 + (i % 26);
  const timestampMs = Date.now();
  const make = (count: number): Buffer => {
    const records: RecordInput[] = [];
    for (let i = 0; i < count; i++) records.push({ key: null, value, timestampMs });
    return encodeRecordBatch(records);
  };
  let count = 1;
  while (make(count + 1).length <= BATCH_TARGET_BYTES) count++;
  return { template: make(count), recordCount: count };
}

/** What the log asked of the file system during one measurement (writev and fdatasync calls). */
interface IoStats {
  writevCalls: number;
  writevBytes: number;
  writevMs: number;
  datasyncCalls: number;
  datasyncMs: number;
  datasyncMaxMs: number;
}

const newIoStats = (): IoStats => ({ writevCalls: 0, writevBytes: 0, writevMs: 0, datasyncCalls: 0, datasyncMs: 0, datasyncMaxMs: 0 });

/**
 * The real NodeFileSystem, with the writev and datasync calls of the files it opens counted and timed
 * (two performance.now() calls per writev or fdatasync, i.e. per group, not per batch).
 */
class CountingFileSystem extends NodeFileSystem {
  constructor(private readonly stats: IoStats) {
    super();
  }

  override async open(path: string, options: { create: boolean }): Promise<FileHandlePort> {
    const handle = await super.open(path, options);
    const stats = this.stats;
    const writev = handle.writev.bind(handle);
    const datasync = handle.datasync.bind(handle);
    handle.writev = async (buffers, position) => {
      const start = performance.now();
      await writev(buffers, position);
      stats.writevMs += performance.now() - start;
      stats.writevCalls++;
      for (const buffer of buffers) stats.writevBytes += buffer.length;
    };
    handle.datasync = async () => {
      const start = performance.now();
      await datasync();
      const ms = performance.now() - start;
      stats.datasyncCalls++;
      stats.datasyncMs += ms;
      stats.datasyncMaxMs = Math.max(stats.datasyncMaxMs, ms);
    };
    return handle;
  }
}

function ioText(io: IoStats, elapsedMs: number): string {
  const perWritev = io.writevCalls > 0 ? io.writevBytes / io.writevCalls / KiB : 0;
  return (
    `writev ${io.writevCalls}x avg ${fmt(perWritev, 0)} KiB (${pct(io.writevMs / elapsedMs)} of the time), ` +
    `fdatasync ${io.datasyncCalls}x (${pct(io.datasyncMs / elapsedMs)} of the time, max ${fmt(io.datasyncMaxMs, 0)} ms)`
  );
}

function latencyText(latenciesMs: number[]): string {
  const sorted = [...latenciesMs].sort((a, b) => a - b);
  return `p50 ${fmt(percentile(sorted, 50), 2)} ms, p99 ${fmt(percentile(sorted, 99), 2)} ms, max ${fmt(sorted[sorted.length - 1] ?? Number.NaN, 1)} ms`;
}

/** A short hash of the compiled storage engine that ran (dist/src/{core,format,storage}): src/ changes between runs. */
function compiledSourceHash(): string {
  try {
    const distSrc = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'src');
    const hash = createHash('sha256');
    const walk = (directory: string): void => {
      for (const entry of fs.readdirSync(directory, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
        const full = path.join(directory, entry.name);
        if (entry.isDirectory()) walk(full);
        else if (entry.name.endsWith('.js')) hash.update(entry.name).update(fs.readFileSync(full));
      }
    };
    for (const part of ['core', 'format', 'storage']) walk(path.join(distSrc, part));
    return hash.digest('hex').slice(0, 12);
  } catch {
    return 'unknown';
  }
}

let directorySequence = 0;
function freshDirectory(root: string, label: string): string {
  const directory = path.join(root, `${String(directorySequence++).padStart(2, '0')}-${label}`);
  fs.mkdirSync(directory, { recursive: true });
  return directory;
}

function openLog(directory: string, flush: FlushPolicy, io: IoStats = newIoStats()): Promise<PartitionLog> {
  return PartitionLog.open({
    fs: new CountingFileSystem(io),
    directory,
    topic: 'bench',
    partition: 0,
    config: resolveTopicConfig({ flush }),
    clock: systemClock,
    logger: silentLogger,
    isCleanShutdown: false,
  });
}

interface Throughput {
  bytes: number;
  batches: number;
  ms: number;
  /** Strata append only. */
  io?: IoStats;
  latenciesMs?: number[];
}

const mbPerSecond = (t: Throughput): number => t.bytes / MB / (t.ms / 1000);

// ---------------------------------------------------------------------------------------------------
// 1. Append throughput

/**
 * Baseline: one synchronous write(2) per 16 KiB batch, sequentially, to a fresh file. The per-batch
 * Buffer.from(template) copy is inside the timed loop, exactly as for Strata. No fsync in the timed
 * region; the file is fdatasync'ed afterwards (untimed) so its writeback does not spill into the next
 * measurement.
 */
function appendBaseline(directory: string, template: Buffer, capBytes = params.appendCapBytes): Throughput {
  const file = path.join(directory, 'baseline.dat');
  const fd = fs.openSync(file, 'w');
  const maxBatches = Math.floor(capBytes / template.length);
  let batches = 0;
  const start = performance.now();
  const deadline = start + params.appendBudgetMs;
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
async function appendStrata(
  directory: string,
  flush: FlushPolicy,
  template: Buffer,
  capBytes = params.appendCapBytes,
): Promise<Throughput & { log: PartitionLog }> {
  const io = newIoStats();
  const log = await openLog(directory, flush, io);
  const latenciesMs: number[] = [];
  const maxBatches = Math.floor(capBytes / template.length);
  const expectedDurability = flush === 'always' ? 'durable' : 'written';
  let issued = 0;
  let acknowledged = 0;
  const start = performance.now();
  const deadline = start + params.appendBudgetMs;
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

async function closeAndRemove(log: PartitionLog, directory: string): Promise<void> {
  await log.close();
  fs.rmSync(directory, { recursive: true, force: true });
}

// ---------------------------------------------------------------------------------------------------
// 2. Sequential read

/** Strata: read(offset, 1 MiB) from logStartOffset to the high watermark, following nextOffset. */
async function readStrata(log: PartitionLog): Promise<Throughput> {
  let offset = log.logStartOffset;
  const end = log.highWatermark;
  let bytes = 0;
  let reads = 0;
  const start = performance.now();
  while (offset < end) {
    const result = await log.read(offset, READ_CHUNK_BYTES);
    if (result.batches.length === 0) break;
    bytes += result.batches.length;
    offset = result.nextOffset;
    reads++;
  }
  const ms = performance.now() - start;
  if (offset !== end || bytes !== log.sizeBytes) {
    throw new Error(`read stopped at offset ${offset} of ${end} after ${bytes} of ${log.sizeBytes} bytes`);
  }
  return { bytes, batches: reads, ms };
}

/** The log's segment files in offset order (a run may pass segment.bytes, 1 GiB, and roll). */
function segmentLogFiles(directory: string): string[] {
  return fs
    .readdirSync(directory)
    .filter((name) => name.endsWith('.log'))
    .sort()
    .map((name) => path.join(directory, name));
}

/**
 * Baseline: readSync of the same segment files, in order, 1 MiB at a time into one reused buffer
 * (open and close included in the time, as they are cheap next to the reads).
 */
function readBaseline(files: string[], sizeBytes: number): Throughput {
  const buffer = Buffer.allocUnsafe(READ_CHUNK_BYTES);
  let bytes = 0;
  let reads = 0;
  const start = performance.now();
  for (const file of files) {
    const fd = fs.openSync(file, 'r');
    for (let position = 0; ; ) {
      const n = fs.readSync(fd, buffer, 0, READ_CHUNK_BYTES, position);
      if (n === 0) break;
      position += n;
      bytes += n;
      reads++;
    }
    fs.closeSync(fd);
  }
  const ms = performance.now() - start;
  if (bytes !== sizeBytes) throw new Error(`baseline read ${bytes} of ${sizeBytes} bytes`);
  return { bytes, batches: reads, ms };
}

// ---------------------------------------------------------------------------------------------------
// 3. Group commit

interface AckRate {
  acks: number;
  ms: number;
  latenciesMs: number[];
  io?: IoStats;
}

const acksPerSecond = (r: AckRate): number => r.acks / (r.ms / 1000);

/** Baseline: one loop, write 16 KiB then fdatasync, until the time is up. */
function groupCommitBaseline(directory: string, template: Buffer): AckRate {
  const file = path.join(directory, 'baseline-fsync.dat');
  const fd = fs.openSync(file, 'w');
  const latenciesMs: number[] = [];
  let acks = 0;
  const start = performance.now();
  const deadline = start + params.groupCommitMs;
  let now = start;
  while (now < deadline) {
    const buffer = Buffer.from(template);
    let written = 0;
    while (written < buffer.length) written += fs.writeSync(fd, buffer, written, buffer.length - written);
    fs.fdatasyncSync(fd);
    acks++;
    const after = performance.now();
    latenciesMs.push(after - now);
    now = after;
  }
  const ms = performance.now() - start;
  fs.closeSync(fd);
  fs.rmSync(directory, { recursive: true, force: true });
  return { acks, ms, latenciesMs };
}

/** Writes every byte of `buffers` at the file cursor with writev(2), finishing a short write. */
function writeAllSync(fd: number, buffers: Buffer[]): void {
  let pending = buffers;
  let remaining = 0;
  for (const buffer of buffers) remaining += buffer.length;
  while (remaining > 0) {
    let written = fs.writevSync(fd, pending);
    remaining -= written;
    if (remaining === 0) break;
    const rest: Buffer[] = [];
    for (const buffer of pending) {
      if (written >= buffer.length) written -= buffer.length;
      else {
        rest.push(written > 0 ? buffer.subarray(written) : buffer);
        written = 0;
      }
    }
    pending = rest;
  }
}

/**
 * Reference, not a target: the best a group commit could do with `groupSize` batches per fdatasync and
 * no overhead at all: one loop, writev of `groupSize` fresh copies of the batch, fdatasync, repeat.
 * Each acknowledged batch is counted once its group's fdatasync returns.
 */
function groupCommitIdeal(directory: string, template: Buffer, groupSize: number): AckRate {
  const file = path.join(directory, 'ideal-group.dat');
  const fd = fs.openSync(file, 'w');
  const latenciesMs: number[] = [];
  let acks = 0;
  const start = performance.now();
  const deadline = start + params.groupCommitMs;
  let now = start;
  while (now < deadline) {
    const buffers: Buffer[] = [];
    for (let i = 0; i < groupSize; i++) buffers.push(Buffer.from(template));
    writeAllSync(fd, buffers);
    fs.fdatasyncSync(fd);
    acks += groupSize;
    const after = performance.now();
    latenciesMs.push(after - now);
    now = after;
  }
  const ms = performance.now() - start;
  fs.closeSync(fd);
  fs.rmSync(directory, { recursive: true, force: true });
  return { acks, ms, latenciesMs };
}

/**
 * Strata, flush=always: `appenders` concurrent appenders (32 by default), each appends one batch,
 * awaits the durable ack, repeats. With one appender every batch gets an fsync of its own: the same
 * engine without any grouping, the second baseline of section 3.
 */
async function groupCommitStrata(directory: string, template: Buffer, appenders = GROUP_COMMIT_APPENDERS): Promise<AckRate> {
  const io = newIoStats();
  const log = await openLog(directory, 'always', io);
  const latenciesMs: number[] = [];
  let acks = 0;
  const start = performance.now();
  const deadline = start + params.groupCommitMs;
  const appender = async (): Promise<void> => {
    for (let now = performance.now(); now < deadline; ) {
      const result = await log.append(Buffer.from(template));
      if (result.durability !== 'durable') throw new Error(`flush=always acknowledged ${result.durability}`);
      acks++;
      const after = performance.now();
      latenciesMs.push(after - now);
      now = after;
    }
  };
  await Promise.all(Array.from({ length: appenders }, appender));
  const ms = performance.now() - start;
  const ioDuringRun = { ...io };
  await closeAndRemove(log, directory);
  return { acks, ms, latenciesMs, io: ioDuringRun };
}

// ---------------------------------------------------------------------------------------------------
// Main

function printHeader(root: string, template: Buffer, recordCount: number): void {
  const cpus = os.cpus();
  const script = path.relative(process.cwd(), process.argv[1] ?? 'dist/bench/storage-bench.js') || process.argv[1];
  const command = ['node', script, ...process.argv.slice(2)].join(' ');
  console.log('# Strata storage benchmark');
  console.log(`date:     ${new Date().toISOString()}`);
  console.log(`command:  ${command}${isQuick ? '   (QUICK MODE: smoke run, numbers not representative)' : ''}`);
  console.log(`engine:   sha256 ${compiledSourceHash()} of dist/src/{core,format,storage}/**/*.js (the code that ran)`);
  console.log(`node:     ${process.version} (${process.platform} ${os.release()}, ${process.arch})`);
  console.log(`cpu:      ${cpus[0]?.model ?? 'unknown'}, ${cpus.length} cores (availableParallelism ${os.availableParallelism()}), ${fmt(os.totalmem() / 2 ** 30, 1)} GiB RAM`);
  console.log(`data dir: ${root} on ${fileSystemTypeOf(root)}`);
  console.log(
    `workload: batches of ${template.length} bytes (${recordCount} records of ${RECORD_VALUE_BYTES}-byte values, null keys, ` +
      `encodeRecordBatch); appends for ${params.appendBudgetMs} ms per measurement (cap ${params.appendCapBytes / MiB} MiB), ` +
      `${APPENDS_IN_FLIGHT} appends in flight; group commit ${params.groupCommitMs} ms, ${GROUP_COMMIT_APPENDERS} appenders; ` +
      `${params.repetitions} repetition(s), interleaved; MB = 1e6 bytes, GB = 1e9 bytes`,
  );
  console.log('');
}

async function main(): Promise<void> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-bench-'));
  const removeRoot = (): void => fs.rmSync(root, { recursive: true, force: true });
  process.once('SIGINT', () => {
    removeRoot();
    process.exit(130);
  });
  const benchStart = performance.now();
  try {
    const { template, recordCount } = buildTemplateBatch();
    printHeader(root, template, recordCount);

    // Warm-up (untimed, not reported): JIT the append/read paths and the baseline loops.
    {
      appendBaseline(freshDirectory(root, 'warmup-baseline'), template, params.warmupBytes);
      const warmDirectory = freshDirectory(root, 'warmup-strata');
      const warm = await appendStrata(warmDirectory, 'interval', template, params.warmupBytes);
      await readStrata(warm.log);
      await closeAndRemove(warm.log, warmDirectory);
    }

    // 1. Append throughput, interleaved repetitions.
    console.log(`## 1. Append throughput (${APPENDS_IN_FLIGHT} in flight; Buffer.from(template) per append in every loop, timed)`);
    const appendRows: Array<{ baseline: Throughput; interval: Throughput; always: Throughput }> = [];
    let readLog: { log: PartitionLog; directory: string } | undefined;
    for (let rep = 0; rep < params.repetitions; rep++) {
      const baseline = appendBaseline(freshDirectory(root, 'append-baseline'), template);
      const intervalDirectory = freshDirectory(root, 'append-interval');
      const interval = await appendStrata(intervalDirectory, 'interval', template);
      // The last interval log stays open for the read measurement.
      if (readLog) await closeAndRemove(readLog.log, readLog.directory);
      readLog = { log: interval.log, directory: intervalDirectory };
      const alwaysDirectory = freshDirectory(root, 'append-always');
      const always = await appendStrata(alwaysDirectory, 'always', template);
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
    const appendBaselineMedian = median(appendRows.map((r) => mbPerSecond(r.baseline)));
    const intervalMedian = median(appendRows.map((r) => mbPerSecond(r.interval)));
    const alwaysMedian = median(appendRows.map((r) => mbPerSecond(r.always)));
    const intervalRatio = median(appendRows.map((r) => mbPerSecond(r.interval) / mbPerSecond(r.baseline)));
    const alwaysRatio = median(appendRows.map((r) => mbPerSecond(r.always) / mbPerSecond(r.baseline)));
    console.log(`  median: writeSync ${fmt(appendBaselineMedian)} MB/s | flush=interval ${fmt(intervalMedian)} MB/s, ratio ${pct(intervalRatio)} (target >= 70 %: ${intervalRatio >= 0.7 ? 'MET' : 'NOT MET'}) | flush=always ${fmt(alwaysMedian)} MB/s, ratio ${pct(alwaysRatio)}`);
    console.log('');

    // 2. Sequential read of the last flush=interval log, from the page cache.
    const { log } = readLog!;
    const segmentFiles = segmentLogFiles(readLog!.directory);
    const logBytes = log.sizeBytes;
    readBaseline(segmentFiles, logBytes); // untimed pass: make sure every page is cached
    console.log(
      `## 2. Sequential read from offset 0, page cache (${fmt(logBytes / MiB, 0)} MiB log in ${segmentFiles.length} segment(s), ` +
        `${log.highWatermark} records, 1 MiB per read)`,
    );
    const readRows: Array<{ baseline: Throughput; strata: Throughput }> = [];
    for (let rep = 0; rep < params.repetitions; rep++) {
      const baseline = readBaseline(segmentFiles, logBytes);
      const strata = await readStrata(log);
      readRows.push({ baseline, strata });
      const gbps = (t: Throughput): number => t.bytes / GB / (t.ms / 1000);
      console.log(
        `  rep ${rep + 1}: readSync ${fmt(gbps(baseline), 2)} GB/s (${fmt(baseline.ms, 0)} ms) | ` +
          `PartitionLog.read ${fmt(gbps(strata), 2)} GB/s (${fmt(strata.ms, 0)} ms, ${strata.batches} reads) ${pct(gbps(strata) / gbps(baseline))}`,
      );
    }
    const gbpsOf = (t: Throughput): number => t.bytes / GB / (t.ms / 1000);
    const readBaselineMedian = median(readRows.map((r) => gbpsOf(r.baseline)));
    const readMedian = median(readRows.map((r) => gbpsOf(r.strata)));
    const readRatio = median(readRows.map((r) => gbpsOf(r.strata) / gbpsOf(r.baseline)));
    console.log(`  median: readSync ${fmt(readBaselineMedian, 2)} GB/s | PartitionLog.read ${fmt(readMedian, 2)} GB/s (target >= 1 GB/s: ${readMedian >= 1 ? 'MET' : 'NOT MET'}), ratio ${pct(readRatio)}`);
    console.log('');
    await closeAndRemove(log, readLog!.directory);

    // 3. Group commit, interleaved repetitions.
    console.log(`## 3. Group commit (flush=always, ${GROUP_COMMIT_APPENDERS} appenders x 1 batch each in flight, ${params.groupCommitMs} ms) vs write+fdatasync per batch`);
    console.log(
      `   (reference, not a target: "ideal" = one loop of writev of ${GROUP_COMMIT_APPENDERS} batches + one fdatasync, ` +
        `the best any group commit of ${GROUP_COMMIT_APPENDERS} appenders could do on this disk, with no overhead)`,
    );
    console.log(
      `   (second baseline: Strata itself with 1 appender, so that each batch is fsynced alone: what group commit adds ` +
        `to the same engine)`,
    );
    const commitRows: Array<{ baseline: AckRate; ideal: AckRate; strata: AckRate; single: AckRate }> = [];
    for (let rep = 0; rep < params.repetitions; rep++) {
      const baseline = groupCommitBaseline(freshDirectory(root, 'commit-baseline'), template);
      const ideal = groupCommitIdeal(freshDirectory(root, 'commit-ideal'), template, GROUP_COMMIT_APPENDERS);
      const single = await groupCommitStrata(freshDirectory(root, 'commit-single'), template, 1);
      const strata = await groupCommitStrata(freshDirectory(root, 'commit-strata'), template);
      commitRows.push({ baseline, ideal, strata, single });
      console.log(
        `  rep ${rep + 1}: write+fdatasync ${fmt(acksPerSecond(baseline), 0)} batches/s (${latencyText(baseline.latenciesMs)}) | ` +
          `ideal ${fmt(acksPerSecond(ideal), 0)} batches/s ${fmt(acksPerSecond(ideal) / acksPerSecond(baseline), 1)}x | ` +
          `Strata ${fmt(acksPerSecond(strata), 0)} batches/s (${latencyText(strata.latenciesMs)}) ${fmt(acksPerSecond(strata) / acksPerSecond(baseline), 1)}x`,
      );
      console.log(`         Strata I/O: ${ioText(strata.io!, strata.ms)}, ${fmt(strata.acks / Math.max(1, strata.io!.datasyncCalls), 1)} batches per fdatasync`);
      console.log(
        `         Strata, 1 appender (one fsync per batch): ${fmt(acksPerSecond(single), 0)} batches/s (${latencyText(single.latenciesMs)}); ` +
          `${GROUP_COMMIT_APPENDERS} appenders ${fmt(acksPerSecond(strata) / acksPerSecond(single), 1)}x that`,
      );
    }
    const singleMedian = median(commitRows.map((r) => acksPerSecond(r.single)));
    const withinRatio = median(commitRows.map((r) => acksPerSecond(r.strata) / acksPerSecond(r.single)));
    const commitBaselineMedian = median(commitRows.map((r) => acksPerSecond(r.baseline)));
    const commitMedian = median(commitRows.map((r) => acksPerSecond(r.strata)));
    const commitRatio = median(commitRows.map((r) => acksPerSecond(r.strata) / acksPerSecond(r.baseline)));
    const idealMedian = median(commitRows.map((r) => acksPerSecond(r.ideal)));
    const idealRatio = median(commitRows.map((r) => acksPerSecond(r.ideal) / acksPerSecond(r.baseline)));
    const strataOfIdeal = median(commitRows.map((r) => acksPerSecond(r.strata) / acksPerSecond(r.ideal)));
    console.log(
      `  median: ideal ${fmt(idealMedian, 0)} batches/s = ${fmt(idealRatio, 1)}x the baseline; Strata reaches ${pct(strataOfIdeal)} of the ideal ` +
        `(${fmt((commitMedian * template.length) / MB)} MB/s made durable)`,
    );
    console.log(`  median: write+fdatasync ${fmt(commitBaselineMedian, 0)} batches/s | Strata ${fmt(commitMedian, 0)} batches/s (${fmt((commitMedian * recordCount) / 1000, 0)}k records/s), ratio ${fmt(commitRatio, 1)}x (target >= 10x: ${commitRatio >= 10 ? 'MET' : 'NOT MET'})`);
    console.log('');

    console.log('## Summary (medians; ratio = median of per-repetition ratios)');
    console.log('| measurement | baseline | Strata | ratio | target | met |');
    console.log('|---|---|---|---|---|---|');
    console.log(`| append, flush=interval | ${fmt(appendBaselineMedian, 0)} MB/s | ${fmt(intervalMedian, 0)} MB/s | ${pct(intervalRatio)} | >= 70 % | ${intervalRatio >= 0.7 ? 'yes' : 'no'} |`);
    console.log(`| append, flush=always | ${fmt(appendBaselineMedian, 0)} MB/s | ${fmt(alwaysMedian, 0)} MB/s | ${pct(alwaysRatio)} | (none) | - |`);
    console.log(`| sequential read | ${fmt(readBaselineMedian, 2)} GB/s | ${fmt(readMedian, 2)} GB/s | ${pct(readRatio)} | >= 1 GB/s | ${readMedian >= 1 ? 'yes' : 'no'} |`);
    console.log(`| group commit | ${fmt(commitBaselineMedian, 0)} batches/s | ${fmt(commitMedian, 0)} batches/s | ${fmt(commitRatio, 1)}x | >= 10x | ${commitRatio >= 10 ? 'yes' : 'no'} |`);
    console.log(`| group commit, same engine: ${GROUP_COMMIT_APPENDERS} appenders vs 1 (one fsync per batch) | ${fmt(singleMedian, 0)} batches/s | ${fmt(commitMedian, 0)} batches/s | ${fmt(withinRatio, 1)}x | >= 10x | ${withinRatio >= 10 ? 'yes' : 'no'} |`);
    console.log(`| (reference) ideal group commit, ${GROUP_COMMIT_APPENDERS} per fdatasync | ${fmt(commitBaselineMedian, 0)} batches/s | ${fmt(idealMedian, 0)} batches/s | ${fmt(idealRatio, 1)}x | - | - |`);
    console.log(`\ntotal bench time ${fmt((performance.now() - benchStart) / 1000, 1)} s`);
  } finally {
    removeRoot();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
