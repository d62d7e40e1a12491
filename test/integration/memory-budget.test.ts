import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StrataClient } from '../../src/client/strata-client.js';
import type { ProduceRequest } from '../../src/generated/strata/v1/ProduceRequest.js';
import { ERROR_CODE_METADATA_KEY } from '../../src/protocol/protocol.js';
import { makeBatch } from '../helpers/batches.js';
import { eventually } from '../helpers/eventually.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { useInProcessServer } from '../helpers/in-process-server.js';

const MiB = 1024 * 1024;
const BUDGET_BYTES = 64 * MiB;
/**
 * What the server process may take beyond its memory budget and what it held before the flood (its
 * idle base, read in the test: Node, V8's heap as touched, grpc-js, the loaded protos, the pages of the
 * 32 MiB just written, 100-118 MiB here): the young generation, which the server's flags let grow to
 * 96 MiB (two 32 MiB semi-spaces and their copy space, src/cli/server-node-flags.ts) and which fills
 * with the short-lived objects of hundreds of calls before a scavenge. Measured peaks above the idle
 * base: 87-123 MiB with the budget (about 50 subscribers admitted); 1,587 MiB of RSS without a budget.
 */
const YOUNG_GENERATION_BYTES = 96 * MiB;
const ABUSIVE_CONNECTIONS = 8;
const SUBSCRIBERS_PER_CONNECTION = 40;
const STALLED_PRODUCERS = 8;

function rssBytes(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const match = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

describe('the server-wide memory budget, against many non-reading clients at once', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let server: ServerProcess;
  const clients: StrataClient[] = [];
  beforeAll(async () => {
    dir = await makeTempDir();
    const configPath = join(dir.path, 'server.json');
    writeFileSync(configPath, JSON.stringify({ memoryBudgetBytes: BUDGET_BYTES, subscriptionBufferBytes: 4 * MiB, maxStreamsPerAddress: 10_000, maxConnectionsPerAddress: 1_000 }));
    server = await startServerProcess(join(dir.path, 'data'), ['--config', configPath]);
  });
  afterAll(async () => {
    for (const client of clients) client.close();
    await server?.stop();
    await dir?.remove();
  });

  it(`keeps RSS under its idle base plus the budget and a full young generation with ${ABUSIVE_CONNECTIONS * SUBSCRIBERS_PER_CONNECTION} non-reading subscribers and ${STALLED_PRODUCERS} stalled producers, and another client still produces and consumes`, async () => {
    const good = new StrataClient({ address: server.address });
    clients.push(good);
    await good.admin.createTopic('flood', { partitions: 4, config: { flush: 'never' } });
    await good.admin.createTopic('live', { partitions: 1 });
    // 32 MiB for the subscribers to read: without a budget, each would hold its 4 MiB buffer of it.
    const filler = good.producer({ batchBytes: 256 * 1024, maxBatchBytes: 1024 * 1024 });
    const value = 'f'.repeat(1000);
    for (let partition = 0; partition < 4; partition++) await filler.sendBatch('flood', Array.from({ length: 8 * 1024 }, () => ({ value, partition })));
    await filler.close();

    // The well-behaved client's streams, open before the flood.
    const producer = good.producer({ lingerMs: 0 });
    const controller = new AbortController();
    const live = good.consume('live', { from: 'earliest', signal: controller.signal })[Symbol.asyncIterator]();
    const roundTrip = async (label: string) => {
      await producer.send('live', { value: label });
      const next = await live.next();
      expect(next.value?.value?.toString()).toBe(label);
    };
    await roundTrip('before');
    const baseRss = rssBytes(server.child.pid!, 'VmRSS');

    const refusals = new Map<string, number>();
    const noteFailure = (error: grpc.ServiceError) => {
      const code = String(error.metadata?.get(ERROR_CODE_METADATA_KEY)[0] ?? grpc.status[error.code]);
      refusals.set(code, (refusals.get(code) ?? 0) + 1);
    };
    // First, producers that send and never read their answers: the server must stop reading them.
    const batch = makeBatch('stalled', 16, { valueBytes: 1000 });
    for (let p = 0; p < STALLED_PRODUCERS; p++) {
      const abuser = new StrataClient({ address: server.address, channelOptions: { 'grpc-node.flow_control_window': 65_535 } });
      clients.push(abuser);
      const stream = abuser.stubs.produce.produce();
      stream.on('error', (error: grpc.ServiceError) => noteFailure(error));
      stream.pause();
      for (let i = 0; i < 512; i++) stream.write({ requestId: i, topic: 'flood', partition: p % 4, records: batch, ackLevel: 'ACK_LEVEL_WRITTEN' } satisfies ProduceRequest);
    }

    // Non-reading subscribers: calls nobody reads, on connections with a small receive window.
    const calls: grpc.ClientReadableStream<unknown>[] = [];
    let settledCount = 0;
    for (let c = 0; c < ABUSIVE_CONNECTIONS; c++) {
      const abuser = new StrataClient({ address: server.address, channelOptions: { 'grpc-node.flow_control_window': 65_535 } });
      clients.push(abuser);
      for (let s = 0; s < SUBSCRIBERS_PER_CONNECTION; s++) {
        const call = abuser.stubs.consume.subscribe({ topic: 'flood', start: { point: 'START_POINT_EARLIEST' }, maxBytes: 64 * 1024 }) as grpc.ClientReadableStream<unknown>;
        call.on('error', (error: grpc.ServiceError) => noteFailure(error));
        call.on('status', () => settledCount++);
        calls.push(call);
      }
    }
    // Let the flood fill what it can: the refused calls end, the admitted ones fill their shares.
    await eventually(() => (refusals.get('MEMORY_BUDGET_EXHAUSTED') ?? 0) > 0, { what: 'a refusal for lack of budget', timeoutMs: 20_000, intervalMs: 50 });
    // Deliberate: the flood has filled what it can once RSS holds within 2 MiB for four 250 ms looks.
    let lastRss = 0;
    for (let stable = 0; stable < 4; ) {
      await new Promise((r) => setTimeout(r, 250));
      const rss = rssBytes(server.child.pid!, 'VmRSS');
      stable = Math.abs(rss - lastRss) < 2 * MiB ? stable + 1 : 0;
      lastRss = rss;
    }
    // The well-behaved client's open streams still work.
    await roundTrip('during');
    const peakRss = rssBytes(server.child.pid!, 'VmHWM');
    console.log(`server RSS: ${(baseRss / MiB).toFixed(0)} MiB before the flood, peak ${(peakRss / MiB).toFixed(0)} MiB; budget ${BUDGET_BYTES / MiB} MiB; calls refused: ${JSON.stringify(Object.fromEntries(refusals))}, ${settledCount} subscriber calls ended`);
    expect(peakRss).toBeLessThan(baseRss + BUDGET_BYTES + YOUNG_GENERATION_BYTES);

    // Once the abusers go, their reservations come back: a new client is admitted.
    for (const call of calls) call.cancel();
    for (const client of clients.splice(1)) client.close();
    const later = new StrataClient({ address: server.address });
    clients.push(later);
    await eventually(() => later.admin.describeTopic('live'), { what: 'a new client admitted once the abusers left', intervalMs: 100 });
    await roundTrip('after');
    controller.abort();
    await producer.close();
  }, 60_000);
});

