/**
 * Failover of a consumer group with real processes (issue 13): a `strata serve` process and four
 * `strata consume --group` processes (dynamic members) of the tree this file is compiled in, session
 * timeout 30 s, heartbeat 1 s. Wall-clock times, so they vary with the machine's load.
 *
 *   1. SIGKILL of one member, three times (a new member is started after each and the group settles):
 *      time from the kill until describe shows the victim gone and every partition held again.
 *   2. Rolling restart: each member in turn gets SIGTERM, a new one is started 3 s later: time until
 *      the stopped member's partitions are held by others, and partition-seconds paused (that time
 *      multiplied by the partitions the member held). Twice: with `strata consume` members (the CLI
 *      closes its consumer on SIGTERM and exits when the loop ends), and with members that are a
 *      few lines of library code doing what issue 13 found everyone writes:
 *      `process.on('SIGTERM', async () => { await consumer.close(); process.exit(0); })`.
 *
 *   make build && node dist/bench/groups-failover-processes.js
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { call } from '../src/client/admin.js';
import { StrataClient } from '../src/client/strata-client.js';

const BIN = fileURLToPath(new URL('../../bin/strata.js', import.meta.url));
const CLIENT_MODULE = new URL('../src/client/strata-client.js', import.meta.url).href;
/** A member written against the library, stopping as issue 13 found everyone writes it. */
const LIBRARY_MEMBER = `
import { StrataClient } from '${CLIENT_MODULE}';
const client = new StrataClient({ address: process.env.STRATA_SERVER });
const consumer = client.consumer({ groupId: process.env.GROUP, topics: [process.env.TOPIC], fromBeginning: true,
  onAssigned: (ps) => process.stderr.write('assigned: ' + ps.map((p) => p.topic + '/' + p.partition).join(' ') + '\\n'),
  onRevoked: (ps) => process.stderr.write('revoked: ' + ps.map((p) => p.topic + '/' + p.partition).join(' ') + '\\n') });
process.on('SIGTERM', async () => { await consumer.close(); process.exit(0); });
for await (const record of consumer) void record;
`;
const TOPIC = 'work';
const GROUP = 'failover';
const PARTITIONS = 12;
const MEMBERS = 4;
const CONFIG = { groups: { sessionTimeoutMs: 30_000, heartbeatIntervalMs: 1_000, initialRebalanceDelayMs: 300, rebalanceDelayMs: 300 } };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const dir = mkdtempSync(path.join(os.tmpdir(), 'strata-failover-'));
writeFileSync(path.join(dir, 'server.json'), JSON.stringify(CONFIG));
const children: ChildProcess[] = [];
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

