import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StrataClient } from '../../src/client/strata-client.js';
import { encodeRecordBatch } from '../../src/format/record-batch-codec.js';
import type { ProduceRequest } from '../../src/generated/strata/v1/ProduceRequest.js';
import type { ProduceResponse__Output } from '../../src/generated/strata/v1/ProduceResponse.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { eventually } from '../helpers/eventually.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const PRODUCER_ID = 4242;

/** A batch of producer PRODUCER_ID, epoch 0, of `count` records from sequence `baseSequence`. */
function batch(baseSequence: number, count: number): Buffer {
  const records = Array.from({ length: count }, (_, i) => ({ key: 'k', value: `v${baseSequence + i}` }));
  return encodeRecordBatch(records, { producerId: PRODUCER_ID, producerEpoch: 0, baseSequence });
}

/** Sends one produce request on a fresh stream and returns the server's answer. */
async function produceOnce(address: string, records: Buffer): Promise<ProduceResponse__Output> {
  const client = new StrataClient({ address });
  try {
    const call = client.stubs.produce.produce() as grpc.ClientDuplexStream<ProduceRequest, ProduceResponse__Output>;
    const response = new Promise<ProduceResponse__Output>((resolve, reject) => {
      call.once('data', resolve);
      call.once('error', reject);
    });
    call.write({ requestId: 1, topic: 'orders', partition: 0, records });
    const answer = await response;
    call.end();
    return answer;
  } finally {
    client.close();
  }
}

describe('a producer retrying across a server restart (SIGKILL)', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let server: ServerProcess | undefined;
  beforeEach(async () => (dir = await makeTempDir()));
  afterEach(async () => {
    await server?.stop('SIGKILL');
    server = undefined;
    await dir.remove();
  });

  /** Two acknowledged batches (offsets 0-2 and 3-4), then the server is killed and started again. */
  async function writeThenKill(extraArgs: string[] = []): Promise<void> {
    server = await startServerProcess(dir.path, extraArgs);
    const client = new StrataClient({ address: server.address });
    try {
      await client.admin.createTopic('orders', { partitions: 1 });
    } finally {
      client.close();
    }
    expect(await produceOnce(server.address, batch(0, 3))).toMatchObject({ baseOffset: 0, lastOffset: 2, duplicate: false, failure: null });
    expect(await produceOnce(server.address, batch(3, 2))).toMatchObject({ baseOffset: 3, lastOffset: 4, duplicate: false, failure: null });
    expect((await server.stop('SIGKILL')).signal).toBe('SIGKILL');
    server = await startServerProcess(dir.path, extraArgs);
  }

  it('answers the retry of an acknowledged batch with its original offsets and writes nothing twice', async () => {
    await writeThenKill();
    // The acknowledgement of the second batch was lost with the connection: the producer resends it.
    expect(await produceOnce(server!.address, batch(3, 2))).toMatchObject({
      baseOffset: 3,
      lastOffset: 4,
      duplicate: true,
      durability: 'ACK_LEVEL_DURABLE',
      failure: null,
    });
    // The producer goes on where it was, without being told to start over.
    expect(await produceOnce(server!.address, batch(5, 1))).toMatchObject({ baseOffset: 5, lastOffset: 5, duplicate: false, failure: null });
    const client = new StrataClient({ address: server!.address });
    try {
      const description = await client.admin.describeTopic('orders');
      expect(Number(description.partitions[0]!.logEndOffset)).toBe(6);
    } finally {
      client.close();
    }
  }, 60_000);

  it('without the restore (producerStateTailBytes 0) the partition has forgotten the producer', async () => {
    const configDir = await makeTempDir();
    try {
      const configPath = join(configDir.path, 'server.json');
      await writeFile(configPath, JSON.stringify({ producerStateTailBytes: 0 }));
      await writeThenKill(['--config', configPath]);
      const answer = await produceOnce(server!.address, batch(3, 2));
      expect(answer.failure?.code).toBe('UNKNOWN_PRODUCER');
    } finally {
      await configDir.remove();
    }
  }, 60_000);

  it('a Producer sending through a SIGKILL and a restart on the same address: every record once, in order per key', async () => {
    server = await startServerProcess(dir.path);
    const client = new StrataClient({ address: server.address });
    try {
      await client.admin.createTopic('stream', { partitions: 4 });
      const producer = client.producer({ lingerMs: 1, deliveryTimeoutMs: 60_000, retryBackoffMs: 20 });
      const sends: Array<Promise<unknown>> = [];
      let acknowledged = 0;
      let stopSending = false;
      const sending = (async () => {
        // Records keep flowing until after the restart, so some are in flight when the kill lands.
        for (let i = 0; !stopSending || i < 3_000; i++) {
          const sent = producer.send('stream', { key: `k${i % 40}`, value: `r${i}` });
          sent.then(() => acknowledged++, () => undefined);
          sends.push(sent);
          // Deliberate pace: a steady stream over time (not one burst queued at once), so the kill lands mid-flow.
          if (i % 50 === 49) await new Promise((r) => setTimeout(r, 2));
          if (i > 200_000) break;
        }
      })();
      // The kill lands once records are being acknowledged, with more still in flight.
      await eventually(() => acknowledged >= 200 && sends.length > acknowledged, { what: 'records acknowledged before the kill, more in flight' });
      const port = server.port;
      expect((await server.stop('SIGKILL')).signal).toBe('SIGKILL');
      server = await startServerProcess(dir.path, ['--port', String(port)]);
      stopSending = true;
      await sending;
      const outcomes = await Promise.allSettled(sends);
      const failures = outcomes.filter((o) => o.status === 'rejected');
      expect(failures.map((f) => String((f as PromiseRejectedResult).reason)).slice(0, 3)).toEqual([]);
      await producer.close();

      // Read the whole log back: each value exactly once, and per key in send order.
      const total = sends.length;
      const seen = new Map<string, number>();
      const lastOfKey = new Map<string, number>();
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), 30_000);
      let count = 0;
      for await (const record of client.consume('stream', { from: 'earliest', signal: controller.signal })) {
        const value = record.value!.toString();
        seen.set(value, (seen.get(value) ?? 0) + 1);
        const index = Number(value.slice(1));
        const key = record.key!.toString();
        expect(index, `order of ${key}`).toBeGreaterThan(lastOfKey.get(key) ?? -1);
        lastOfKey.set(key, index);
        if (++count >= total) break;
      }
      clearTimeout(timer);
      expect(seen.size).toBe(total);
      expect([...seen.values()].filter((n) => n !== 1)).toEqual([]);
      const description = await client.admin.describeTopic('stream');
      expect(description.partitions.reduce((n, p) => n + Number(p.logEndOffset), 0)).toBe(total);
    } finally {
      client.close();
    }
  }, 120_000);
});

