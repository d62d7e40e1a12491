import { InvalidConfigError } from '../core/errors.js';
import { isInternalTopic, refuseInternalTopic } from '../core/internal-topics.js';
import type { LogManager, TopicConfigChange, TopicDescription } from '../storage/log-manager.js';
import { resolveTopicConfig, TOPIC_CONFIG_KEYS, type TopicConfig } from '../storage/topic-config.js';
import { startOffsetIn, type StartPosition } from './broker.js';
import { purgeRecords, type PartitionPurgeRequest, type PartitionPurgeResult } from './record-purge.js';

export type { PartitionDescription, TopicConfigChange, TopicDescription } from '../storage/log-manager.js';
export type { PartitionPurgeRequest, PartitionPurgeResult } from './record-purge.js';

/** One key an AlterTopicConfig named: its effective value before and after, and whether each was an override. */
export interface ConfigKeyChange {
  key: string;
  oldValue: string;
  newValue: string;
  wasOverride: boolean;
  isOverride: boolean;
}

/**
 * The smallest segment.bytes a client may give a topic, as Kafka 4 has it: every segment keeps a file
 * open, and 1 KiB segments let one producer exhaust the server's descriptors with a few MB of records.
 * The storage engine takes smaller ones (its tests roll segments quickly); the API does not.
 */
export const MIN_SEGMENT_BYTES = 1024 * 1024;

/** A topic's effective configuration (defaults and overrides) under its Kafka-style keys, as strings. */
export function topicConfigEntries(config: TopicConfig): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, spec] of Object.entries(TOPIC_CONFIG_KEYS)) out[key] = String(config[spec.field]);
  return out;
}

export interface TopicAdminOptions {
  /** The largest max.message.bytes a new topic may have: the largest batch a request can carry. */
  largestBatchBytes: number;
  /** Runs after a topic is deleted (the composition root forgets groups' committed offsets of it). */
  onTopicDeleted?: (topic: string) => Promise<void>;
  /** Runs after a purge moved log starts of a topic (the composition root has queue groups skip up at once). */
  onRecordsPurged?: (topic: string) => void;
}

/**
 * What a client may do to topics (Kafka's admin API): create, delete, grow, list, describe, look up
 * offsets, with the policies the API adds to the storage engine's own rules. The log manager checks
 * names, partition counts (per topic and per server) and config values; this adds:
 * - internal topics (core/internal-topics.ts: names starting with __) are not created, deleted,
 *   repartitioned or reconfigured by clients, and not listed;
 * - a topic's max.message.bytes fits in a request (else its batches could never arrive);
 * - segment.bytes is at least MIN_SEGMENT_BYTES (both at creation and after AlterTopicConfig).
 * A refused request changes nothing.
 */
export class TopicAdmin {
  constructor(
    private readonly logs: LogManager,
    private readonly options: TopicAdminOptions,
  ) {}

  async createTopic(name: string, partitionCount: number, configOverrides: Record<string, string>): Promise<TopicDescription> {
    // Checked before anything is created; resolveTopicConfig throws for a bad value first.
    this.checkPolicy(resolveTopicConfig(configOverrides));
    refuseInternalTopic(name, 'create');
    return this.logs.createTopic(name, partitionCount, configOverrides);
  }

  /**
   * Changes a topic's config while it runs (Kafka's incremental AlterConfigs): validated as at
   * creation, the resulting config as a whole, under the same policies; durable before the answer;
   * applied to every partition without a restart. `changes` has one entry per key named, by key.
   */
  async alterTopicConfig(name: string, change: TopicConfigChange, options: { validateOnly?: boolean } = {}): Promise<{ topic: TopicDescription; changes: ConfigKeyChange[] }> {
    refuseInternalTopic(name, 'alter the config of');
    const { previous, topic } = await this.logs.alterTopicConfig(name, change, { validateOnly: options.validateOnly ?? false, check: (config) => this.checkPolicy(config) });
    const before = topicConfigEntries(previous.config);
    const after = topicConfigEntries(topic.config);
    const keys = [...new Set([...Object.keys(change.set), ...change.delete])].sort();
    const changes = keys.map((key) => ({
      key,
      oldValue: before[key]!,
      newValue: after[key]!,
      wasOverride: Object.hasOwn(previous.configOverrides, key),
      isOverride: Object.hasOwn(topic.configOverrides, key),
    }));
    return { topic, changes };
  }

  async deleteTopic(name: string): Promise<void> {
    refuseInternalTopic(name, 'delete');
    await this.logs.deleteTopic(name);
    // Groups' committed offsets of it go too (as in Kafka), so a topic created again starts at zero.
    await this.options.onTopicDeleted?.(name);
  }

  /** Grows a topic to `partitionCount` partitions (never shrinks: that would move keys). */
  async createPartitions(name: string, partitionCount: number): Promise<TopicDescription> {
    refuseInternalTopic(name, 'add partitions to');
    return this.logs.createPartitions(name, partitionCount);
  }

  /** Kafka's DeleteRecords: see record-purge.ts. Nothing changes when `validateOnly` is set or a partition is refused. */
  async purgeRecords(topic: string, purges: readonly PartitionPurgeRequest[], options: { validateOnly: boolean }): Promise<PartitionPurgeResult[]> {
    try {
      return await purgeRecords(this.logs, topic, purges, options);
    } finally {
      // Also after a failure midway: the partitions before it moved.
      if (!options.validateOnly) this.options.onRecordsPurged?.(topic);
    }
  }

  /** The API's rules on a topic's resolved config, beyond the storage engine's own (see the class comment). */
  private checkPolicy({ maxBatchBytes, segmentBytes }: TopicConfig): void {
    if (maxBatchBytes > this.options.largestBatchBytes) {
      throw new InvalidConfigError(
        `max.message.bytes ${maxBatchBytes} is larger than the largest batch this server receives (${this.options.largestBatchBytes}): raise the server's maxRequestBytes first`,
      );
    }
    if (segmentBytes < MIN_SEGMENT_BYTES) {
      throw new InvalidConfigError(`segment.bytes ${segmentBytes} is below the server's minimum of ${MIN_SEGMENT_BYTES} (1 MiB): every segment keeps a file open`);
    }
  }

  /** Client topics by name; internal ones are described on request, not listed. */
  listTopics(): Array<{ name: string; partitionCount: number }> {
    return this.logs
      .listTopics()
      .filter((name) => !isInternalTopic(name))
      .map((name) => ({ name, partitionCount: this.logs.partitionCount(name) ?? 0 }));
  }

  /** TopicNotFoundError when there is none. */
  describeTopic(name: string): TopicDescription {
    return this.logs.describeTopic(name);
  }

  /**
   * The offset of `start` in each partition (Kafka's ListOffsets). A timestamp past the last record
   * is the high watermark, with `found` false.
   */
  async listOffsets(topic: string, partitions: readonly number[], start: StartPosition): Promise<Array<{ partition: number; offset: number; found: boolean }>> {
    const offsets = [];
    for (const partition of partitions) {
      const log = this.logs.partition(topic, partition);
      if ('timestampMs' in start) {
        offsets.push({ partition, ...(await log.startForTimestamp(start.timestampMs)) });
      } else {
        offsets.push({ partition, offset: await startOffsetIn(log, start), found: true });
      }
    }
    return offsets;
  }
}
