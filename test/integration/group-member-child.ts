/**
 * Child process for the group liveness tests: one group member, as applications write them.
 * Usage: node group-member-child.js <address> <groupId> <topic> <burnMsPerRecord> [instanceId]
 * Prints JSON lines on stdout: {"event":"assigned"|"revoked"|"lost","partitions":[...]} and, per
 * record handed to its loop, {"p":partition,"o":offset,"t":ms}. It burns `burnMsPerRecord` of CPU on
 * the event loop per record (a CPU-bound handler). On a line "exit" on stdin, or on SIGTERM, it runs
 * `await consumer.close(); process.exit(0)`.
 */
import { StrataClient } from '../../src/client/strata-client.js';

const [address, groupId, topic, burnText, instanceId] = process.argv.slice(2);
if (!address || !groupId || !topic || burnText === undefined) throw new Error('usage: group-member-child <address> <groupId> <topic> <burnMsPerRecord> [instanceId]');
const burnMs = Number(burnText);

const print = (line: object) => process.stdout.write(`${JSON.stringify(line)}\n`);
const names = (ps: Array<{ partition: number }>) => ps.map((p) => p.partition).sort((a, b) => a - b);
const client = new StrataClient({ address });
const consumer = client.consumer({
  groupId,
  topics: [topic],
  fromBeginning: true,
  ...(instanceId ? { instanceId } : {}),
  onAssigned: (ps) => void print({ event: 'assigned', partitions: names(ps), t: Date.now() }),
  onRevoked: (ps) => void print({ event: 'revoked', partitions: names(ps), t: Date.now() }),
  onLost: (ps) => void print({ event: 'lost', partitions: names(ps), t: Date.now() }),
  logger: { warn: (fields, message) => process.stderr.write(`${message} ${JSON.stringify(fields)}\n`) },
});

async function exit(): Promise<void> {
  await consumer.close();
  process.exit(0);
}
process.on('SIGTERM', () => void exit());
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk: string) => {
  if (chunk.includes('exit')) void exit();
});

try {
  for await (const record of consumer) {
    if (burnMs > 0) {
      const until = performance.now() + burnMs;
      while (performance.now() < until);
    }
    print({ p: record.partition, o: record.offset, t: Date.now() });
  }
} catch (error) {
  print({ event: 'failed', code: (error as { code?: string }).code, message: (error as Error).message });
  process.exit(2);
}