describe('every admitted stream makes progress while the borrowable half of the budget is spent', () => {
  const fx = useInProcessServer({ memoryBudgetBytes: 32 * MiB });

  it('a producer appends one request at a time on its reservation, and a consumer reads on its own, with nothing left to borrow', async () => {
    await fx.client.admin.createTopic('live', { partitions: 1 });
    // Stands for non-reading clients that keep what they borrowed (the test above has real ones; their
    // buffers trickle out, so they cannot hold the pool exactly spent).
    const budget = fx.server.memoryBudget;
    const stuck = budget.openShare({ reservedBytes: 0, maxBytes: budget.limitBytes, what: 'stuck subscribers' });
    expect(stuck.tryAcquire(budget.borrowableBytes)).toBe(true);
    try {
      const consumer = fx.client.consume('live', { from: 'earliest' })[Symbol.asyncIterator]();
      const producer = fx.client.producer({ lingerMs: 0 });
      // One request after another, then many at once: with no room to borrow, the stream reads them
      // one at a time.
      for (let i = 0; i < 50; i++) expect((await producer.send('live', { value: `v${i}` })).offset).toBe(i);
      const sends = Array.from({ length: 250 }, (_, i) => producer.send('live', { value: `v${50 + i}` }));
      expect((await Promise.all(sends)).map((r) => r.offset)).toEqual(Array.from({ length: 250 }, (_, i) => 50 + i));
      for (let i = 0; i < 300; i++) expect((await consumer.next()).value?.value?.toString()).toBe(`v${i}`);
      expect(budget.borrowedBytes).toBe(stuck.heldBytes);
      expect(budget.borrowedBytes).toBe(budget.borrowableBytes);
      await consumer.return?.(undefined);
      await producer.close();
    } finally {
      stuck.close();
    }
  }, 60_000);
});
