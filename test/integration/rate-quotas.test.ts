import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StrataClient } from '../../src/client/strata-client.js';
import { encodeRecordBatch } from '../../src/format/record-batch-codec.js';
import { decodeRecordBatch, iterateBatches } from '../../src/format/index.js';
import type { FetchResponse__Output } from '../../src/generated/strata/v1/FetchResponse.js';
import type { ProduceResponse__Output } from '../../src/generated/strata/v1/ProduceResponse.js';
import type { SubscribeResponse__Output } from '../../src/generated/strata/v1/SubscribeResponse.js';
import { StaticQuotaSource, THROTTLE_TIME_METADATA_KEY, type QuotaValues } from '../../src/quotas/principal-quotas.js';
import { hashToken } from '../../src/server/auth/static-tokens.js';
import { type RunningServer, startServer } from '../../src/server/bootstrap.js';
import { resolveServerConfig } from '../../src/server/server-config.js';
import { silentLogger } from '../../src/core/logger.js';
import { eventually } from '../helpers/eventually.js';
import { httpCall } from '../helpers/http-call.js';
import { parseExposition, valueOf } from '../helpers/prometheus-text.js';
import { ack, RawQueueSession } from '../helpers/raw-queue-session.js';
import { makeTempDir } from '../helpers/temp-dir.js';

/** One batch of one record of this size: what every throttled principal is sent or sends first. */
const BATCH = encodeRecordBatch([{ value: Buffer.alloc(10_000, 7) }]);
/**
 * A byte quota that one BATCH passes by 5 %: over Kafka's minimum window of 10 s (11 samples of 1 s),
 * a principal's first BATCH is a rate of BATCH/10 per second, 1.05 times this quota, so its throttle
 * time is exactly (1.05 - 1) * 10,000 ms whatever the clock says (the window starts with that record).
 */
const BYTE_QUOTA = (BATCH.length * 1000) / 10_500;
const FIRST_THROTTLE_MS = 500;
const PRINCIPALS = ['producer', 'fetcher', 'subscriber', 'queuer', 'admin', 'reader', 'queue-reader', 'group-reader', 'free'] as const;
const QUOTAS: Record<string, QuotaValues> = {
  producer: { producer_byte_rate: BYTE_QUOTA },
  fetcher: { consumer_byte_rate: BYTE_QUOTA },
  subscriber: { consumer_byte_rate: BYTE_QUOTA },
  queuer: { consumer_byte_rate: BYTE_QUOTA },
  admin: { admin_request_rate: 1 },
  reader: { consumer_byte_rate: BYTE_QUOTA },
  'queue-reader': { consumer_byte_rate: BYTE_QUOTA },
  'group-reader': { consumer_byte_rate: BYTE_QUOTA },
};

function recordsOf(batches: Buffer): Buffer[] {
  const values: Buffer[] = [];
  for (const { position } of iterateBatches(batches)) for (const record of decodeRecordBatch(batches, position).records) values.push(record.value!);
  return values;
}

