/**
 * Strata queue groups under the same drain as the peers: a topic filled through the producer
 * (sendBatch, before the clock), drained by N members of one queue group, each a StrataClient of its
 * own (its own HTTP/2 connection, as separate worker processes would have) iterating client.queue()
 * with the case's in-flight limit and calling ack() on every message without
 * awaiting it (the client batches answers on the stream); a record counts once its ack() resolves,
 * that is once the server has made the ack durable and confirmed it.
 */
import { setMaxListeners } from 'node:events';
import type { QueueConsumer } from '../../src/client/queue-consumer.js';
import type { QueueMessage } from '../../src/client/queue-message.js';
import type { QueueGroupConfigOptions } from '../../src/client/queue-options.js';
import { StrataClient } from '../../src/client/strata-client.js';
import { VALUE, measureDrain, type DrainCase, type DrainCounters, type DrainResult } from './drain-result.js';

const FILL_RECORDS_PER_CALL = 1_000;
const FILL_CALLS_IN_FLIGHT = 20;
/** Keys of the keyed workload (key-ordered mode against unordered): round robin, as OpenMessaging's keyed runs. */
export const KEY_COUNT = 10_000;
const KEYS = Array.from({ length: KEY_COUNT }, (_, i) => Buffer.from(`key-${String(i).padStart(5, '0')}`));

export interface StrataServer {
  address: string;
  serverPid: number;
}

export interface StrataCase {
  partitions: number;
  isKeyed: boolean;
  config?: QueueGroupConfigOptions;
  label?: string;
}

export async function fillTopic(client: StrataClient, topic: string, records: number, partitions: number, isKeyed: boolean): Promise<void> {
  await client.admin.createTopic(topic, { partitions, config: { flush: 'interval' } });
  const producer = client.producer();
  try {
    const inFlight = new Set<Promise<unknown>>();
    for (let sent = 0; sent < records; ) {
      const count = Math.min(FILL_RECORDS_PER_CALL, records - sent);
      const batch = Array.from({ length: count }, (_, i) => ({ key: isKeyed ? KEYS[(sent + i) % KEY_COUNT]! : null, value: VALUE }));
      sent += count;
      const done: Promise<unknown> = producer.sendBatch(topic, batch).then(() => inFlight.delete(done));
      inFlight.add(done);
      if (inFlight.size >= FILL_CALLS_IN_FLIGHT) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
  } finally {
    await producer.close();
  }
}

/** Counts records delivered before an earlier record of their key in their partition (key order broken). */
export class KeyOrderCheck {
  private readonly lastOffsets = new Map<string, number>();
  outOfOrder = 0;

  see(message: QueueMessage): void {
    if (message.key === null) return;
    const name = `${message.partition}/${Buffer.from(message.key.buffer, message.key.byteOffset, message.key.byteLength).toString('latin1')}`;
    const last = this.lastOffsets.get(name);
    if (last !== undefined && message.offset < last) this.outOfOrder++;
    this.lastOffsets.set(name, Math.max(last ?? -1, message.offset));
  }
}

async function runMember(queue: QueueConsumer, counters: DrainCounters, signal: AbortSignal, keyOrder: KeyOrderCheck): Promise<void> {
  try {
    for await (const message of queue) {
      counters.delivered(message.value);
      keyOrder.see(message);
      message.ack().then(
        () => counters.acked(),
        (error: unknown) => counters.failed(error),
      );
    }
  } catch (error) {
    if (signal.aborted) return;
    counters.failed(error);
    counters.stop();
  }
}

export interface StrataDrainResult extends DrainResult {
  /** Records delivered before an earlier record of their key (informative without key ordering). */
  keyOrderViolations: number;
}

/** One case: a new topic of `backlog` records drained by a new group of `consumers` members. */
export async function measureStrataDrain(server: StrataServer, drainCase: DrainCase, strataCase: StrataCase): Promise<StrataDrainResult> {
  const { consumers, backlog } = drainCase;
  const admin = new StrataClient({ address: server.address });
  const topic = `bench-${drainCase.name}`;
  const clients: StrataClient[] = [];
  try {
    await fillTopic(admin, topic, backlog, strataCase.partitions, strataCase.isKeyed);
    for (let i = 0; i < consumers; i++) clients.push(new StrataClient({ address: server.address }));
    const keyOrder = new KeyOrderCheck();
    const label = strataCase.label ?? `Strata queue group (${strataCase.partitions} partitions)`;
    const result = await measureDrain(label, drainCase, server.serverPid, async (counters) => {
      const controller = new AbortController();
      setMaxListeners(consumers + 1, controller.signal); // one listener per member
      void counters.done.then(() => controller.abort());
      const queues = clients.map((client, i) =>
        client.queue({
          groupId: `group-${drainCase.name}`,
          topics: [topic],
          inFlightLimit: drainCase.inFlight,
          clientId: `bench-member-${i}`,
          signal: controller.signal,
          ...(strataCase.config ? { config: strataCase.config } : {}),
        }),
      );
      const running = queues.map((queue) => runMember(queue, counters, controller.signal, keyOrder));
      return {
        closeIsPartOfTheWork: false,
        close: async () => {
          controller.abort();
          await Promise.allSettled(queues.map((queue) => queue.close()));
          await Promise.allSettled(running);
        },
      };
    });
    return { ...result, keyOrderViolations: keyOrder.outOfOrder };
  } finally {
    // The topic stays (its group's state refers to it); the server's data directory goes at the end.
    for (const client of clients) client.close();
    admin.close();
  }
}

/**
 * One record produced, received through client.queue() and acknowledged: undefined when that works,
 * else why Strata's part cannot run against this server (a server without QueueService, say).
 */
export async function probeQueueGroups(server: StrataServer, timeoutMs: number): Promise<string | undefined> {
  const client = new StrataClient({ address: server.address });
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  const topic = `bench-probe-${process.pid}`;
  let queue: QueueConsumer | undefined;
  try {
    queue = client.queue({ groupId: `probe-${process.pid}`, topics: [topic], signal: controller.signal });
    await fillTopic(client, topic, 1, 1, false);
    for await (const message of queue) {
      await message.ack();
      return undefined;
    }
    return `client.queue() ended without a record within ${timeoutMs} ms`;
  } catch (error) {
    return `client.queue() against this server: ${error instanceof Error ? error.message : String(error)}`;
  } finally {
    clearTimeout(timer);
    controller.abort();
    await queue?.close().catch(() => undefined);
    client.close();
  }
}
