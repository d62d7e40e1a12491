import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchOptions } from './bench-options.js';
import { SEND_BATCH_RECORDS, SEND_BATCH_WINDOW } from './measure-produce.js';
import { packageVersion } from './package-version.js';
import { log } from './report-format.js';
import { KEY_COUNT, PARTITIONS, VALUE_BYTES } from './workload.js';

/** A short hash of the compiled code that runs (dist/src/<dir>): src/ changes while people work. */
function codeHash(dir: string): string {
  const root = fileURLToPath(new URL(`../../src/${dir}`, import.meta.url));
  const hash = createHash('sha256');
  const walk = (d: string) => {
    for (const entry of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const full = path.join(d, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.js')) hash.update(entry.name).update(fs.readFileSync(full));
    }
  };
  try {
    walk(root);
    return hash.digest('hex').slice(0, 12);
  } catch {
    return 'unknown';
  }
}

/** Prints the run's header (machine, software, command, code, load, workload); returns it for the JSON. */
export function printEnvironment(options: BenchOptions) {
  const cpus = os.cpus();
  const redisVersion = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  const environment = {
    date: new Date().toISOString(),
    node: process.version,
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    platform: `${os.type()} ${os.release()}`,
    grpcJs: packageVersion('@grpc/grpc-js'),
    ioredis: packageVersion('ioredis'),
    redisServer: redisVersion.status === 0 ? redisVersion.stdout.trim().split(/\s+/).find((w) => w.startsWith('v='))?.slice(2) ?? 'unknown' : 'absent',
    command: `node ${path.relative(process.cwd(), process.argv[1] ?? '')} ${options.argv.join(' ')}`.trim(),
    mode: options.isQuick ? 'quick' : 'full',
    loadAverageAtStart: os.loadavg().map((l) => Number(l.toFixed(2))),
    code: { client: codeHash('client'), server: codeHash('server'), broker: codeHash('broker'), storage: codeHash('storage'), format: codeHash('format') },
  };
  log('# Strata gRPC produce/consume benchmark');
  log(`date:     ${environment.date}`);
  log(`machine:  ${environment.cpu}, ${environment.cores} cores, ${environment.memoryGiB} GiB, ${environment.platform}`);
  log(`software: node ${environment.node}, @grpc/grpc-js ${environment.grpcJs}, ioredis ${environment.ioredis}, redis-server ${environment.redisServer}`);
  log(`command:  ${environment.command}  (${environment.mode} run)`);
  log(`code:     ${Object.entries(environment.code).map(([k, v]) => `${k} ${v}`).join(', ')} (sha-256 of dist/src/<dir>/**/*.js)`);
  log(`load:     ${environment.loadAverageAtStart.join(' ')} (1, 5, 15 min averages at start: other work on this shared machine)`);
  log(`workload: ${VALUE_BYTES}-byte values, ${PARTITIONS} partitions, keyed = ${KEY_COUNT} keys round robin; producer defaults (16 KiB batches, linger 5 ms, 5 requests in flight per partition, up to 4 queued batches a request); send() with at most ${options.produceWindows.join(' or ')} records un-awaited, sendBatch() of ${SEND_BATCH_RECORDS} with at most ${SEND_BATCH_WINDOW}`);
  log('');
  return environment;
}