describe('rate quotas: answers held back and throttle_time_ms, nothing dropped', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let server: RunningServer;
  const clients = new Map<string, StrataClient>();
  const client = (principal: (typeof PRINCIPALS)[number]) => clients.get(principal)!;

  beforeAll(async () => {
    dir = await makeTempDir();
    writeFileSync(join(dir.path, 'tokens.json'), JSON.stringify(PRINCIPALS.map((principal) => ({ principal, sha256: hashToken(`${principal}-token`) }))));
    const config = resolveServerConfig({ dataDir: join(dir.path, 'data'), port: 0, httpPort: 0, host: '127.0.0.1', authTokensFile: join(dir.path, 'tokens.json'), superUsers: [...PRINCIPALS] });
    server = await startServer(config, silentLogger, undefined, { quotaSource: new StaticQuotaSource(new Map(Object.entries(QUOTAS))) });
    for (const principal of PRINCIPALS) clients.set(principal, new StrataClient({ address: `127.0.0.1:${server.port}`, token: `${principal}-token` }));
    for (const topic of ['produced', 'read']) await client('free').admin.createTopic(topic, { partitions: 1 });
    // Two batches to read, each its own produce request: written by the unlimited principal.
    for (let i = 0; i < 2; i++) await produce('free', 'read', [BATCH]);
  });

  afterAll(async () => {
    for (const made of clients.values()) made.close();
    await server?.close();
    await dir?.remove();
  });

  /** Sends the requests on one produce stream at once; the answers in the order they came, with when. */
  function produce(principal: (typeof PRINCIPALS)[number], topic: string, batches: Buffer[]): Promise<Array<ProduceResponse__Output & { atMs: number }>> {
    return new Promise((resolve, reject) => {
      const call = client(principal).stubs.produce.produce();
      const responses: Array<ProduceResponse__Output & { atMs: number }> = [];
      call.on('data', (r: ProduceResponse__Output) => responses.push({ ...r, atMs: performance.now() }));
      call.on('error', reject);
      call.on('end', () => resolve(responses));
      batches.forEach((records, i) => call.write({ requestId: i + 1, topic, partition: 0, records, ackLevel: 'ACK_LEVEL_WRITTEN' }));
      call.end();
    });
  }

  function fetch(principal: (typeof PRINCIPALS)[number], offset: number): Promise<FetchResponse__Output> {
    return new Promise((resolve, reject) => client(principal).stubs.consume.fetch({ topic: 'read', partition: 0, offset, maxBytes: 1 }, (error: grpc.ServiceError | null, response?: FetchResponse__Output) => (error ? reject(error) : resolve(response!))));
  }

  it('producer_byte_rate: the answer over the quota carries throttle_time_ms and is held that long; later answers wait behind it; every record is appended', async () => {
    const small = encodeRecordBatch([{ value: Buffer.from('after') }]);
    const startedMs = performance.now();
    const responses = await produce('producer', 'produced', [BATCH, small]);
    expect(responses.map((r) => [Number(r.requestId), r.failure])).toEqual([
      [1, null],
      [2, null],
    ]);
    expect(responses[0]!.throttleTimeMs).toBe(FIRST_THROTTLE_MS);
    expect(responses[0]!.atMs - startedMs).toBeGreaterThanOrEqual(FIRST_THROTTLE_MS - 5);
    // Still over the quota (more bytes, about the same window).
    expect(responses[1]!.throttleTimeMs).toBeGreaterThan(FIRST_THROTTLE_MS);
    // Nothing dropped: both requests' records are in the log, in order.
    const all = await new Promise<FetchResponse__Output>((resolve, reject) => client('free').stubs.consume.fetch({ topic: 'produced', partition: 0, offset: 0, maxBytes: 1024 * 1024 }, (error: grpc.ServiceError | null, r?: FetchResponse__Output) => (error ? reject(error) : resolve(r!))));
    expect(recordsOf(all.records).map((v) => v.length)).toEqual([10_000, 5]);
    expect(all.throttleTimeMs).toBe(0);
  });

  it('an unlimited principal is never throttled: throttle_time_ms 0', async () => {
    const responses = await produce('free', 'produced', [BATCH, BATCH, BATCH]);
    expect(responses.map((r) => [r.failure, r.throttleTimeMs])).toEqual([
      [null, 0],
      [null, 0],
      [null, 0],
    ]);
  });

  it('consumer_byte_rate on Fetch: the answer over the quota is held back with throttle_time_ms; an empty one is not', async () => {
    const startedMs = performance.now();
    const first = await fetch('fetcher', 0);
    expect(performance.now() - startedMs).toBeGreaterThanOrEqual(FIRST_THROTTLE_MS - 5);
    expect(first.throttleTimeMs).toBe(FIRST_THROTTLE_MS);
    expect(recordsOf(first.records)).toHaveLength(1);
    // Past the log end: no bytes sent, nothing metered.
    const empty = await fetch('fetcher', 2);
    expect([empty.records.length, empty.throttleTimeMs]).toEqual([0, 0]);
    expect((await fetch('free', 0)).throttleTimeMs).toBe(0);
  });

  it('consumer_byte_rate on Subscribe: the push over the quota says so, and the stream\'s next push waits that long; every record comes', async () => {
    const pushes: Array<SubscribeResponse__Output & { atMs: number }> = [];
    const startedMs = performance.now();
    const call = client('subscriber').stubs.consume.subscribe({ topic: 'read', partitions: [0], start: { point: 'START_POINT_EARLIEST' }, maxBytes: 1 });
    call.on('data', (r: SubscribeResponse__Output) => pushes.push({ ...r, atMs: performance.now() }));
    call.on('error', () => undefined);
    try {
      await eventually(() => pushes.length >= 2, { what: 'two pushes' });
    } finally {
      call.cancel();
    }
    expect(pushes[0]!.throttleTimeMs).toBe(FIRST_THROTTLE_MS);
    // The second push left the server at least the throttle time after the first (sent after the call began).
    expect(pushes[1]!.atMs - startedMs).toBeGreaterThanOrEqual(FIRST_THROTTLE_MS - 5);
    expect(pushes[1]!.throttleTimeMs).toBeGreaterThan(FIRST_THROTTLE_MS);
    expect(pushes.map((p) => [Number(p.fetchOffset), Number(p.nextOffset)])).toEqual([
      [0, 1],
      [1, 2],
    ]);
  });

  it('consumer_byte_rate on queue deliveries: the delivery over the quota says so, and the next delivery waits', async () => {
    const throttled = new RawQueueSession(client('queuer').stubs.queue);
    const free = new RawQueueSession(client('free').stubs.queue);
    try {
      await throttled.join({ groupId: 'throttled-workers', topics: ['read'], inFlightLimit: 1 });
      await free.join({ groupId: 'free-workers', topics: ['read'], inFlightLimit: 10 });
      const firstAll = await throttled.waitForDeliveries(1);
      const deliveries = () => throttled.responses.filter((r) => r.delivery).map((r) => r.delivery!);
      expect(deliveries()[0]!.throttleTimeMs).toBe(FIRST_THROTTLE_MS);
      await throttled.answer([ack(firstAll[0]!)]);
      const both = await throttled.waitForDeliveries(2);
      expect(both.map((d) => d.offset)).toEqual([0, 1]);
      expect(deliveries()[1]!.throttleTimeMs).toBeGreaterThan(0);
      await free.waitForDeliveries(2);
      expect(free.responses.filter((r) => r.delivery).map((r) => r.delivery!.throttleTimeMs)).toEqual(free.responses.filter((r) => r.delivery).map(() => 0));
    } finally {
      throttled.close();
      free.close();
    }
  });

  it('the client\'s consume() and queue consumer report the throttle times, and hand out every record', async () => {
    const reported: Array<[number, number]> = [];
    const values: number[] = [];
    for await (const record of client('reader').consume('read', { from: 'earliest', maxBytes: 1, onThrottled: (ms, partition) => reported.push([ms, partition]) })) {
      values.push(record.offset);
      if (values.length === 2) break;
    }
    expect(values).toEqual([0, 1]);
    expect(reported[0]).toEqual([FIRST_THROTTLE_MS, 0]);
    const queueReported: number[] = [];
    const consumer = client('queue-reader').queue({ groupId: 'queue-readers', topics: ['read'], onThrottled: (ms) => queueReported.push(ms) });
    const offsets: number[] = [];
    try {
      for await (const message of consumer) {
        offsets.push(message.offset);
        message.ack();
        if (offsets.length === 2) break;
      }
    } finally {
      await consumer.close();
    }
    expect(offsets.sort()).toEqual([0, 1]);
    // One delivery may carry both batches: over the quota either way.
    expect(queueReported[0]).toBeGreaterThan(0);
    const groupReported: Array<[string, number, number]> = [];
    const member = client('group-reader').consumer({ groupId: 'group-readers', topics: ['read'], fromBeginning: true, maxBytes: 1, onThrottled: (topic, partition, ms) => groupReported.push([topic, partition, ms]) });
    const groupOffsets: number[] = [];
    try {
      for await (const record of member) {
        groupOffsets.push(record.offset);
        if (groupOffsets.length === 2) break;
      }
    } finally {
      await member.close();
    }
    expect(groupOffsets).toEqual([0, 1]);
    expect(groupReported[0]).toEqual(['read', 0, FIRST_THROTTLE_MS]);
  });

  it('admin_request_rate: admin answers carry the strata-throttle-time-ms trailer, held back past the quota; other calls carry none', async () => {
    const createTopic = (principal: (typeof PRINCIPALS)[number], topic: string) =>
      new Promise<string | undefined>((resolve, reject) => {
        let trailer: string | undefined;
        const call = client(principal).stubs.admin.createTopic({ topic, partitionCount: 1 }, (error: grpc.ServiceError | null) => (error ? reject(error) : setImmediate(() => resolve(trailer))));
        call.on('status', (status: grpc.StatusObject) => (trailer = status.metadata.get(THROTTLE_TIME_METADATA_KEY)[0]?.toString()));
      });
    // 1 call/s: ten calls fit the 10 s minimum window, the eleventh is over it.
    const trailers: Array<string | undefined> = [];
    for (let i = 0; i < 10; i++) trailers.push(await createTopic('admin', `admin-${i}`));
    expect(trailers).toEqual(Array.from({ length: 10 }, () => '0'));
    const startedMs = performance.now();
    const throttleTimeMs = Number(await createTopic('admin', 'admin-10'));
    expect(throttleTimeMs).toBeGreaterThan(0);
    expect(throttleTimeMs).toBeLessThanOrEqual(1_000);
    expect(performance.now() - startedMs).toBeGreaterThanOrEqual(throttleTimeMs - 5);
    // The call was served whole: the topic is there.
    expect((await client('admin').admin.listTopics()).map((t) => t.name)).toContain('admin-10');
    expect(await createTopic('free', 'free-admin')).toBe('0');
    const listTrailer = await new Promise<string | undefined>((resolve, reject) => {
      let trailer: string | undefined;
      const call = client('admin').stubs.admin.listTopics({}, (error: grpc.ServiceError | null) => (error ? reject(error) : setImmediate(() => resolve(trailer))));
      call.on('status', (status: grpc.StatusObject) => (trailer = status.metadata.get(THROTTLE_TIME_METADATA_KEY)[0]?.toString()));
    });
    expect(listTrailer).toBeUndefined();
  });

  it('counts throttle times per principal and quota in /metrics; the unlimited principal has none', async () => {
    const answer = await httpCall(server.httpPort!, 'GET', '/metrics', undefined, { authorization: 'Bearer free-token' });
    expect(answer.status).toBe(200);
    const samples = parseExposition(answer.body);
    expect(valueOf(samples, 'strata_quota_throttled_total', { principal: 'producer', quota: 'producer_byte_rate' })).toBe(2);
    expect(valueOf(samples, 'strata_quota_throttled_total', { principal: 'fetcher', quota: 'consumer_byte_rate' })).toBe(1);
    expect(valueOf(samples, 'strata_quota_throttled_total', { principal: 'admin', quota: 'admin_request_rate' })).toBe(1);
    expect(valueOf(samples, 'strata_quota_throttle_time_seconds_count', { principal: 'fetcher', quota: 'consumer_byte_rate' })).toBe(1);
    expect(valueOf(samples, 'strata_quota_throttle_time_seconds_sum', { principal: 'fetcher', quota: 'consumer_byte_rate' })).toBe(FIRST_THROTTLE_MS / 1000);
    expect(samples.some((s) => s.name.startsWith('strata_quota_throttle') && s.labels.principal === 'free')).toBe(false);
  });
});
