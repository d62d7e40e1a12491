import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { APPENDS_IN_FLIGHT, GROUP_COMMIT_APPENDERS, MiB, RECORD_VALUE_BYTES, type BenchParams } from './bench-params.js';
import { fmt } from './report-format.js';

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

/** A short hash of the compiled storage engine that ran (dist/src/{core,format,storage}): src/ changes between runs. */
function compiledSourceHash(): string {
  try {
    // This file runs as dist/bench/storage/print-header.js.
    const distSrc = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'src');
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

/** What a reader needs to compare two runs: when, which code, which machine and disk, which workload. */
export function printHeader(root: string, template: Buffer, recordCount: number, params: BenchParams, isQuick: boolean): void {
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
