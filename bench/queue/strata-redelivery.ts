/**
 * Redelivery after a lock expires. Two members of a group never answer a record's first delivery and
 * ack its second. The records are produced in waves (WAVE_GAP_MS apart), so their locks run out at
 * many different times rather than all at once: each wave is its own expiry. The sample per record is
 * the wall time its second delivery reached a member's iterator minus the lock deadline its first
 * delivery carried (the server's clock, on the same machine): the server's expiry timer, the release
 * (with the group's backoff, set to 1 ms here), the new acquisition made durable, the push and the
 * client's decoding. Both members have room for every record, so no place waits for an answer.
 */
import type { QueueConsumer } from '../../src/client/queue-consumer.js';
import type { QueueGroupConfigOptions } from '../../src/client/queue-options.js';
import { StrataClient } from '../../src/client/strata-client.js';
import { VALUE, percentile } from './drain-result.js';
import type { StrataServer } from './strata-queue.js';

export interface RedeliveryResult {
  records: number;
  waves: number;
  /** Distinct lock deadlines among the first deliveries: how many separate expiries were measured. */
  distinctDeadlines: number;
  lockDurationMs: number;
  backoffBaseMs: number;
  samples: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  minMs: number;
  /** Records not delivered a second time before the deadline. */
  missing: number;
  note?: string;
}

const BACKOFF_BASE_MS = 1;
const WAVE_GAP_MS = 23;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function measureRedelivery(server: StrataServer, waves: number, recordsPerWave: number, lockDurationMs: number, partitions: number, caseName: string): Promise<RedeliveryResult> {
  const records = waves * recordsPerWave;
  const admin = new StrataClient({ address: server.address });
  const memberClients = [new StrataClient({ address: server.address }), new StrataClient({ address: server.address })];
  const topic = `bench-${caseName}`;
  const controller = new AbortController();
  const lockDeadlines = new Map<string, number>();
  const samples: number[] = [];
  let firstError: unknown;
  let wake: (() => void) | undefined;
  const config: QueueGroupConfigOptions = { lockDurationMs, backoffBaseMs: BACKOFF_BASE_MS, backoffMaxMs: 1_000, maxDeliveryAttempts: 10 };
  const queues: QueueConsumer[] = [];
  const member = async (client: StrataClient, i: number) => {
    const queue = client.queue({ groupId: `group-${caseName}`, topics: [topic], inFlightLimit: records, config, clientId: `member-${i}`, signal: controller.signal });
    queues.push(queue);
    try {
      for await (const message of queue) {
        const name = `${message.partition}/${message.offset}`;
        if (message.deliveryCount === 1) {
          lockDeadlines.set(name, message.lockDeadlineMs); // never answered: its lock runs out
        } else {
          const deadline = lockDeadlines.get(name);
          if (deadline !== undefined && message.deliveryCount === 2) samples.push(Date.now() - deadline);
          message.ack().catch((error: unknown) => (firstError ??= error));
          if (samples.length >= records) wake?.();
        }
      }
    } catch (error) {
      if (!controller.signal.aborted) firstError ??= error;
      wake?.();
    }
  };
  let running: Array<Promise<void>> = [];
  try {
    await admin.admin.createTopic(topic, { partitions, config: { flush: 'interval' } });
    running = memberClients.map(member);
    const producer = admin.producer();
    for (let wave = 0; wave < waves; wave++) {
      await producer.sendBatch(topic, Array.from({ length: recordsPerWave }, () => ({ value: VALUE })));
      await sleep(WAVE_GAP_MS);
    }
    await producer.close();
    const done = new Promise<void>((resolve) => (wake = resolve));
    if (samples.length < records) await Promise.race([done, sleep(lockDurationMs + 30_000)]);
    const sorted = [...samples].sort((a, b) => a - b);
    const notes: string[] = [];
    if (lockDeadlines.size < records) notes.push(`${lockDeadlines.size} of ${records} records had a first delivery`);
    if (firstError !== undefined) notes.push(`error: ${String(firstError)}`);
    return {
      records,
      waves,
      distinctDeadlines: new Set(lockDeadlines.values()).size,
      lockDurationMs,
      backoffBaseMs: BACKOFF_BASE_MS,
      samples: sorted.length,
      p50Ms: percentile(sorted, 50),
      p99Ms: percentile(sorted, 99),
      maxMs: sorted.at(-1) ?? Number.NaN,
      minMs: sorted[0] ?? Number.NaN,
      missing: records - sorted.length,
      ...(notes.length > 0 ? { note: notes.join('; ') } : {}),
    };
  } finally {
    controller.abort();
    await Promise.allSettled(queues.map((queue) => queue.close()));
    await Promise.allSettled(running);
    for (const client of [...memberClients, admin]) client.close();
  }
}
