/**
 * What security costs (issue 18, Performance), one run, everything on 127.0.0.1:
 *
 *   Three Strata servers as child processes, side by side for the whole run:
 *   - `plain`: no TLS, no authentication (the baseline of both comparisons);
 *   - `tls`: TLS (a server certificate made here with openssl, EC P-256; grpc-js over Node's TLS),
 *     no authentication: the client verifies the server against the CA;
 *   - `acl`: plaintext over loopback with static tokens (`--auth-tokens`), deny by default, and
 *     --rules ACL rules (default 100) all naming the bench's principal, so every uncached check walks
 *     all of them: three prefix rules on `bench-` (create, write, read) allow what the workload does,
 *     the others are literal rules on other topics and groups (allow and deny).
 *   Each round measures produce (sendBatch() in calls of 1,000 records of 100 bytes, 8 partitions,
 *   50,000 un-awaited, flush=interval: the fastest path, where per-request costs weigh most) and then a
 *   replay of that topic from offset 0 (consumeBatches on a new connection), on each server in turn,
 *   the order rotated every round (all six orders in six rounds). Records/s and the server's CPU per
 *   MB of batches (its process tree, from /proc) are taken for both; the ratios tls/plain and
 *   acl/plain are taken per round and their medians reported. Each topic is deleted after its replay.
 *
 *   make build && node dist/bench/security-bench.js [--rounds=6] [--produce-seconds=3] [--rules=100] [--server-cpu-prof=DIR]
 *     [--gate-messages=500000] [--skip-gate | --only-gate]
 *
 * First, before the servers start, bench/security/gate-cost.ts measures the gate's own cost per
 * message in this process (no transport), which the machine's load blurs far less than the rounds.
 *
 * --server-cpu-prof=DIR writes a V8 CPU profile of the `acl` server to DIR when it stops (read it
 * with bench/cpuprofile-top.ts).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { AclRule } from '../src/acls/acl-rules.js';
import { StrataClient, type StrataClientOptions } from '../src/client/strata-client.js';
import { SERVER_NODE_FLAGS } from '../src/cli/server-node-flags.js';
import { hashToken } from '../src/server/auth/static-tokens.js';
import { makeTempDir, removeTempDirs, startChild, stopAllChildren } from './grpc/child-processes.js';
import { measureProduce, SEND_BATCH_WINDOW, warmUpProducePath } from './grpc/measure-produce.js';
import { fmt, log, table } from './grpc/report-format.js';
import { MB, PARTITIONS, VALUE_BYTES } from './grpc/workload.js';
import { processTreeCpuMs } from './process-cpu.js';
import { measureGateCost } from './security/gate-cost.js';

const argv = process.argv.slice(2);
const option = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const ROUNDS = Number(option('rounds') ?? 6);
const PRODUCE_MS = Number(option('produce-seconds') ?? 3) * 1000;
const RULE_COUNT = Number(option('rules') ?? 100);
const PROFILE_DIR = option('server-cpu-prof');
const GATE_MESSAGES = Number(option('gate-messages') ?? 500_000);
const PRINCIPAL = 'bench';
/** What measure-produce's topicName() starts every topic with. */
const TOPIC_PREFIX = 'bench-';

type Label = 'plain' | 'tls' | 'acl';

interface Server {
  label: Label;
  address: string;
  pid: number | undefined;
  /** What a client of the workload connects with (the bench principal's token on `acl`). */
  clientOptions: StrataClientOptions;
  client: StrataClient;
  /** Deletes topics: a super user on `acl`. */
  admin: StrataClient;
}

/** A CA and a server certificate for 127.0.0.1 and localhost, signed by it (openssl, EC P-256). */
function makeCertificates(dir: string): { caFile: string; certFile: string; keyFile: string } {
  const openssl = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-out', 'ca.key']);
  openssl(['req', '-x509', '-key', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=bench-ca', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-out', 'server.key']);
  openssl(['req', '-new', '-key', 'server.key', '-out', 'server.csr', '-subj', '/CN=strata-bench']);
  fs.writeFileSync(path.join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'server.ext']);
  return { caFile: path.join(dir, 'ca.pem'), certFile: path.join(dir, 'server.pem'), keyFile: path.join(dir, 'server.key') };
}

