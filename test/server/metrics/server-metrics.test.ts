import { describe, expect, it } from 'vitest';
import { systemClock } from '../../../src/core/clock.js';
import { NO_SOURCES, type MetricsSources, type TopicSnapshot } from '../../../src/server/metrics/metrics-sources.js';
import { ServerMetrics, UNKNOWN_TOPIC_LABEL } from '../../../src/server/metrics/server-metrics.js';
import { parseExposition, promtoolCheckMetrics, promtoolPath, valueOf } from '../../helpers/prometheus-text.js';

const topic = (name: string, partitionCount: number, endOffset = 10): TopicSnapshot => ({
  name,
  partitions: Array.from({ length: partitionCount }, (_, partition) => ({ partition, status: 'online', logStartOffset: 2, logEndOffset: endOffset, highWatermark: endOffset, sizeBytes: 100 })),
});

function metricsOf(sources: Partial<MetricsSources>, maxPartitionSeries = 10_000, existing: string[] = []): ServerMetrics {
  const metrics = new ServerMetrics({ clock: systemClock, maxPartitionSeries, topicExists: (t) => existing.includes(t) });
  metrics.attach({ ...NO_SOURCES, ...sources });
  return metrics;
}

async function samplesOf(metrics: ServerMetrics) {
  return parseExposition(await metrics.scrape());
}

