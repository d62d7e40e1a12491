import * as fs from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { PartitionLog } from '../../src/storage/partition-log.js';
import { GB, MiB, READ_CHUNK_BYTES, type BenchParams } from './bench-params.js';

const GiB = 1024 * MiB;
import type { Throughput } from './append-section.js';
import { openLog } from './counting-file-system.js';
import { fmt, median, pct } from './report-format.js';

const gbPerSecond = (t: Throughput): number => t.bytes / GB / (t.ms / 1000);

/** Strata: read(offset, 1 MiB) from logStartOffset to the high watermark, following nextOffset. */
export async function readStrata(log: PartitionLog): Promise<Throughput> {
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

/** Medians of section 2 in GB/s; the ratio is the median of the per-repetition ratios. */
export interface ReadSummary {
  baselineGbPerSecond: number;
  strataGbPerSecond: number;
  ratio: number;
}

/**
 * Section 2: sequential read of the last flush=interval log of section 1, from the page cache,
 * interleaved repetitions of readSync and PartitionLog.read. Closes and removes the log at the end.
 */
export async function readSection(readLog: { log: PartitionLog; directory: string }, params: BenchParams): Promise<ReadSummary> {
  const { log, directory } = readLog;
  const segmentFiles = segmentLogFiles(directory);
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
    console.log(
      `  rep ${rep + 1}: readSync ${fmt(gbPerSecond(baseline), 2)} GB/s (${fmt(baseline.ms, 0)} ms) | ` +
        `PartitionLog.read ${fmt(gbPerSecond(strata), 2)} GB/s (${fmt(strata.ms, 0)} ms, ${strata.batches} reads) ${pct(gbPerSecond(strata) / gbPerSecond(baseline))}`,
    );
  }
  const baselineGbPerSecond = median(readRows.map((r) => gbPerSecond(r.baseline)));
  const strataGbPerSecond = median(readRows.map((r) => gbPerSecond(r.strata)));
  const ratio = median(readRows.map((r) => gbPerSecond(r.strata) / gbPerSecond(r.baseline)));
  console.log(`  median: readSync ${fmt(baselineGbPerSecond, 2)} GB/s | PartitionLog.read ${fmt(strataGbPerSecond, 2)} GB/s (target >= 1 GB/s: ${strataGbPerSecond >= 1 ? 'MET' : 'NOT MET'}), ratio ${pct(ratio)}`);
  console.log('');
  await log.close();
  await openSection(directory, segmentFiles, logBytes, params);
  fs.rmSync(directory, { recursive: true, force: true });
  return { baselineGbPerSecond, strataGbPerSecond, ratio };
}

/**
 * Section 2b: opening the same log after its clean close, pages cached. The start walks every batch
 * header of every segment (what the CRC does not cover; see batch-header-check.ts), so it costs about
 * one read of the files: shown beside readSync of the same files, interleaved.
 */
async function openSection(directory: string, segmentFiles: string[], logBytes: number, params: BenchParams): Promise<void> {
  console.log(`## 2b. Open after a clean shutdown, page cache (${fmt(logBytes / MiB, 0)} MiB, every batch header checked)`);
  const rows: Array<{ openMs: number; readMs: number }> = [];
  for (let rep = 0; rep < params.repetitions; rep++) {
    const readMs = readBaseline(segmentFiles, logBytes).ms;
    const start = performance.now();
    const log = await openLog(directory, 'interval', undefined, true);
    const openMs = performance.now() - start;
    await log.close();
    rows.push({ openMs, readMs });
    console.log(`  rep ${rep + 1}: open ${fmt(openMs, 0)} ms (${fmt(openMs / (logBytes / GiB), 0)} ms per GiB) | readSync of the files ${fmt(readMs, 0)} ms`);
  }
  const openMs = median(rows.map((r) => r.openMs));
  console.log(`  median: open ${fmt(openMs, 0)} ms, ${fmt(openMs / (logBytes / GiB), 0)} ms per GiB; open / readSync ${fmt(median(rows.map((r) => r.openMs / r.readMs)), 2)}x`);
  console.log('');
}
