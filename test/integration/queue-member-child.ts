/**
 * Child process for the queue flow-control test: one queue member over the raw protocol that stops
 * dead (SIGSTOP, sent to itself) as soon as it has joined, before it reads any delivery, so that the
 * server sees a peer that reads nothing at all, down to its TCP socket. After SIGCONT it reads and
 * acknowledges every record and prints {"event":"done","count":N} once it has acknowledged `count`.
 * Usage: node queue-member-child.js <address> <groupId> <topic> <inFlightLimit> <count>
 */
import { ack, rawQueueClient, RawQueueSession } from '../helpers/raw-queue-session.js';

const [address, groupId, topic, limitText, countText] = process.argv.slice(2);
if (!address || !groupId || !topic || !limitText || !countText) throw new Error('usage: queue-member-child <address> <groupId> <topic> <inFlightLimit> <count>');
const count = Number(countText);
const print = (line: object) => process.stdout.write(`${JSON.stringify(line)}\n`);

const queue = rawQueueClient(address);
const member = new RawQueueSession(queue);
member.call.once('metadata', () => {
  print({ event: 'stopping' });
  process.kill(process.pid, 'SIGSTOP');
});
member.send({ join: { groupId, topics: [topic], inFlightLimit: Number(limitText) } });
let answered = 0;
while (answered < count) {
  const delivered = await member.waitForDeliveries(answered + 1, 120_000);
  const batch = delivered.slice(answered);
  const results = await member.answer(batch.map(ack));
  if (!results.results.every((r) => r.failure === null)) throw new Error(`an ack failed: ${JSON.stringify(results.results)}`);
  answered += batch.length;
}
print({ event: 'done', count: answered, distinct: new Set(member.delivered.map((r) => r.offset)).size });
member.call.end();
await member.waitForEnd();
queue.close();