async function startServer(): Promise<string> {
  const child = spawn(process.execPath, [BIN, 'serve', '--data-dir', path.join(dir, 'data'), '--port', '0', '--http-port', '0', '--config', path.join(dir, 'server.json'), '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'ignore'] });
  children.push(child);
  let out = '';
  for await (const chunk of child.stdout!) {
    out += String(chunk);
    const match = /strata listening on ([\d.]+):(\d+)/.exec(out);
    if (match) return `${match[1]}:${match[2]}`;
  }
  throw new Error('the server exited before it was ready');
}

const address = await startServer();
const client = new StrataClient({ address });
await client.admin.createTopic(TOPIC, { partitions: PARTITIONS });
const producer = client.producer({ lingerMs: 5 });
let isProducing = true;
const producing = (async () => {
  for (let i = 0; isProducing; i++) {
    void producer.send(TOPIC, { key: `k${i % 97}`, value: `v${i}` });
    if (i % 20 === 0) await sleep(20);
  }
  await producer.flush();
})();

let isLibraryMember = false;
function startMember(): ChildProcess {
  const args = isLibraryMember ? ['--input-type=module', '-e', LIBRARY_MEMBER] : [BIN, 'consume', TOPIC, '--group', GROUP, '--from-beginning'];
  const child = spawn(process.execPath, args, { env: { ...process.env, STRATA_SERVER: address, GROUP, TOPIC }, stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += String(c)));
  return Object.assign(child, { assignedText: () => stderr });
}

const describe = () => call(client.stubs.admin.describeGroup.bind(client.stubs.admin), { groupId: GROUP });
type Description = Awaited<ReturnType<typeof describe>>;
const held = (d: Description) => d.members.reduce((n, m) => n + m.assignment.reduce((k, a) => k + a.partitions.length, 0), 0);

async function until(condition: (d: Description) => boolean, timeoutMs = 60_000): Promise<Description> {
  const startMs = Date.now();
  for (;;) {
    const d = await describe().catch(() => undefined);
    if (d && condition(d)) return d;
    if (Date.now() - startMs > timeoutMs) throw new Error(`timed out: ${JSON.stringify(d ?? await describe().catch(String))}`);
    await sleep(50);
  }
}

/** Which member id a process is: the one holding what its stderr says it holds (assigned minus revoked). */
async function memberOf(child: ChildProcess, d: Description): Promise<Description['members'][number]> {
  for (;;) {
    const holds = new Set<string>();
    for (const line of (child as unknown as { assignedText: () => string }).assignedText().split('\n')) {
      const [kind, rest] = line.split(': ');
      for (const tp of rest?.split(' ').filter(Boolean) ?? []) kind === 'assigned' ? holds.add(tp) : kind === 'revoked' ? holds.delete(tp) : undefined;
    }
    const key = (list: string[]) => [...list].sort().join(' ');
    const owner = d.members.find((m) => holds.size > 0 && key(m.assignment.flatMap((a) => a.partitions.map((p) => `${a.topic}/${p}`))) === key([...holds]));
    if (owner) return owner;
    await sleep(50);
    d = await describe();
  }
}

const settled = (n: number) => (d: Description) => d.members.length === n && held(d) === PARTITIONS && d.members.every((m) => m.assignment.length > 0);
let members = Array.from({ length: MEMBERS }, () => startMember());
await until(settled(MEMBERS));

const killTimes: number[] = [];
for (let round = 0; round < 3; round++) {
  const d = await describe();
  const victim = members[round]!;
  const victimId = (await memberOf(victim, d)).memberId;
  victim.kill('SIGKILL');
  const startMs = Date.now();
  await until((x) => !x.members.some((m) => m.memberId === victimId) && held(x) === PARTITIONS);
  killTimes.push(Date.now() - startMs);
  members[round] = startMember();
  await until(settled(MEMBERS));
}

async function rollingRestart(): Promise<Array<{ ms: number; partitions: number }>> {
  const rolling: Array<{ ms: number; partitions: number }> = [];
  for (let i = 0; i < MEMBERS; i++) {
    const d = await describe();
    const victim = members[i]!;
    const owner = await memberOf(victim, d);
    const victimId = owner.memberId;
    const partitions = owner.assignment.reduce((k, a) => k + a.partitions.length, 0);
    victim.kill('SIGTERM');
    const startMs = Date.now();
    const replacement = sleep(3_000).then(() => (members[i] = startMember()));
    // Moved: the stopped member is gone and every partition is held (by the others, or by the new one).
    await until((x) => !x.members.some((m) => m.memberId === victimId) && held(x) === PARTITIONS);
    rolling.push({ ms: Date.now() - startMs, partitions });
    await replacement;
    await until(settled(MEMBERS));
  }
  return rolling;
}
const cliRolling = await rollingRestart();
// The same with library members: replace the CLI members one by one first.
isLibraryMember = true;
for (let i = 0; i < MEMBERS; i++) {
  members[i]!.kill('SIGKILL');
  members[i] = startMember();
}
// The killed ones go (after the stream grace, or the session timeout before issue 13).
await until(settled(MEMBERS), 180_000);
const libraryRolling = await rollingRestart();

isProducing = false;
await producing;
await producer.close();
client.close();
members = [];
process.stdout.write(`groups failover with real processes: node ${process.version}, ${os.cpus().length} cpus, load ${os.loadavg()[0]!.toFixed(2)}, config ${JSON.stringify(CONFIG)}\n`);
process.stdout.write(`SIGKILL of a dynamic member, time until its partitions are held again (ms): ${killTimes.join(', ')}\n`);
const pausedS = (rolling: Array<{ ms: number; partitions: number }>) => rolling.reduce((n, r) => n + (r.ms * r.partitions) / 1000, 0).toFixed(1);
for (const [name, rolling] of [['strata consume (CLI)', cliRolling], ['library: await close(); process.exit(0)', libraryRolling]] as const) {
  process.stdout.write(`rolling restart, ${name}: time until the stopped member's partitions are held again (ms): ${rolling.map((r) => r.ms).join(', ')}; partition-seconds paused ${pausedS(rolling)}\n`);
}
process.exit(0);
