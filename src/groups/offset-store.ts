import { crc32 } from '@node-rs/crc32';
import { InvalidArgumentError, TopicAlreadyExistsError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { decodeRecordBatch, encodeRecordBatch, iterateBatches } from '../format/record-batch-codec.js';
import type { LogManager } from '../storage/log-manager.js';

/** The internal topic that holds committed offsets: the log is the source of truth here too. */
export const OFFSETS_TOPIC = '__consumer_offsets';
export const OFFSETS_TOPIC_PARTITIONS = 8;
const REPLAY_READ_BYTES = 4 * 1024 * 1024;

export interface CommittedOffset {
  offset: number;
  committedAtMs: number;
  memberId: string;
}

/**
 * A record of `__consumer_offsets`, JSON in the value, the group id as the key (so one group's
 * records share a partition, in order):
 *   { "type": "commit", "groupId", "topic", "partition", "offset", "memberId", "atMs" }
 *   { "type": "reset",  "groupId", "topic", "partition", "offset", "previousOffset", "by", "atMs" }
 *   { "type": "delete", "groupId", "atMs" }
 * The latest record per group/topic/partition wins; the store is rebuilt by replaying the topic.
 */
type OffsetRecord =
  | { type: 'commit'; groupId: string; topic: string; partition: number; offset: number; memberId: string; atMs: number }
  | { type: 'reset'; groupId: string; topic: string; partition: number; offset: number; previousOffset: number; by: string; atMs: number }
  | { type: 'delete'; groupId: string; atMs: number };

/**
 * Committed offsets of every group, in memory, made durable in `__consumer_offsets` before a commit
 * is acknowledged (the topic uses flush=always). Old records are not cleaned yet: the topic grows
 * with every commit (a compaction of the topic is future work).
 */
export class OffsetStore {
  private readonly offsets = new Map<string, Map<string, Map<number, CommittedOffset>>>();

  private constructor(
    private readonly logs: LogManager,
    private readonly nowMs: () => number,
  ) {}

  static async open(logs: LogManager, nowMs: () => number, logger: Logger): Promise<OffsetStore> {
    const store = new OffsetStore(logs, nowMs);
    if (!logs.listTopics().includes(OFFSETS_TOPIC)) {
      try {
        await logs.createTopic(OFFSETS_TOPIC, OFFSETS_TOPIC_PARTITIONS, { flush: 'always', 'segment.bytes': String(64 * 1024 * 1024), 'retention.ms': '-1' });
      } catch (error) {
        if (!(error instanceof TopicAlreadyExistsError)) throw error;
      }
    }
    let replayed = 0;
    const partitionCount = logs.describeTopic(OFFSETS_TOPIC).partitionCount;
    for (let partition = 0; partition < partitionCount; partition++) {
      const log = logs.partition(OFFSETS_TOPIC, partition);
      let offset = log.logStartOffset;
      while (offset < log.highWatermark) {
        const { batches, nextOffset } = await log.read(offset, REPLAY_READ_BYTES);
        if (batches.length === 0) break;
        for (const { position } of iterateBatches(batches)) {
          for (const record of decodeRecordBatch(batches, position).records) {
            if (record.offset < offset || !record.value) continue;
            store.apply(JSON.parse(record.value.toString('utf8')) as OffsetRecord);
            replayed++;
          }
        }
        offset = nextOffset;
      }
    }
    logger.info({ groups: store.offsets.size, replayed }, 'committed offsets rebuilt from __consumer_offsets');
    return store;
  }

  groupIds(): string[] {
    return [...this.offsets.keys()].sort();
  }

  /** Committed offsets of a group: topic -> partition -> offset. */
  fetch(groupId: string, topics?: readonly string[]): Map<string, Map<number, CommittedOffset>> {
    const group = this.offsets.get(groupId);
    const out = new Map<string, Map<number, CommittedOffset>>();
    if (!group) return out;
    for (const [topic, partitions] of group) if (!topics || topics.length === 0 || topics.includes(topic)) out.set(topic, new Map(partitions));
    return out;
  }

  /** Durably records commits (one batch, one fsync), then applies them. */
  async commit(groupId: string, memberId: string, offsets: ReadonlyArray<{ topic: string; partition: number; offset: number }>): Promise<void> {
    for (const o of offsets) {
      if (!Number.isSafeInteger(o.offset) || o.offset < 0) throw new InvalidArgumentError(`offset must be a non-negative integer, got ${o.offset}`);
    }
    const atMs = this.nowMs();
    await this.write(groupId, offsets.map((o) => ({ type: 'commit' as const, groupId, topic: o.topic, partition: o.partition, offset: o.offset, memberId, atMs })));
  }

  /** Records an operator's reset (who, when, old and new offset), which wins like a commit. */
  async reset(groupId: string, by: string, offsets: ReadonlyArray<{ topic: string; partition: number; offset: number }>): Promise<void> {
    const atMs = this.nowMs();
    const records = offsets.map((o) => ({
      type: 'reset' as const, groupId, topic: o.topic, partition: o.partition, offset: o.offset,
      previousOffset: this.offsets.get(groupId)?.get(o.topic)?.get(o.partition)?.offset ?? -1, by, atMs,
    }));
    await this.write(groupId, records);
  }

  async deleteGroup(groupId: string): Promise<void> {
    await this.write(groupId, [{ type: 'delete', groupId, atMs: this.nowMs() }]);
  }

  private async write(groupId: string, records: OffsetRecord[]): Promise<void> {
    if (records.length === 0) return;
    const partition = crc32(groupId) % this.logs.describeTopic(OFFSETS_TOPIC).partitionCount;
    const batch = encodeRecordBatch(records.map((r) => ({ key: groupId, value: JSON.stringify(r), timestampMs: r.atMs })));
    await this.logs.partition(OFFSETS_TOPIC, partition).append(batch, { ackLevel: 'durable' });
    for (const record of records) this.apply(record);
  }

  private apply(record: OffsetRecord): void {
    if (record.type === 'delete') {
      this.offsets.delete(record.groupId);
      return;
    }
    let group = this.offsets.get(record.groupId);
    if (!group) this.offsets.set(record.groupId, (group = new Map()));
    let topic = group.get(record.topic);
    if (!topic) group.set(record.topic, (topic = new Map()));
    topic.set(record.partition, { offset: record.offset, committedAtMs: record.atMs, memberId: record.type === 'commit' ? record.memberId : record.by });
  }
}
