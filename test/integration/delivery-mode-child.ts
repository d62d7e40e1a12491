/**
 * Child process for the delivery-guarantee tests: one consumer written the way README's "Delivery
 * guarantees" shows for each mode, whose side effect per record is a line in `<outDir>/effects.log`
 * (at-most-once, at-least-once) or a transaction in the journal `<outDir>/journal` that holds the
 * effect and the record's processed mark together (effectively-once).
 * Usage: node delivery-mode-child.js <address> <group|queue> <mode> <topic> <groupId> <outDir> <stopAt> <delayMs>
 *
 * - at-most-once: group: each batch is committed, then its records are applied; queue: a group in
 *   `delivery: at-most-once` (a record counts acknowledged when it is handed out). The crash window:
 *   after the commit or delivery, before the effect.
 * - at-least-once: the effect, then the handler resolves (process() commits or acks it). The window:
 *   after the effect, before the commit or ack.
 * - effectively-once: IdempotentConsumer over the journal; the window as at-least-once.
 *
 * Each record's turn waits `delayMs` inside its window (a slow downstream), so a kill at a random
 * moment is likely to land there. With `stopAt` > 0 the `stopAt`-th record of this run stops in its
 * window: it prints {"event":"crash-point","id":...} and waits for the test's SIGKILL. Prints
 * {"event":"handled","id","p","o"} after each effect and {"event":"skipped","id"} per duplicate.
 * On a line "exit" on stdin it closes the consumer and exits 0.
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ConsumedRecord } from '../../src/client/consumed-record.js';
import { IdempotentConsumer, messageIdOf, type RecordIdentity } from '../../src/client/idempotent-consumer.js';
import { StrataClient } from '../../src/client/strata-client.js';
import { FileJournalStore } from '../helpers/file-journal-store.js';

const [address, kind, mode, topic, groupId, outDir, stopAtText, delayText] = process.argv.slice(2);
if (!address || !kind || !mode || !topic || !groupId || !outDir || stopAtText === undefined || delayText === undefined) {
  throw new Error('usage: delivery-mode-child <address> <group|queue> <mode> <topic> <groupId> <outDir> <stopAt> <delayMs>');
}
const stopAt = Number(stopAtText);
const delayMs = Number(delayText);
const print = (line: object) => process.stdout.write(`${JSON.stringify(line)}\n`);
const idOf = (record: RecordIdentity) => messageIdOf(record)!;
const logger = { warn: (fields: object, message: string) => process.stderr.write(`${message} ${JSON.stringify(fields)}\n`) };

const effectsLog = join(outDir, 'effects.log');
/** The side effect of at-most-once and at-least-once: one appended line (one write(2): whole or absent after a kill). */
function applyEffect(record: RecordIdentity): void {
  appendFileSync(effectsLog, `${JSON.stringify({ id: idOf(record), p: record.partition, o: record.offset, pid: process.pid })}\n`);
  print({ event: 'handled', id: idOf(record), p: record.partition, o: record.offset });
}

let turns = 0;
/** Counts this record's turn; at the stop turn, waits here (inside the window) for the SIGKILL. */
async function window(record: RecordIdentity): Promise<void> {
  turns++;
  if (turns === stopAt) {
    print({ event: 'crash-point', id: idOf(record), p: record.partition, o: record.offset });
    await new Promise(() => setInterval(() => undefined, 1_000));
  }
  if (delayMs > 0) await sleep(delayMs);
}

const client = new StrataClient({ address });
let close: () => Promise<void> = async () => undefined;
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk: string) => {
  if (chunk.includes('exit')) void close().then(() => process.exit(0));
});

const idem = new IdempotentConsumer({
  store: new FileJournalStore(join(outDir, 'journal')),
  onDuplicate: (record) => print({ event: 'skipped', id: idOf(record), p: record.partition, o: record.offset }),
});
/** effectively-once: the effect is written in the transaction that marks the record. */
const applyOnce = idem.handler(async (record: RecordIdentity, tx) => {
  tx.write({ id: idOf(record), p: record.partition, o: record.offset, pid: process.pid });
  print({ event: 'handled', id: idOf(record), p: record.partition, o: record.offset });
});

if (kind === 'group') {
  // A static member, as a supervised process restarted under the same name: it takes its partitions
  // back at once instead of waiting for the server to notice the crashed one is gone.
  const consumer = client.consumer({ groupId, instanceId: `${groupId}-worker`, topics: [topic], fromBeginning: true, autoCommitIntervalMs: 100, logger });
  close = () => consumer.close();
  if (mode === 'at-most-once') {
    for await (const batch of consumer.batches(20)) {
      await consumer.commit(); // the whole batch counts as done before any of it is applied
      for (const record of batch) {
        await window(record);
        applyEffect(record);
      }
    }
  } else {
    await consumer.process(async (record: ConsumedRecord) => {
      if (mode === 'effectively-once') await applyOnce(record);
      else applyEffect(record);
      await window(record);
    });
  }
} else {
  const isAtMostOnce = mode === 'at-most-once';
  const queue = client.queue({
    groupId,
    topics: [topic],
    inFlightLimit: 20,
    config: { delivery: isAtMostOnce ? 'at-most-once' : 'at-least-once', backoffBaseMs: 10, backoffMaxMs: 50, maxDeliveryAttempts: 100 },
    logger,
  });
  close = async () => {
    // Under at-most-once what the member holds unread is lost when it leaves: apply it first.
    const deadlineMs = Date.now() + 10_000;
    while (isAtMostOnce && queue.bufferedCount > 0 && Date.now() < deadlineMs) await sleep(10);
    await queue.close();
  };
  if (isAtMostOnce) {
    for await (const message of queue) {
      await window(message);
      applyEffect(message);
    }
  } else {
    await queue.process(async (message) => {
      if (mode === 'effectively-once') await applyOnce(message);
      else applyEffect(message);
      await window(message);
    });
  }
}
