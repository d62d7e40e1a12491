import { statfs } from 'node:fs/promises';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { MetricsSources, PartitionLagSnapshot, QueuePartitionSnapshot, TopicSnapshot } from './metrics-sources.js';
import { partitionSeriesText, type OwnerSeries, type PartitionMetric } from './partition-series-cap.js';

/** Partition statuses, each always exported (0 when none), so alerts need no absent(). */
export const PARTITION_STATUSES = ['online', 'read_only', 'failed', 'data_loss'] as const;

/** A topic whose records are dead letters: the `.dlq` convention of the client and queue groups, or a queue group's own suffix. */
const DEAD_LETTER_SUFFIX = '.dlq';

type Labels = Record<string, string>;

const LOG_START_OFFSET: PartitionMetric = { name: 'strata_log_start_offset', fold: 'sum', help: 'First offset a reader can read in the partition (inclusive). partition="all": the sum over a topic past the series cap.' };
const LOG_END_OFFSET: PartitionMetric = { name: 'strata_log_end_offset', fold: 'sum', help: 'Next offset the partition assigns (exclusive). partition="all": the sum over a topic past the series cap.' };
const LOG_SIZE: PartitionMetric = { name: 'strata_log_size_bytes', fold: 'sum', help: "Bytes of the partition's segment files. partition=\"all\": the sum over a topic past the series cap." };
const LAG_RECORDS: PartitionMetric = { name: 'strata_consumer_group_lag_records', fold: 'sum', help: "Records between a group's committed offset and the high watermark, for partitions it committed to. partition=\"all\": the sum over the topic past the series cap." };
const LAG_SECONDS: PartitionMetric = { name: 'strata_consumer_group_lag_seconds', fold: 'max', help: 'Age of the next record a group reads (0 when caught up), for partitions it committed to. partition="all": the largest over the topic past the series cap.' };

/**
 * The metrics computed at scrape time from the components' own descriptions (nothing on a hot path
 * keeps them): log offsets and sizes, partition statuses, consumer group membership and lag, queue
 * groups' depth and counters, dead-letter topics, the data directory's file system. Each refresh
 * resets every series first, so a deleted topic or group disappears from the next scrape.
 * Per-partition metrics are capped (partition-series-cap.ts); `strata_metrics_series_dropped` says
 * how many partition series each one folded.
 */
export class ScrapeGauges {
  private readonly partitions: Gauge;
  private readonly groupMembers: Gauge;
  private readonly queueDepth: Gauge;
  private readonly queueInFlight: Gauge;
  private readonly queueOldestAge: Gauge;
  private readonly queueRedeliveries: Counter;
  private readonly queueDeadLettered: Counter;
  private readonly deadLetterTopicRecords: Gauge;
  private readonly unconsumedRemoved: Counter;
  private readonly dataDirFree: Gauge;
  private readonly dataDirSize: Gauge;
  private readonly seriesDropped: Gauge;

