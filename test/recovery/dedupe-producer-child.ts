/**
 * Child process for the message-id crash test: an application that sends records with message ids
 * (the id is also the key, so a record goes to the same partition every time it is sent) and prints
 * one line per record the server confirmed, `{"id":...,"offset":N,"duplicate":bool}`, then
 * `{"event":"done"}` once every send settled. It sends in chunks of 50, one chunk every 5 ms, without
 * waiting, so that a SIGKILL lands while records are sent, in flight, and confirmed.
 * Usage: node dedupe-producer-child.js <address> <topic> <file with a JSON array of ids>
 */
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { StrataClient } from '../../src/client/strata-client.js';

const [address, topic, idsFile] = process.argv.slice(2);
if (!address || !topic || !idsFile) throw new Error('usage: dedupe-producer-child <address> <topic> <ids.json>');
const ids = JSON.parse(readFileSync(idsFile, 'utf8')) as string[];
const print = (line: object) => process.stdout.write(`${JSON.stringify(line)}\n`);

const client = new StrataClient({ address });
const producer = client.producer({ lingerMs: 2 });
print({ event: 'ready' });
const sends: Promise<void>[] = [];
for (let start = 0; start < ids.length; start += 50) {
  for (const id of ids.slice(start, start + 50)) {
    sends.push(
      producer.send(topic, { key: id, value: `value of ${id}`, messageId: id }).then(
        (result) => void print({ id, offset: result.offset, duplicate: result.duplicate === true }),
        (error: unknown) => void print({ id, error: String(error) }),
      ),
    );
  }
  await sleep(5);
}
await Promise.all(sends);
await producer.close();
client.close();
print({ event: 'done' });
