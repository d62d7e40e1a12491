/**
 * Redelivery after a lock expires: a "holder" member takes `records` records and never answers them;
 * once it holds them all, a second member joins. When the locks expire the records go out again
 * (to either member: the holder's places are free again too); each member acks every record it sees
 * a second time. The sample per record is the wall time its second delivery reached a member's
 * iterator minus the lock deadline the first delivery carried (the server's clock, the same machine's):
 * the server's expiry timer, the release (with the group's backoff, set to 1 ms here), the new
 * acquisition made durable, the push and the client's decoding.
 */
import { StrataClient } from '../../src/client/strata-client.js';
import { percentile } from './drain-result.js';
import type { QueueConsumer } from '../../src/client/queue-consumer.js';
import type { QueueGroupConfigOptions } from '../../src/client/queue-options.js';
import { fillTopic, type StrataServer } from './strata-queue.js';

export interface RedeliveryResult {
  records: number;
  lockDurationMs: number;
  backoffBaseMs: number;
  samples: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  minMs: number;
  /** Records whose first delivery did not come within the deadline, or never came again. */
  missing: number;
  note?: string;
}

const BACKOFF_BASE_MS = 1;

export async function measureRedelivery(server: StrataServer, records: number, lockDurationMs: number, partitions: number, caseName: string): Promise<RedeliveryResult> {
  const admin = new StrataClient({ address: server.address });
  const holderClient = new StrataClient({ address: server.address });
  const takerClient = new StrataClient({ address: server.address });
  const topic = `bench-${caseName}`;
  const controller = new AbortController();
  const queues: QueueConsumer[] = [];
  const running: Array<Promise<void>> = [];
  const lockDeadlines = new Map<string, number>();
  const samples: number[] = [];
  let firstError: unknown;
  let onProgress: () => void = () => undefined;
  const config: QueueGroupConfigOptions = { lockDurationMs, backoffBaseMs: BACKOFF_BASE_MS, backoffMaxMs: 1_000, maxDeliveryAttempts: 10 };
  const member = (client: StrataClient, name: string, inFlightLimit: number) => {
    const queue = client.queue({ groupId: `group-${caseName}`, topics: [topic], inFlightLimit, config, clientId: name, signal: controller.signal });
    queues.push(queue);
    running.push(
      (async () => {
        try {
          for await (const message of queue) {
            const name = `${message.partition}/${message.offset}`;
            if (message.deliveryCount === 1) {
              lockDeadlines.set(name, message.lockDeadlineMs); // held, never answered: its lock expires
            } else {
              const deadline = lockDeadlines.get(name);
              if (deadline !== undefined && message.deliveryCount === 2) samples.push(Date.now() - deadline);
              message.ack().catch((error: unknown) => (firstError ??= error));
            }
            onProgress();
          }
        } catch (error) {
          if (!controller.signal.aborted) firstError ??= error;
          onProgress();
        }
      })(),
    );
  };
  const waitFor = (condition: () => boolean, timeoutMs: number) =>
    new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(condition()), timeoutMs);
      onProgress = () => {
        if (!condition() && firstError === undefined) return;
        clearTimeout(timer);
        resolve(condition());
      };
      onProgress();
    });
  try {
    await fillTopic(admin, topic, records, partitions, false);
    member(holderClient, 'holder', records);
    const isHeld = await waitFor(() => lockDeadlines.size >= records, 30_000);
    member(takerClient, 'taker', records);
    await waitFor(() => samples.length >= records, lockDurationMs + 30_000);
    const sorted = [...samples].sort((a, b) => a - b);
    const notes: string[] = [];
    if (!isHeld) notes.push(`the holder got ${lockDeadlines.size} of ${records} first deliveries within 30 s`);
    if (firstError !== undefined) notes.push(`error: ${String(firstError)}`);
    return {
      records,
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
    for (const client of [holderClient, takerClient, admin]) client.close();
  }
}