  constructor(
    registry: Registry,
    private readonly maxPartitionSeries: number,
  ) {
    const registers = [registry];
    const gauge = (name: string, help: string, labelNames: string[] = []) => new Gauge({ name, help, labelNames, registers });
    const counter = (name: string, help: string, labelNames: string[]) => new Counter({ name, help, labelNames, registers });
    this.partitions = gauge('strata_partitions', 'Partitions by status: online, read_only (disk full: the next append tries again), failed (an I/O error: no writes until a restart), data_loss (damage found at open: refused).', ['status']);
    this.groupMembers = gauge('strata_consumer_group_members', 'Members of a consumer group (0 for a group with only committed offsets).', ['group']);
    this.queueDepth = gauge('strata_queue_depth_records', 'Records of a topic a queue group has not acknowledged or dead-lettered yet (in flight ones included).', ['group', 'topic']);
    this.queueInFlight = gauge('strata_queue_in_flight_records', 'Records of a topic handed to a queue group\'s members and not answered yet.', ['group', 'topic']);
    this.queueOldestAge = gauge('strata_queue_oldest_unacked_age_seconds', 'Age of the oldest record of a topic a queue group has not acknowledged (0 when none).', ['group', 'topic']);
    this.queueRedeliveries = counter('strata_queue_redeliveries_total', 'Records a queue group delivered again (after a release, a reject to retry or a lock that ran out).', ['group', 'topic']);
    this.queueDeadLettered = counter('strata_queue_dead_lettered_records_total', 'Records a queue group moved to its dead-letter topic.', ['group', 'topic']);
    this.deadLetterTopicRecords = gauge('strata_dead_letter_topic_records', 'Records in a dead-letter topic (a *.dlq topic or a queue group\'s dead-letter topic): high watermark minus log start, summed over partitions.', ['topic']);
    this.unconsumedRemoved = counter('strata_retention_unconsumed_removed_records_total', 'Records retention removed before a group read them, since the server started.', ['group', 'topic']);
    this.dataDirFree = gauge('strata_data_dir_free_bytes', 'Bytes available to the server on the file system of its data directory (statfs).');
    this.dataDirSize = gauge('strata_data_dir_size_bytes', 'Total bytes of the file system of the data directory (statfs).');
    this.seriesDropped = gauge('strata_metrics_series_dropped', 'Per-partition series of a metric folded into per-topic series (partition="all") because the metric passed its cap of partition series.', ['metric']);
  }

  /** Sets every series again from `sources`; returns the per-partition metrics' text (not in the registry). */
  async refresh(sources: MetricsSources): Promise<string> {
    const topics = sources.topics();
    let text = this.refreshLogs(topics);
    text += await this.refreshConsumerGroups(sources);
    const deadLetterTopics = await this.refreshQueueGroups(sources);
    this.refreshDeadLetterTopics(topics, deadLetterTopics);
    this.unconsumedRemoved.reset();
    for (const { group, topic, records } of sources.unconsumedRemovals()) this.unconsumedRemoved.inc({ group, topic }, records);
    try {
      if (sources.dataDir === '') throw new Error('no data directory yet');
      const stats = await statfs(sources.dataDir);
      this.dataDirFree.set(stats.bavail * stats.bsize);
      this.dataDirSize.set(stats.blocks * stats.bsize);
    } catch {
      // The directory is gone or unreadable: no value rather than a wrong one.
      this.dataDirFree.reset();
      this.dataDirSize.reset();
    }
    return text;
  }

  private refreshLogs(topics: readonly TopicSnapshot[]): string {
    const counts = new Map<string, number>(PARTITION_STATUSES.map((s) => [s, 0]));
    const start: OwnerSeries[] = [];
    const end: OwnerSeries[] = [];
    const size: OwnerSeries[] = [];
    for (const topic of topics) {
      const owner = [['topic', topic.name]] as const;
      const partitions: number[] = [];
      const starts: number[] = [];
      const ends: number[] = [];
      const sizes: number[] = [];
      for (const p of topic.partitions) {
        const status = p.status.replace('-', '_');
        counts.set(status, (counts.get(status) ?? 0) + 1);
        // A partition refused at open (data loss) has no offsets or size to show.
        if (p.status === 'data-loss') continue;
        partitions.push(p.partition);
        starts.push(p.logStartOffset);
        ends.push(p.logEndOffset);
        sizes.push(p.sizeBytes);
      }
      start.push({ owner, partitions, values: starts });
      end.push({ owner, partitions, values: ends });
      size.push({ owner, partitions, values: sizes });
    }
    this.partitions.reset();
    for (const [status, count] of counts) this.partitions.set({ status }, count);
    return this.capped(LOG_START_OFFSET, start) + this.capped(LOG_END_OFFSET, end) + this.capped(LOG_SIZE, size);
  }

