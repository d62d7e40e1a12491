import { performance } from 'node:perf_hooks';
import {
  BATCH_TARGET_BYTES,
  CEILING_CHUNK_BYTES,
  GROUP_COMMIT_APPENDERS,
  KiB,
  MB,
  SMALL_BATCH_TARGETS,
  buildTemplateBatch,
  type BenchParams,
} from './bench-params.js';
import { closeAndRemove, freshDirectory, newIoStats, openLog } from './counting-file-system.js';
import {
  acksPerSecond,
  bestCeiling,
  ceilingBytesPerSecond,
  ceilingSyncBytesPerSecond,
  diskCeiling,
  groupCommitBaseline,
  groupCommitIdeal,
  type AckRate,
  type Ceiling,
} from './raw-disk-loops.js';
import { fmt, ioText, latencyText, median, pct, sizeText } from './report-format.js';

/**
 * Strata, flush=always: `appenders` concurrent appenders (32 for the headline), each appends one batch,
 * awaits the durable ack, repeats. With one appender every batch gets an fsync of its own: the same
 * engine without any grouping, the second baseline of section 3.
 */
async function groupCommitStrata(directory: string, template: Buffer, appenders: number, durationMs: number): Promise<AckRate> {
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

/** Medians of section 3 at 16 KiB in batches/s (ceiling in bytes/s); each ratio is the median of the per-repetition ratios. */
export interface GroupCommitSummary {
  baselineBatchesPerSecond: number;
  strataBatchesPerSecond: number;
  ratio: number;
  singleBatchesPerSecond: number;
  /** 32 appenders over 1, the same engine. */
  withinRatio: number;
  idealBatchesPerSecond: number;
  idealRatio: number;
  ceilingBytesPerSecond: number;
  ceilingRatio: number;
  /** The smaller batch sizes, for the summary table. */
  smallSizes: Array<{ label: string; template: Buffer; summary: ReturnType<typeof summarizeGroupCommit> }>;
}

/**
 * Section 3: group commit, interleaved repetitions of, in this order, the four measurements at 16 KiB,
 * the disk ceilings, and the four measurements at each smaller batch size; then the table by batch size.
 */
export async function groupCommitSection(root: string, template: Buffer, recordCount: number, params: BenchParams): Promise<GroupCommitSummary> {
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
      diskCeiling(freshDirectory(root, `ceiling-${chunkBytes / KiB}k`), chunkBytes, template, params.groupCommitMs),
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
  return {
    baselineBatchesPerSecond: commitBaselineMedian,
    strataBatchesPerSecond: commitMedian,
    ratio: commitRatio,
    singleBatchesPerSecond: singleMedian,
    withinRatio,
    idealBatchesPerSecond: idealMedian,
    idealRatio,
    ceilingBytesPerSecond: ceilingMedian,
    ceilingRatio,
    smallSizes: bySize.slice(1).map(({ label, template: batch, summary }) => ({ label, template: batch, summary })),
  };
}