/** --rules rules naming the bench principal: the three prefix allows the workload needs, then literal rules it never matches. */
function benchRules(count: number): AclRule[] {
  const rule = (fields: Partial<AclRule>): AclRule => ({ principal: PRINCIPAL, resourceType: 'topic', patternType: 'literal', resourceName: '', operation: 'read', permission: 'allow', ...fields });
  const rules = (['create', 'write', 'read'] as const).map((operation) => rule({ patternType: 'prefix', resourceName: TOPIC_PREFIX, operation }));
  for (let i = 0; rules.length < count; i++) {
    const kind = i % 4;
    if (kind === 0) rules.push(rule({ resourceName: `orders-${i}`, operation: 'write' }));
    else if (kind === 1) rules.push(rule({ resourceName: `payments-${i}`, operation: 'read' }));
    else if (kind === 2) rules.push(rule({ resourceName: `secret-${i}`, operation: 'describe', permission: 'deny' }));
    else rules.push(rule({ resourceType: 'group', resourceName: `group-${i}`, operation: 'read' }));
  }
  return rules.slice(0, count);
}

async function startServer(label: Label, certificates: ReturnType<typeof makeCertificates>): Promise<Server> {
  const dataDir = makeTempDir(`strata-security-bench-${label}-`);
  const configDir = makeTempDir('strata-security-bench-config-');
  const config: Record<string, unknown> = {};
  const clientOptions: StrataClientOptions = {};
  let adminOptions: StrataClientOptions = {};
  if (label === 'tls') {
    Object.assign(config, { tlsCertFile: certificates.certFile, tlsKeyFile: certificates.keyFile });
    // The certificate's DNS name: Node refuses an IP address as the TLS server name (RFC 6066).
    clientOptions.tls = { ca: fs.readFileSync(certificates.caFile), serverName: 'localhost' };
    adminOptions = clientOptions;
  }
  if (label === 'acl') {
    const tokensFile = path.join(configDir, 'tokens.json');
    fs.writeFileSync(tokensFile, JSON.stringify([{ principal: 'root', sha256: hashToken('root-token') }, { principal: PRINCIPAL, sha256: hashToken('bench-token') }]));
    Object.assign(config, { authTokensFile: tokensFile, superUsers: ['root'] });
    clientOptions.token = 'bench-token';
    adminOptions = { token: 'root-token' };
  }
  const configFile = path.join(configDir, 'server.json');
  fs.writeFileSync(configFile, JSON.stringify(config));
  const bin = fileURLToPath(new URL('../../bin/strata.js', import.meta.url));
  const profile = label === 'acl' && PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : [];
  const started = await startChild(
    `strata server (${label})`,
    process.execPath,
    [...SERVER_NODE_FLAGS, ...profile, bin, 'serve', '--config', configFile, '--data-dir', dataDir, '--host', '127.0.0.1', '--port', '0', '--http-port', '-1', '--log-level', 'warn'],
    /^strata listening on (\S+)$/,
    { guarded: true, removeDir: dataDir, timeoutMs: 60_000 },
  );
  const address = started.match[1]!;
  const server: Server = { label, address, pid: started.child.pid, clientOptions, client: new StrataClient({ address, ...clientOptions }), admin: new StrataClient({ address, ...adminOptions }) };
  if (label === 'acl') {
    for (const rule of benchRules(RULE_COUNT)) await server.admin.acls.add(rule);
    const held = (await server.admin.acls.list({ principal: PRINCIPAL })).length;
    if (held !== RULE_COUNT) throw new Error(`the acl server holds ${held} rules for ${PRINCIPAL}, not ${RULE_COUNT}`);
  }
  return server;
}

