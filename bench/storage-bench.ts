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
 *      vs one write (writevSync of the one batch) + fdatasyncSync per batch in a single loop, same duration; beside it, as a
 *      reference, an "ideal" loop of one writev of 32 batches + one fdatasync (no overhead at all),
 *      and the same engine with 1 appender (one fsync per batch: what grouping adds to Strata itself).
 *      16 KiB batches are the headline (the size the issue names); in the same run, interleaved:
 *      - the disk ceiling: a loop of one writeSync of a large chunk (4 MiB, and 512 KiB = 32 x 16 KiB)
 *        + fdatasyncSync, appending to a fresh file, same duration: the bandwidth this disk gives
 *        appending writes made durable, in MB/s and in 16 KiB batches/s. Ceiling / baseline is the
 *        largest ratio any group commit of 16 KiB batches could reach here (unless it overlaps its
 *        writes with its fdatasync, as Strata does: the bench also prints the MB/s counted over the
 *        fdatasync time alone, the bound if the writes cost nothing);
 *      - the same four measurements (baseline loop, ideal, Strata 32 appenders, Strata 1 appender) at
 *        batches of about 1 KiB and 4 KiB of 100-byte records, for a shorter time each, in one table
 *        per batch size with batches per fdatasync: whether group commit itself reaches 10x when the
 *        disk's bandwidth is not the limit.
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
  ? { repetitions: 1, appendCapBytes: 64 * MiB, appendBudgetMs: 400, groupCommitMs: 400, groupCommitSmallMs: 300, warmupBytes: 4 * MiB }
  : { repetitions: 3, appendCapBytes: 2 * 1024 * MiB, appendBudgetMs: 2500, groupCommitMs: 3000, groupCommitSmallMs: 2000, warmupBytes: 32 * MiB };

const BATCH_TARGET_BYTES = 16 * KiB;
const RECORD_VALUE_BYTES = 100;
const APPENDS_IN_FLIGHT = 64;
const GROUP_COMMIT_APPENDERS = 32;
const READ_CHUNK_BYTES = 1 * MiB;
/** Group commit also at these smaller batch sizes (for params.groupCommitSmallMs each); 16 KiB stays the headline. */
const SMALL_BATCH_TARGETS = [1 * KiB, 4 * KiB];
/** Disk ceiling: appending writeSync + fdatasyncSync of chunks this large (512 KiB = 32 x 16 KiB). */
const CEILING_CHUNK_BYTES = [4 * MiB, 512 * KiB];

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