describe('ServerMetrics', () => {
  it('caps per-partition series: past the cap a topic is one partition="all" series, and the dropped ones are counted', async () => {
    const metrics = metricsOf(
      {
        topics: () => [topic('a', 3), topic('b', 4), topic('c', 2)],
        consumerGroups: () => [{ groupId: 'g', memberCount: 2 }],
        consumerGroupLag: async () => [
          ...[0, 1, 2].map((partition) => ({ topic: 'a', partition, committedOffset: 5, lagRecords: 5, lagMs: 1_000 * (partition + 1) })),
          ...[0, 1, 2, 3].map((partition) => ({ topic: 'b', partition, committedOffset: 1, lagRecords: 9, lagMs: 500 })),
          // never committed: no series (Kafka shows '-'), and not counted against the cap
          { topic: 'c', partition: 0, committedOffset: -1, lagRecords: 10, lagMs: 9_000 },
        ],
      },
      5,
    );
    const samples = await samplesOf(metrics);
    const series = (name: string) => samples.filter((s) => s.name === name).map((s) => [s.labels.topic, s.labels.partition, s.value]);
    expect(series('strata_log_end_offset')).toEqual([
      ['a', '0', 10],
      ['a', '1', 10],
      ['a', '2', 10],
      ['b', 'all', 40],
      ['c', 'all', 20],
    ]);
    expect(valueOf(samples, 'strata_metrics_series_dropped', { metric: 'strata_log_end_offset' })).toBe(6);
    expect(valueOf(samples, 'strata_metrics_series_dropped', { metric: 'strata_log_size_bytes' })).toBe(6);
    expect(series('strata_consumer_group_lag_records')).toEqual([
      ['a', '0', 5],
      ['a', '1', 5],
      ['a', '2', 5],
      ['b', 'all', 36],
    ]);
    // Ages fold to the largest, not a sum.
    expect(valueOf(samples, 'strata_consumer_group_lag_seconds', { topic: 'a', partition: '2' })).toBe(3);
    expect(valueOf(samples, 'strata_consumer_group_lag_seconds', { topic: 'b', partition: 'all' })).toBe(0.5);
    expect(valueOf(samples, 'strata_metrics_series_dropped', { metric: 'strata_consumer_group_lag_records' })).toBe(4);
    expect(valueOf(samples, 'strata_consumer_group_members', { group: 'g' })).toBe(2);
    expect(valueOf(samples, 'strata_partitions', { status: 'online' })).toBe(9);
    expect(valueOf(samples, 'strata_partitions', { status: 'data_loss' })).toBe(0);
  });

  it('labels a failed produce to a topic that does not exist (unknown), so a client cannot grow the series without bound', async () => {
    const metrics = metricsOf({}, 10_000, ['orders']);
    metrics.produced('orders', 5, 500, false);
    metrics.produced('orders', 5, 500, true);
    metrics.produceFailed('orders', 'CORRUPT_BATCH');
    for (let i = 0; i < 100; i++) metrics.produceFailed(`nosuch-${i}`, 'TOPIC_NOT_FOUND');
    const samples = await samplesOf(metrics);
    expect(valueOf(samples, 'strata_produce_requests_total', { topic: 'orders', result: 'ok' })).toBe(1);
    expect(valueOf(samples, 'strata_produce_requests_total', { topic: 'orders', result: 'duplicate' })).toBe(1);
    expect(valueOf(samples, 'strata_produce_requests_total', { topic: 'orders', result: 'CORRUPT_BATCH' })).toBe(1);
    expect(valueOf(samples, 'strata_produce_requests_total', { topic: UNKNOWN_TOPIC_LABEL, result: 'TOPIC_NOT_FOUND' })).toBe(100);
    // A duplicate wrote nothing: its records and bytes are not counted again.
    expect(valueOf(samples, 'strata_produce_records_total', { topic: 'orders' })).toBe(5);
    expect(valueOf(samples, 'strata_produce_bytes_total', { topic: 'orders' })).toBe(500);
    expect(samples.filter((s) => s.name === 'strata_produce_requests_total')).toHaveLength(4);

    metrics.forgetTopic('orders');
    const after = await samplesOf(metrics);
    expect(after.filter((s) => s.labels.topic === 'orders')).toEqual([]);
  });

  it('drops the rebalance count of a group that is gone', async () => {
    let groups = [{ groupId: 'g1', memberCount: 1 }, { groupId: 'g2', memberCount: 1 }];
    const metrics = metricsOf({ consumerGroups: () => groups });
    metrics.onRebalance('g1');
    metrics.onRebalance('g1');
    metrics.onRebalance('g2');
    expect(valueOf(await samplesOf(metrics), 'strata_consumer_group_rebalances_total', { group: 'g1' })).toBe(2);
    groups = [{ groupId: 'g2', memberCount: 1 }];
    const samples = await samplesOf(metrics);
    expect(valueOf(samples, 'strata_consumer_group_rebalances_total', { group: 'g1' })).toBeUndefined();
    expect(valueOf(samples, 'strata_consumer_group_rebalances_total', { group: 'g2' })).toBe(1);
  });

  it('sums queue groups per topic and finds dead-letter topics by suffix and by a group naming them', async () => {
    const depth = (d: number, inFlight: number, ageMs: number, redeliveries: number, deadLettered: number) => ({ depth: d, inFlight, oldestUnacknowledgedAgeMs: ageMs, redeliveries, deadLettered });
    const metrics = metricsOf({
      topics: () => [topic('jobs', 2), topic('jobs.dlq', 1, 4), topic('other-dead', 1, 7), topic('plain', 1)],
      queueGroups: () => [{ groupId: 'w' }],
      queueGroupPartitions: async () => [
        { topic: 'jobs', partition: 0, deadLetterTopic: 'jobs.dlq', depth: depth(3, 1, 2_000, 4, 1) },
        { topic: 'jobs', partition: 1, deadLetterTopic: 'jobs.dlq', depth: depth(2, 2, 5_000, 1, 2) },
        { topic: 'plain', partition: 0, deadLetterTopic: 'other-dead', depth: depth(0, 0, 0, 0, 0) },
      ],
    });
    const samples = await samplesOf(metrics);
    expect(valueOf(samples, 'strata_queue_depth_records', { group: 'w', topic: 'jobs' })).toBe(5);
    expect(valueOf(samples, 'strata_queue_in_flight_records', { group: 'w', topic: 'jobs' })).toBe(3);
    expect(valueOf(samples, 'strata_queue_oldest_unacked_age_seconds', { group: 'w', topic: 'jobs' })).toBe(5);
    expect(valueOf(samples, 'strata_queue_redeliveries_total', { group: 'w', topic: 'jobs' })).toBe(5);
    expect(valueOf(samples, 'strata_queue_dead_lettered_records_total', { group: 'w', topic: 'jobs' })).toBe(3);
    expect(valueOf(samples, 'strata_dead_letter_topic_records', { topic: 'jobs.dlq' })).toBe(2);
    expect(valueOf(samples, 'strata_dead_letter_topic_records', { topic: 'other-dead' })).toBe(5);
    expect(valueOf(samples, 'strata_dead_letter_topic_records', { topic: 'plain' })).toBeUndefined();
  });

  it('writes an exposition that promtool check metrics accepts without a word', async (context) => {
    const promtool = promtoolPath();
    if (!promtool) return context.skip('promtool is not installed (make test-deps installs it; under CI this fails instead)');
    const metrics = metricsOf({ topics: () => [topic('a', 2)] }, 1, ['a']);
    metrics.produced('a', 1, 10, false);
    metrics.produceFailed('zz', 'TOPIC_NOT_FOUND');
    metrics.onError('TOPIC_NOT_FOUND');
    metrics.storageObserver.onFsync(1.5);
    expect(promtoolCheckMetrics(promtool, await metrics.scrape())).toEqual({ status: 0, output: '' });
  });
});