/** Reads `topic` from offset 0 on a new connection until `expected` records came: records/s and the server's CPU. */
async function replay(server: Server, topic: string, expected: number): Promise<{ recordsPerSec: number; serverCpuMs: number }> {
  const client = new StrataClient({ address: server.address, ...server.clientOptions });
  const controller = new AbortController();
  let count = 0;
  const cpuBeforeMs = server.pid === undefined ? 0 : processTreeCpuMs(server.pid);
  const start = performance.now();
  try {
    for await (const records of client.consumeBatches(topic, { from: 'earliest', signal: controller.signal })) {
      count += records.length;
      if (count >= expected) break;
    }
  } finally {
    client.close();
  }
  const seconds = (performance.now() - start) / 1000;
  if (count !== expected) throw new Error(`replay of ${topic} on ${server.label} read ${count} records, not ${expected}`);
  return { recordsPerSec: count / seconds, serverCpuMs: server.pid === undefined ? NaN : processTreeCpuMs(server.pid) - cpuBeforeMs };
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/** The 25th and 75th percentiles (linear between ranks). */
function interquartileRange(values: number[]): [number, number] {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => {
    const rank = q * (sorted.length - 1);
    const below = Math.floor(rank);
    return sorted[below]! + (sorted[Math.min(below + 1, sorted.length - 1)]! - sorted[below]!) * (rank - below);
  };
  return [at(0.25), at(0.75)];
}

const ORDERS: ReadonlyArray<readonly Label[]> = [
  ['plain', 'tls', 'acl'],
  ['acl', 'tls', 'plain'],
  ['tls', 'acl', 'plain'],
  ['plain', 'acl', 'tls'],
  ['acl', 'plain', 'tls'],
  ['tls', 'plain', 'acl'],
];

interface CaseResult {
  produce: number;
  replay: number;
  produceCpuMsPerMb: number;
  replayCpuMsPerMb: number;
}

async function rounds(servers: ReadonlyMap<Label, Server>) {
  log(`## Rounds: ${ROUNDS}, produce ${PRODUCE_MS / 1000} s per case (sendBatch of 1,000, window ${fmt(SEND_BATCH_WINDOW)}, ${PARTITIONS} partitions, ${VALUE_BYTES}-byte values, flush=interval), then a replay of it from offset 0`);
  for (const server of servers.values()) await warmUpProducePath(server.client, 1_500, SEND_BATCH_WINDOW);
  const rows: string[][] = [];
  const ratios = { tls: [] as CaseResult[], acl: [] as CaseResult[] };
  for (let round = 0; round < ROUNDS; round++) {
    const results = new Map<Label, CaseResult>();
    for (const label of ORDERS[round % ORDERS.length]!) {
      const server = servers.get(label)!;
      const produced = await measureProduce(server.client, { flush: 'interval', keyed: false, window: SEND_BATCH_WINDOW, api: 'sendBatch' }, PRODUCE_MS, server.pid);
      if (produced.failed > 0 || produced.logRecords !== produced.records) throw new Error(`${label}: ${produced.failed} sends failed, the log holds ${produced.logRecords} of ${produced.records}`);
      const megabytes = produced.batchMbPerSec * produced.seconds;
      const replayed = await replay(server, produced.topic, produced.logRecords);
      await server.admin.admin.deleteTopic(produced.topic);
      const result = { produce: produced.recordsPerSec, replay: replayed.recordsPerSec, produceCpuMsPerMb: produced.serverCpuMsPerMb, replayCpuMsPerMb: replayed.serverCpuMs / megabytes };
      results.set(label, result);
      rows.push([String(round + 1), label, fmt(result.produce), fmt(result.produceCpuMsPerMb, 2), fmt(result.replay), fmt(result.replayCpuMsPerMb, 2), fmt(megabytes, 0)]);
      log(`  round ${round + 1}, ${label}: produce ${fmt(result.produce)} records/s (server ${fmt(result.produceCpuMsPerMb, 2)} CPU ms/MB), replay ${fmt(result.replay)} records/s (server ${fmt(result.replayCpuMsPerMb, 2)} CPU ms/MB), ${fmt(megabytes)} MB`);
    }
    const plain = results.get('plain')!;
    for (const label of ['tls', 'acl'] as const) {
      const r = results.get(label)!;
      ratios[label].push({ produce: r.produce / plain.produce, replay: r.replay / plain.replay, produceCpuMsPerMb: r.produceCpuMsPerMb / plain.produceCpuMsPerMb, replayCpuMsPerMb: r.replayCpuMsPerMb / plain.replayCpuMsPerMb });
    }
  }
  log('');
  log(table(['round', 'server', 'produce records/s', 'server CPU ms/MB (produce)', 'replay records/s', 'server CPU ms/MB (replay)', 'MB'], rows));
  log('');
  const list = (values: number[]) => values.map((v) => v.toFixed(3)).join(', ');
  const summary: string[][] = [];
  for (const label of ['tls', 'acl'] as const) {
    const of = (field: keyof CaseResult) => ratios[label].map((r) => r[field]);
    for (const field of ['produce', 'replay', 'produceCpuMsPerMb', 'replayCpuMsPerMb'] as const) {
      const what = { produce: 'produce records/s', replay: 'replay records/s', produceCpuMsPerMb: 'server CPU per MB, produce', replayCpuMsPerMb: 'server CPU per MB, replay' }[field];
      const m = median(of(field));
      const [low, high] = interquartileRange(of(field));
      const isWorse = field.endsWith('MsPerMb') ? m > 1.03 : m < 0.97;
      // A spread of the per-round ratios wider than the target cannot show the target either way.
      const target = label !== 'acl' ? '' : high - low > 0.06 ? `cannot tell: the middle half of the rounds spans ${low.toFixed(2)}-${high.toFixed(2)}` : isWorse ? 'missed' : 'met';
      summary.push([`${label} / plain`, what, list(of(field)), m.toFixed(3), `${low.toFixed(3)}-${high.toFixed(3)}`, target]);
    }
  }
  log(table(['ratio', 'of', 'per round', 'median', 'middle half of the rounds', 'target (acl: at most 3 % worse)'], summary));
  log('');
}

async function gateCost() {
  const rounds = 11;
  log(`## The gate's own cost per produce request, in this process (${fmt(GATE_MESSAGES)} messages per case, ${rounds} rounds, ${RULE_COUNT} rules naming the principal)`);
  const results = await measureGateCost(benchRules(RULE_COUNT), { messages: GATE_MESSAGES, rounds });
  const what = {
    off: 'gate without authentication (the call handed back: no layer)',
    layer: 'an empty grpc-js intercepting layer',
    acl: 'gate with a token and the rules, decision kept for the stream',
    authorize: 'AclAuthorizer.authorize alone, every time (no kept decision)',
  } as const;
  log(table(['case', 'ns per message, per round', 'median', 'fastest'], [...results].map(([name, values]) => [what[name], values.map((v) => fmt(v, 0)).join(', '), fmt(median(values), 0), fmt(Math.min(...values), 0)])));
  log('');
}

async function main() {
  log('# Security benchmark: TLS and ACL checks against plaintext without authentication');
  log(`  ${new Date().toISOString()}, node ${process.version}, ${os.cpus()[0]?.model ?? 'unknown'} x ${os.cpus().length}, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  log(`  command: node dist/bench/security-bench.js ${argv.join(' ')}`);
  log(`  openssl: ${execFileSync('openssl', ['version'], { encoding: 'utf8' }).trim()}; ${RULE_COUNT} ACL rules naming the principal on the acl server`);
  log('');
  if (!argv.includes('--skip-gate')) await gateCost();
  if (argv.includes('--only-gate')) return;
  const certificates = makeCertificates(makeTempDir('strata-security-bench-tls-'));
  const servers = new Map<Label, Server>();
  try {
    for (const label of ['plain', 'tls', 'acl'] as const) servers.set(label, await startServer(label, certificates));
    await rounds(servers);
    log(`  load at the end: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  } finally {
    for (const server of servers.values()) {
      server.client.close();
      server.admin.close();
    }
    await stopAllChildren();
    removeTempDirs();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