  private async refreshConsumerGroups(sources: MetricsSources): Promise<string> {
    const records: OwnerSeries[] = [];
    const seconds: OwnerSeries[] = [];
    this.groupMembers.reset();
    for (const { groupId, memberCount } of sources.consumerGroups()) {
      let lag: readonly PartitionLagSnapshot[];
      try {
        lag = await sources.consumerGroupLag(groupId);
      } catch {
        continue; // deleted since it was listed
      }
      this.groupMembers.set({ group: groupId }, memberCount);
      const byTopic = new Map<string, { records: OwnerSeries; seconds: OwnerSeries }>();
      for (const p of lag) {
        if (p.committedOffset < 0) continue;
        let series = byTopic.get(p.topic);
        if (!series) {
          const owner = [['group', groupId], ['topic', p.topic]] as const;
          byTopic.set(p.topic, (series = { records: { owner, partitions: [], values: [] }, seconds: { owner, partitions: [], values: [] } }));
          records.push(series.records);
          seconds.push(series.seconds);
        }
        series.records.partitions.push(p.partition);
        series.records.values.push(p.lagRecords);
        series.seconds.partitions.push(p.partition);
        series.seconds.values.push(p.lagMs / 1000);
      }
    }
    return this.capped(LAG_RECORDS, records) + this.capped(LAG_SECONDS, seconds);
  }

  /** Sets the queue groups' series; returns the dead-letter topics the groups name. */
  private async refreshQueueGroups(sources: MetricsSources): Promise<Set<string>> {
    const deadLetterTopics = new Set<string>();
    const sums = new Map<string, { labels: Labels; depth: number; inFlight: number; oldestAgeMs: number; redeliveries: number; deadLettered: number }>();
    for (const { groupId } of sources.queueGroups()) {
      let partitions: readonly QueuePartitionSnapshot[];
      try {
        partitions = await sources.queueGroupPartitions(groupId);
      } catch {
        continue;
      }
      for (const p of partitions) {
        deadLetterTopics.add(p.deadLetterTopic);
        const key = `${groupId}\u0000${p.topic}`;
        let sum = sums.get(key);
        if (!sum) sums.set(key, (sum = { labels: { group: groupId, topic: p.topic }, depth: 0, inFlight: 0, oldestAgeMs: 0, redeliveries: 0, deadLettered: 0 }));
        sum.depth += p.depth.depth;
        sum.inFlight += p.depth.inFlight;
        sum.oldestAgeMs = Math.max(sum.oldestAgeMs, p.depth.oldestUnacknowledgedAgeMs);
        sum.redeliveries += p.depth.redeliveries;
        sum.deadLettered += p.depth.deadLettered;
      }
    }
    for (const metric of [this.queueDepth, this.queueInFlight, this.queueOldestAge, this.queueRedeliveries, this.queueDeadLettered]) metric.reset();
    for (const sum of sums.values()) {
      this.queueDepth.set(sum.labels, sum.depth);
      this.queueInFlight.set(sum.labels, sum.inFlight);
      this.queueOldestAge.set(sum.labels, sum.oldestAgeMs / 1000);
      // Counters kept by the queue group itself (in its state log, so they survive restarts): shown as they are.
      this.queueRedeliveries.inc(sum.labels, sum.redeliveries);
      this.queueDeadLettered.inc(sum.labels, sum.deadLettered);
    }
    return deadLetterTopics;
  }

  private refreshDeadLetterTopics(topics: readonly TopicSnapshot[], named: ReadonlySet<string>): void {
    this.deadLetterTopicRecords.reset();
    for (const topic of topics) {
      if (!topic.name.endsWith(DEAD_LETTER_SUFFIX) && !named.has(topic.name)) continue;
      let records = 0;
      for (const p of topic.partitions) if (p.status !== 'data-loss') records += Math.max(0, p.highWatermark - p.logStartOffset);
      this.deadLetterTopicRecords.set({ topic: topic.name }, records);
    }
  }

  private capped(metric: PartitionMetric, owners: readonly OwnerSeries[]): string {
    const { text, droppedCount } = partitionSeriesText(metric, owners, this.maxPartitionSeries);
    this.seriesDropped.set({ metric: metric.name }, droppedCount);
    return text;
  }
}