/** The largest batch of 100-byte records (null keys) that fits in `targetBytes` (16 KiB), built with the real codec. */
function buildTemplateBatch(targetBytes = BATCH_TARGET_BYTES): { template: Buffer; recordCount: number } {
  const value = Buffer.alloc(RECORD_VALUE_BYTES);
  for (let i = 0; i < value.length; i++) value[i] = 0x61 + (i % 26);
  const timestampMs = Date.now();
  const make = (count: number): Buffer => {
    const records: RecordInput[] = [];
    for (let i = 0; i < count; i++) records.push({ key: null, value, timestampMs });
    return encodeRecordBatch(records);
  };
  let count = 1;
  while (make(count + 1).length <= targetBytes) count++;
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

/** Baseline: one loop, write one batch then fdatasync, until the time is up (the ideal loop with groups of one). */
function groupCommitBaseline(directory: string, template: Buffer, durationMs = params.groupCommitMs): AckRate {
  return groupCommitIdeal(directory, template, 1, durationMs);
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
function groupCommitIdeal(directory: string, template: Buffer, groupSize: number, durationMs = params.groupCommitMs): AckRate {
  const file = path.join(directory, `write-${groupSize}-fdatasync.dat`);
  const fd = fs.openSync(file, 'w');
  const latenciesMs: number[] = [];
  let acks = 0;
  const start = performance.now();
  const deadline = start + durationMs;
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
async function groupCommitStrata(
  directory: string,
  template: Buffer,
  appenders = GROUP_COMMIT_APPENDERS,
  durationMs = params.groupCommitMs,
): Promise<AckRate> {
  const io = newIoStats();
  const log = await openLog(directory, 'always', io);
  const latenciesMs: number[] = [];
  let acks = 0;
  const start = performance.now();
  const deadline = start + durationMs;
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

/** One repetition of the four group-commit measurements at one batch size, in this order. */
interface CommitRow {
  baseline: AckRate;
  ideal: AckRate;
  strata: AckRate;
  single: AckRate;
}

async function measureGroupCommit(root: string, prefix: string, template: Buffer, durationMs: number): Promise<CommitRow> {
  const baseline = groupCommitBaseline(freshDirectory(root, `${prefix}-baseline`), template, durationMs);
  const ideal = groupCommitIdeal(freshDirectory(root, `${prefix}-ideal`), template, GROUP_COMMIT_APPENDERS, durationMs);
  const single = await groupCommitStrata(freshDirectory(root, `${prefix}-single`), template, 1, durationMs);
  const strata = await groupCommitStrata(freshDirectory(root, `${prefix}-strata`), template, GROUP_COMMIT_APPENDERS, durationMs);
  return { baseline, ideal, strata, single };
}

const batchesPerDatasync = (r: AckRate): number => r.acks / Math.max(1, r.io!.datasyncCalls);

/** Medians over the repetitions of one batch size; every ratio is the median of the per-repetition ratios. */
function summarizeGroupCommit(rows: CommitRow[]) {
  return {
    baseline: median(rows.map((r) => acksPerSecond(r.baseline))),
    strata: median(rows.map((r) => acksPerSecond(r.strata))),
    strataRatio: median(rows.map((r) => acksPerSecond(r.strata) / acksPerSecond(r.baseline))),
    single: median(rows.map((r) => acksPerSecond(r.single))),
    singleRatio: median(rows.map((r) => acksPerSecond(r.single) / acksPerSecond(r.baseline))),
    withinRatio: median(rows.map((r) => acksPerSecond(r.strata) / acksPerSecond(r.single))),
    ideal: median(rows.map((r) => acksPerSecond(r.ideal))),
    idealRatio: median(rows.map((r) => acksPerSecond(r.ideal) / acksPerSecond(r.baseline))),
    batchesPerDatasync: median(rows.map((r) => batchesPerDatasync(r.strata))),
  };
}

/** The disk ceiling: appending write + fdatasync of large chunks (see the file comment). */
interface Ceiling {
  bytes: number;
  ms: number;
  syncs: number;
  /** Time spent in fdatasyncSync alone. */
  datasyncMs: number;
}

/**
 * One loop: writeSync of `chunkBytes` (one buffer, filled with copies of the batch, reused: no copy in
 * the loop) then fdatasyncSync, appending to a fresh file, until the time is up.
 */
function diskCeiling(directory: string, chunkBytes: number, template: Buffer, durationMs = params.groupCommitMs): Ceiling {
  const file = path.join(directory, 'ceiling.dat');
  const fd = fs.openSync(file, 'w');
  const chunk = Buffer.alloc(chunkBytes, template);
  let syncs = 0;
  let datasyncMs = 0;
  const start = performance.now();
  const deadline = start + durationMs;
  while (performance.now() < deadline) {
    let written = 0;
    while (written < chunk.length) written += fs.writeSync(fd, chunk, written, chunk.length - written);
    const beforeSync = performance.now();
    fs.fdatasyncSync(fd);
    datasyncMs += performance.now() - beforeSync;
    syncs++;
  }
  const ms = performance.now() - start;
  fs.closeSync(fd);
  fs.rmSync(directory, { recursive: true, force: true });
  return { bytes: syncs * chunkBytes, ms, syncs, datasyncMs };
}

const ceilingBytesPerSecond = (c: Ceiling): number => c.bytes / (c.ms / 1000);
/** The same bytes over the fdatasync time alone: the bound if writes overlapped the fdatasyncs entirely. */
const ceilingSyncBytesPerSecond = (c: Ceiling): number => c.bytes / (c.datasyncMs / 1000);
/** The best of the chunk sizes of one repetition. */
const bestCeiling = (ceilings: Ceiling[]): number => Math.max(...ceilings.map(ceilingBytesPerSecond));

function sizeText(bytes: number): string {
  return bytes >= MiB && bytes % MiB === 0 ? `${bytes / MiB} MiB` : `${bytes / KiB} KiB`;
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
    const smallSizes = SMALL_BATCH_TARGETS.map((targetBytes) => ({ targetBytes, ...buildTemplateBatch(targetBytes) }));
    console.log(
      `   (in the same repetitions: the disk ceiling, one loop of writeSync of a ${CEILING_CHUNK_BYTES.map(sizeText).join(' or ')} chunk ` +
        `+ fdatasyncSync, appending, ${params.groupCommitMs} ms; and the same four measurements at smaller batches, ` +
        `${params.groupCommitSmallMs} ms each: ` +
        smallSizes.map((s) => `${sizeText(s.targetBytes)} = ${s.template.length} bytes (${s.recordCount} records)`).join(', ') +
        ')',
    );
    const commitRows: CommitRow[] = [];
    const ceilingRows: Ceiling[][] = [];
    const smallRows: CommitRow[][] = smallSizes.map(() => []);
    for (let rep = 0; rep < params.repetitions; rep++) {
      const { baseline, ideal, strata, single } = await measureGroupCommit(root, 'commit', template, params.groupCommitMs);
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
      const ceilings = CEILING_CHUNK_BYTES.map((chunkBytes) =>
        diskCeiling(freshDirectory(root, `ceiling-${chunkBytes / KiB}k`), chunkBytes, template),
      );
      ceilingRows.push(ceilings);
      console.log(
        `         disk ceiling, write+fdatasync of ` +
          ceilings
            .map((c, i) => {
              const batchesPerSecond = ceilingBytesPerSecond(c) / template.length;
              return (
                `${sizeText(CEILING_CHUNK_BYTES[i]!)}: ${fmt(ceilingBytesPerSecond(c) / MB, 0)} MB/s (${c.syncs} fdatasync, ` +
                `${pct(c.datasyncMs / c.ms)} of the time) = ${fmt(batchesPerSecond, 0)} batches/s ${fmt(batchesPerSecond / acksPerSecond(baseline), 1)}x`
              );
            })
            .join(' | '),
      );
      for (const [i, size] of smallSizes.entries()) {
        const row = await measureGroupCommit(root, `commit-${size.targetBytes / KiB}k`, size.template, params.groupCommitSmallMs);
        smallRows[i]!.push(row);
        const rate = (r: AckRate): string => fmt(acksPerSecond(r), 0);
        const times = (r: AckRate): string => `${fmt(acksPerSecond(r) / acksPerSecond(row.baseline), 1)}x`;
        console.log(
          `         ${sizeText(size.targetBytes)} batches: write+fdatasync ${rate(row.baseline)}/s | ideal ${rate(row.ideal)}/s ${times(row.ideal)} | ` +
            `Strata ${rate(row.strata)}/s ${times(row.strata)} (${fmt(batchesPerDatasync(row.strata), 1)} per fdatasync, ${latencyText(row.strata.latenciesMs)}) | ` +
            `1 appender ${rate(row.single)}/s ${times(row.single)}; ${GROUP_COMMIT_APPENDERS} vs 1: ${fmt(acksPerSecond(row.strata) / acksPerSecond(row.single), 1)}x`,
        );
      }
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

    // The disk ceiling: per chunk size, and the best chunk size of each repetition.
    const ceilingPerRep = ceilingRows.map(bestCeiling);
    const ceilingMedian = median(ceilingPerRep);
    const ceilingRatio = median(ceilingPerRep.map((bytesPerSecond, rep) => bytesPerSecond / template.length / acksPerSecond(commitRows[rep]!.baseline)));
    const ceilingSyncRatio = median(
      ceilingRows.map((ceilings, rep) => Math.max(...ceilings.map(ceilingSyncBytesPerSecond)) / template.length / acksPerSecond(commitRows[rep]!.baseline)),
    );
    const strataOfCeiling = median(ceilingPerRep.map((bytesPerSecond, rep) => (acksPerSecond(commitRows[rep]!.strata) * template.length) / bytesPerSecond));
    for (const [i, chunkBytes] of CEILING_CHUNK_BYTES.entries()) {
      const rate = median(ceilingRows.map((ceilings) => ceilingBytesPerSecond(ceilings[i]!)));
      const syncRate = median(ceilingRows.map((ceilings) => ceilingSyncBytesPerSecond(ceilings[i]!)));
      const ratio = median(ceilingRows.map((ceilings, rep) => ceilingBytesPerSecond(ceilings[i]!) / template.length / acksPerSecond(commitRows[rep]!.baseline)));
      console.log(
        `  median: disk ceiling, write+fdatasync of ${sizeText(chunkBytes)} appending: ${fmt(rate / MB, 0)} MB/s = ${fmt(rate / template.length, 0)} batches/s ` +
          `of ${template.length} bytes = ${fmt(ratio, 1)}x the baseline (over the fdatasync time alone: ${fmt(syncRate / MB, 0)} MB/s)`,
      );
    }
    console.log(
      `  median: disk ceiling (best chunk size per repetition) ${fmt(ceilingMedian / MB, 0)} MB/s: no group commit of ${template.length}-byte batches can pass ` +
        `${fmt(ceilingRatio, 1)}x the baseline on this disk (${fmt(ceilingSyncRatio, 1)}x if its writes cost no time at all); ` +
        `Strata made ${pct(strataOfCeiling)} of the ceiling durable`,
    );
    console.log('');

    // Group commit by batch size: 16 KiB (the rows above) and the smaller sizes.
    const bySize = [
      { label: sizeText(BATCH_TARGET_BYTES), template, rows: commitRows },
      ...smallSizes.map((size, i) => ({ label: sizeText(size.targetBytes), template: size.template, rows: smallRows[i]! })),
    ].map((size) => ({ ...size, summary: summarizeGroupCommit(size.rows) }));
    console.log(
      `### Group commit by batch size (medians of ${params.repetitions}; ratio = median of per-repetition ratios over write+fdatasync per batch; ` +
        `16 KiB ran ${params.groupCommitMs} ms, smaller sizes ${params.groupCommitSmallMs} ms; ceiling = best disk ceiling of the repetition in batches of that size)`,
    );
    console.log(
      `| batch | write+fdatasync | Strata ${GROUP_COMMIT_APPENDERS} appenders | ratio | Strata 1 appender | ratio | ${GROUP_COMMIT_APPENDERS} vs 1 | ` +
        `ideal ${GROUP_COMMIT_APPENDERS} per fdatasync | ratio | batches per fdatasync (${GROUP_COMMIT_APPENDERS} appenders) | Strata MB/s durable | ceiling / baseline |`,
    );
    console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
    for (const { label, template: batch, rows, summary: m } of bySize) {
      const ceilingOverBaseline = median(rows.map((r, rep) => ceilingPerRep[rep]! / batch.length / acksPerSecond(r.baseline)));
      console.log(
        `| ${label} (${batch.length} B) | ${fmt(m.baseline, 0)} /s | ${fmt(m.strata, 0)} /s | ${fmt(m.strataRatio, 1)}x | ${fmt(m.single, 0)} /s | ` +
          `${fmt(m.singleRatio, 1)}x | ${fmt(m.withinRatio, 1)}x | ${fmt(m.ideal, 0)} /s | ${fmt(m.idealRatio, 1)}x | ${fmt(m.batchesPerDatasync, 1)} | ` +
          `${fmt((m.strata * batch.length) / MB, 0)} | ${fmt(ceilingOverBaseline, 1)}x |`,
      );
    }
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
    console.log(`| (reference) disk ceiling, appending write+fdatasync of ${CEILING_CHUNK_BYTES.map(sizeText).join(' or ')}, in ${template.length}-byte batches | ${fmt(commitBaselineMedian, 0)} batches/s | ${fmt(ceilingMedian / template.length, 0)} batches/s (${fmt(ceilingMedian / MB, 0)} MB/s) | ${fmt(ceilingRatio, 1)}x | - | - |`);
    for (const { label, template: batch, summary: m } of bySize.slice(1)) {
      console.log(`| group commit, ${label} batches (${batch.length} B; the target names 16 KiB) | ${fmt(m.baseline, 0)} batches/s | ${fmt(m.strata, 0)} batches/s | ${fmt(m.strataRatio, 1)}x | (>= 10x) | ${m.strataRatio >= 10 ? 'yes' : 'no'} |`);
      console.log(`| group commit, ${label} batches, same engine: ${GROUP_COMMIT_APPENDERS} appenders vs 1 | ${fmt(m.single, 0)} batches/s | ${fmt(m.strata, 0)} batches/s | ${fmt(m.withinRatio, 1)}x | (>= 10x) | ${m.withinRatio >= 10 ? 'yes' : 'no'} |`);
    }
    console.log(`\ntotal bench time ${fmt((performance.now() - benchStart) / 1000, 1)} s`);
  } finally {
    removeRoot();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
