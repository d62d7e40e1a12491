/**
 * Storage engine benchmark (issue: storage engine). One run measures, in a temporary data directory
 * under os.tmpdir() that is removed at the end, each Strata number beside a plain-fs baseline taken in
 * the same run (the machine is shared and noisy: compare ratios, not absolute numbers across runs):
 *
 *   1. append throughput, 16 KiB batches of 100-byte records, 64 appends in flight,
 *      flush=interval and flush=always, vs plain fs.writeSync of the same 16 KiB buffers;
 *   2. sequential read of the whole log from offset 0 out of the page cache, read(offset, 1 MiB)
 *      following nextOffset, vs plain fs.readSync of the same segment files in 1 MiB chunks; then
 *      (2b) the time to open that log after a clean close, which walks every batch header, beside
 *      readSync of the same files;
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
import { appendBaseline, appendSection, appendStrata } from './storage/append-section.js';
import { MiB, buildTemplateBatch, type BenchParams } from './storage/bench-params.js';
import { closeAndRemove, freshDirectory } from './storage/counting-file-system.js';
import { groupCommitSection } from './storage/group-commit-section.js';
import { printHeader } from './storage/print-header.js';
import { printSummary } from './storage/print-summary.js';
import { readSection, readStrata } from './storage/read-section.js';
import { fmt } from './storage/report-format.js';

const isQuick = process.argv.includes('--quick') || process.env['STRATA_BENCH_QUICK'] === '1';

/**
 * Appends run for a fixed time (the byte cap is a safety bound): long enough that flush=interval pays
 * for its periodic fdatasync (flush.ms 1000) at least twice, as it would in steady state.
 */
const params: BenchParams = isQuick
  ? { repetitions: 1, appendCapBytes: 64 * MiB, appendBudgetMs: 400, groupCommitMs: 400, groupCommitSmallMs: 300, warmupBytes: 4 * MiB }
  : { repetitions: 3, appendCapBytes: 2 * 1024 * MiB, appendBudgetMs: 2500, groupCommitMs: 3000, groupCommitSmallMs: 2000, warmupBytes: 32 * MiB };

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
    printHeader(root, template, recordCount, params, isQuick);

    // Warm-up (untimed, not reported): JIT the append/read paths and the baseline loops.
    {
      appendBaseline(freshDirectory(root, 'warmup-baseline'), template, params.appendBudgetMs, params.warmupBytes);
      const warmDirectory = freshDirectory(root, 'warmup-strata');
      const warm = await appendStrata(warmDirectory, 'interval', template, params.appendBudgetMs, params.warmupBytes);
      await readStrata(warm.log);
      await closeAndRemove(warm.log, warmDirectory);
    }

    const append = await appendSection(root, template, params);
    const read = await readSection(append.readLog, params);
    const commit = await groupCommitSection(root, template, recordCount, params);
    printSummary(append, read, commit, template);
    console.log(`\ntotal bench time ${fmt((performance.now() - benchStart) / 1000, 1)} s`);
  } finally {
    removeRoot();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
