import { describe, expect, it } from 'vitest';
import { InvalidTopicNameError } from '../../src/core/errors.js';
import type { QueueMessage } from '../../src/client/queue-message.js';
import type { ProduceResponse__Output } from '../../src/generated/strata/v1/ProduceResponse.js';
import { eventually } from '../helpers/eventually.js';
import { httpCall } from '../helpers/http-call.js';
import { useInProcessServer } from '../helpers/in-process-server.js';
import { promtoolCheckMetrics, promtoolPath, scrape, valueOf, type Sample } from '../helpers/prometheus-text.js';
import { rejection } from '../helpers/rejection.js';

const PER_PARTITION = 20;
const PRODUCED = 2 * PER_PARTITION; // N
const CONSUMED = 30; // M: at least 10 of each partition, so both get a commit
const JOBS = 10;
const AGE_MS = 60_000;

describe('/metrics under a scripted workload (real server, real client)', () => {
  const fx = useInProcessServer();
  const metrics = async () => (await scrape(fx.server.httpPort!)).samples;

  it('counts produce, lag = N - M per partition, queue depth, dead letters and errors, and promtool accepts the scrape', async () => {
    const { admin } = fx.client;
    const errorsBefore = valueOf(await metrics(), 'strata_errors_total', { code: 'INVALID_TOPIC_NAME' }) ?? 0;

    // Produce N: 20 records to each of two partitions, a minute old.
    await admin.createTopic('orders', { partitions: 2 });
    const producer = fx.client.producer({ acks: 'durable' });
    const timestampMs = Date.now() - AGE_MS;
    for (const partition of [0, 1]) await producer.sendBatch('orders', Array.from({ length: PER_PARTITION }, (_, i) => ({ value: `order-${partition}-${i}`, partition, timestampMs })));
    let samples = await metrics();
    expect(valueOf(samples, 'strata_produce_records_total', { topic: 'orders' })).toBe(PRODUCED);
    expect(valueOf(samples, 'strata_produce_requests_total', { topic: 'orders', result: 'ok' })).toBeGreaterThanOrEqual(2);
    expect(valueOf(samples, 'strata_produce_bytes_total', { topic: 'orders' })).toBeGreaterThan(PRODUCED * 'order-0-0'.length);
    expect(valueOf(samples, 'strata_log_end_offset', { topic: 'orders', partition: '0' })).toBe(PER_PARTITION);
    expect(valueOf(samples, 'strata_log_end_offset', { topic: 'orders', partition: '1' })).toBe(PER_PARTITION);
    expect(valueOf(samples, 'strata_log_start_offset', { topic: 'orders', partition: '1' })).toBe(0);
    expect(valueOf(samples, 'strata_log_size_bytes', { topic: 'orders', partition: '0' })).toBeGreaterThan(0);
    expect(valueOf(samples, 'strata_append_duration_seconds_count')).toBeGreaterThanOrEqual(2);
    expect(valueOf(samples, 'strata_fsync_duration_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(valueOf(samples, 'strata_partitions', { status: 'failed' })).toBe(0);

    // Consume M in a group and commit: lag = produced - consumed, per partition.
    const consumer = fx.client.consumer({ groupId: 'billing', topics: ['orders'], fromBeginning: true, autoCommitIntervalMs: 60_000 });
    const consumedBy = [0, 0];
    let whileJoined: Sample[] = [];
    for await (const record of consumer) {
      consumedBy[record.partition]!++;
      if (consumedBy[0]! + consumedBy[1]! < CONSUMED) continue;
      await consumer.commit();
      whileJoined = await eventually(
        async () => {
          const now = await metrics();
          const lag = [0, 1].map((p) => valueOf(now, 'strata_consumer_group_lag_records', { group: 'billing', topic: 'orders', partition: String(p) }));
          return lag[0] === PER_PARTITION - consumedBy[0]! && lag[1] === PER_PARTITION - consumedBy[1]! && now;
        },
        { what: `lag ${PER_PARTITION - consumedBy[0]!} and ${PER_PARTITION - consumedBy[1]!} (consumed ${consumedBy.join(', ')})` },
      );
      break;
    }
    await consumer.close();
    expect(consumedBy[0]! + consumedBy[1]!).toBe(CONSUMED);
    expect(Math.min(...consumedBy)).toBeGreaterThanOrEqual(PRODUCED / 2 - (PRODUCED - CONSUMED));
    expect(valueOf(whileJoined, 'strata_consumer_group_members', { group: 'billing' })).toBe(1);
    expect(valueOf(whileJoined, 'strata_consumer_group_rebalances_total', { group: 'billing' })).toBeGreaterThanOrEqual(1);
    expect(valueOf(whileJoined, 'strata_streams_active', { kind: 'group_heartbeat' })).toBeGreaterThanOrEqual(1);
    expect(valueOf(whileJoined, 'strata_subscriptions_active')).toBeGreaterThanOrEqual(1);
    for (const p of [0, 1]) {
      const lagSeconds = valueOf(whileJoined, 'strata_consumer_group_lag_seconds', { group: 'billing', topic: 'orders', partition: String(p) })!;
      if (consumedBy[p] === PER_PARTITION) expect(lagSeconds).toBe(0);
      else expect(lagSeconds).toBeGreaterThanOrEqual(AGE_MS / 1000);
    }
    const fetched = valueOf(whileJoined, 'strata_fetch_records_total', { topic: 'orders' })!;
    expect(fetched).toBeGreaterThanOrEqual(CONSUMED);
    expect(fetched).toBeLessThanOrEqual(PRODUCED);

    // A queue group: acks 6, dead-letters 1, holds 3.
    await admin.createTopic('jobs', { partitions: 1 });
    await producer.sendBatch('jobs', Array.from({ length: JOBS }, (_, i) => ({ value: `job-${i}`, timestampMs })));
    await producer.close();
    const queue = fx.client.queue({ groupId: 'workers', topics: ['jobs'], inFlightLimit: JOBS });
    const held: QueueMessage[] = [];
    let received = 0;
    samples = [];
    for await (const message of queue) {
      received++;
      if (received <= 6) await message.ack();
      else if (received === 7) await message.reject('malformed job');
      else held.push(message);
      if (received < JOBS) continue;
      // Looked at while the member holds the last 3 (leaving the loop closes the queue, which releases them).
      samples = await eventually(
        async () => {
          const now = await metrics();
          return valueOf(now, 'strata_queue_dead_lettered_records_total', { group: 'workers', topic: 'jobs' }) === 1 && valueOf(now, 'strata_dead_letter_topic_records', { topic: 'jobs.dlq' }) === 1 && now;
        },
        { what: 'the rejected job in jobs.dlq' },
      );
      break;
    }
    expect(held).toHaveLength(3);
    expect(valueOf(samples, 'strata_queue_depth_records', { group: 'workers', topic: 'jobs' })).toBe(3);
    expect(valueOf(samples, 'strata_queue_in_flight_records', { group: 'workers', topic: 'jobs' })).toBe(3);
    expect(valueOf(samples, 'strata_queue_oldest_unacked_age_seconds', { group: 'workers', topic: 'jobs' })).toBeGreaterThanOrEqual(AGE_MS / 1000);
    expect(valueOf(samples, 'strata_queue_redeliveries_total', { group: 'workers', topic: 'jobs' })).toBe(0);
    expect(valueOf(samples, 'strata_streams_active', { kind: 'queue_session' })).toBe(1);
    expect(valueOf(samples, 'strata_retention_unconsumed_removed_records_total')).toBeUndefined();
    await queue.close();

    // A bad request: counted by its strata-error-code.
    expect(await rejection(admin.createTopic('no spaces allowed', { partitions: 1 }))).toBeInstanceOf(InvalidTopicNameError);
    samples = await metrics();
    expect(valueOf(samples, 'strata_errors_total', { code: 'INVALID_TOPIC_NAME' })).toBe(errorsBefore + 1);
    expect(valueOf(samples, 'strata_data_dir_free_bytes')).toBeGreaterThan(0);
    expect(valueOf(samples, 'strata_data_dir_size_bytes')).toBeGreaterThanOrEqual(valueOf(samples, 'strata_data_dir_free_bytes')!);
    expect(valueOf(samples, 'strata_process_cpu_seconds_total')).toBeGreaterThan(0);
    expect(valueOf(samples, 'strata_nodejs_eventloop_lag_seconds')).toBeGreaterThanOrEqual(0);

    // Every family above in one real scrape: promtool has nothing to say about it.
    const promtool = promtoolPath();
    if (promtool) expect(promtoolCheckMetrics(promtool, (await scrape(fx.server.httpPort!)).text)).toEqual({ status: 0, output: '' });
  });

  it('answers every raw produce request, an unacknowledged garbage one too, and labels a missing topic (unknown)', async () => {
    await fx.client.admin.createTopic('raw', { partitions: 1 });
    const responses = await new Promise<ProduceResponse__Output[]>((resolve, reject) => {
      const call = fx.client.stubs.produce.produce();
      const got: ProduceResponse__Output[] = [];
      call.on('data', (r: ProduceResponse__Output) => got.push(r));
      call.on('error', reject);
      call.on('end', () => resolve(got));
      call.write({ requestId: 1, topic: 'raw', partition: 0, records: Buffer.from('not a record batch, and shorter than a header'), ackLevel: 'ACK_LEVEL_NONE' });
      call.write({ requestId: 2, topic: 'no-such-topic', partition: 0, records: Buffer.from('x'), ackLevel: 'ACK_LEVEL_WRITTEN' });
      call.end();
    });
    expect(responses.map((r) => [Number(r.requestId), r.failure?.code ?? 'ok'])).toEqual([
      [1, 'ok'],
      [2, 'TOPIC_NOT_FOUND'],
    ]);
    const samples = await metrics();
    expect(valueOf(samples, 'strata_produce_requests_total', { topic: '(unknown)', result: 'TOPIC_NOT_FOUND' })).toBe(1);
    expect(valueOf(samples, 'strata_produce_requests_total', { topic: 'no-such-topic' })).toBeUndefined();
  });

  it('ends the stream count when a stream ends', async () => {
    const controller = new AbortController();
    await fx.client.admin.createTopic('streamed', { partitions: 1 });
    const reading = (async () => {
      for await (const _ of fx.client.consume('streamed', { from: 'latest', signal: controller.signal })) break;
    })().catch(() => undefined);
    await eventually(async () => valueOf(await metrics(), 'strata_streams_active', { kind: 'subscribe' }) === 1, { what: 'one open subscription' });
    controller.abort();
    await reading;
    await eventually(async () => valueOf(await metrics(), 'strata_streams_active', { kind: 'subscribe' }) === 0, { what: 'no open subscription' });
  });
});

describe('metrics: false', () => {
  const fx = useInProcessServer({ metrics: false });

  it('serves no /metrics and still serves the probes', async () => {
    expect((await httpCall(fx.server.httpPort!, 'GET', '/metrics')).status).toBe(404);
    expect((await httpCall(fx.server.httpPort!, 'GET', '/healthz')).status).toBe(200);
  });
});
