import { CEILING_CHUNK_BYTES, GROUP_COMMIT_APPENDERS, MB } from './bench-params.js';
import type { AppendSummary } from './append-section.js';
import type { GroupCommitSummary } from './group-commit-section.js';
import type { ReadSummary } from './read-section.js';
import { fmt, pct, sizeText } from './report-format.js';

/** One table of every section's medians against its target, so a run can be judged at a glance. */
export function printSummary(append: AppendSummary, read: ReadSummary, commit: GroupCommitSummary, template: Buffer): void {
  console.log('## Summary (medians; ratio = median of per-repetition ratios)');
  console.log('| measurement | baseline | Strata | ratio | target | met |');
  console.log('|---|---|---|---|---|---|');
  console.log(`| append, flush=interval | ${fmt(append.baselineMbPerSecond, 0)} MB/s | ${fmt(append.intervalMbPerSecond, 0)} MB/s | ${pct(append.intervalRatio)} | >= 70 % | ${append.intervalRatio >= 0.7 ? 'yes' : 'no'} |`);
  console.log(`| append, flush=always | ${fmt(append.baselineMbPerSecond, 0)} MB/s | ${fmt(append.alwaysMbPerSecond, 0)} MB/s | ${pct(append.alwaysRatio)} | (none) | - |`);
  console.log(`| sequential read | ${fmt(read.baselineGbPerSecond, 2)} GB/s | ${fmt(read.strataGbPerSecond, 2)} GB/s | ${pct(read.ratio)} | >= 1 GB/s | ${read.strataGbPerSecond >= 1 ? 'yes' : 'no'} |`);
  console.log(`| group commit | ${fmt(commit.baselineBatchesPerSecond, 0)} batches/s | ${fmt(commit.strataBatchesPerSecond, 0)} batches/s | ${fmt(commit.ratio, 1)}x | >= 10x | ${commit.ratio >= 10 ? 'yes' : 'no'} |`);
  console.log(`| group commit, same engine: ${GROUP_COMMIT_APPENDERS} appenders vs 1 (one fsync per batch) | ${fmt(commit.singleBatchesPerSecond, 0)} batches/s | ${fmt(commit.strataBatchesPerSecond, 0)} batches/s | ${fmt(commit.withinRatio, 1)}x | >= 10x | ${commit.withinRatio >= 10 ? 'yes' : 'no'} |`);
  console.log(`| (reference) ideal group commit, ${GROUP_COMMIT_APPENDERS} per fdatasync | ${fmt(commit.baselineBatchesPerSecond, 0)} batches/s | ${fmt(commit.idealBatchesPerSecond, 0)} batches/s | ${fmt(commit.idealRatio, 1)}x | - | - |`);
  console.log(`| (reference) disk ceiling, appending write+fdatasync of ${CEILING_CHUNK_BYTES.map(sizeText).join(' or ')}, in ${template.length}-byte batches | ${fmt(commit.baselineBatchesPerSecond, 0)} batches/s | ${fmt(commit.ceilingBytesPerSecond / template.length, 0)} batches/s (${fmt(commit.ceilingBytesPerSecond / MB, 0)} MB/s) | ${fmt(commit.ceilingRatio, 1)}x | - | - |`);
  for (const { label, template: batch, summary: m } of commit.smallSizes) {
    console.log(`| group commit, ${label} batches (${batch.length} B; the target names 16 KiB) | ${fmt(m.baseline, 0)} batches/s | ${fmt(m.strata, 0)} batches/s | ${fmt(m.strataRatio, 1)}x | (>= 10x) | ${m.strataRatio >= 10 ? 'yes' : 'no'} |`);
    console.log(`| group commit, ${label} batches, same engine: ${GROUP_COMMIT_APPENDERS} appenders vs 1 | ${fmt(m.single, 0)} batches/s | ${fmt(m.strata, 0)} batches/s | ${fmt(m.withinRatio, 1)}x | (>= 10x) | ${m.withinRatio >= 10 ? 'yes' : 'no'} |`);
  }
}
