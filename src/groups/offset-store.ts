import { InvalidArgumentError } from '../core/errors.js';
import { OFFSETS_TOPIC } from '../core/internal-topics.js';
import type { Logger } from '../core/logger.js';
import { StateLog, type StateLogEntry } from '../storage/state-log.js';
import type { OffsetLog } from './offset-log.js';
import { jsonObjectOf } from '../storage/json-record.js';

export { OFFSETS_TOPIC };
export const OFFSETS_TOPIC_PARTITIONS = 8;
export const OFFSETS_SEGMENT_BYTES = 4 * 1024 * 1024;
/** A partition of the offsets topic is compacted once it has this many segments (the state log's rule). */
export { COMPACT_AT_SEGMENTS } from '../storage/state-log.js';

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
 *   { "type": "forget-topic", "groupId", "topic", "atMs" }   (the topic was deleted)
 * The latest record per group/topic/partition wins; the store is rebuilt by replaying the topic.
 */
type OffsetRecord =
  | { type: 'commit'; groupId: string; topic: string; partition: number; offset: number; memberId: string; atMs: number }
  | { type: 'reset'; groupId: string; topic: string; partition: number; offset: number; previousOffset: number; by: string; atMs: number }
  | { type: 'delete'; groupId: string; atMs: number }
  | { type: 'forget-topic'; groupId: string; topic: string; atMs: number };

/**
 * Committed offsets of every group, in memory, made durable in `__consumer_offsets` before a commit
 * is acknowledged, through the shared state log (storage/state-log.ts: the topic uses flush=always,
 * writes to one partition run one at a time and share fsyncs, replay skips records this store did not
 * write).
 *
 * Cleaning: when a partition of the topic has COMPACT_AT_SEGMENTS segments, the state log appends a
 * snapshot (the latest record of every group/topic/partition that maps to it) and deletes the
 * segments wholly below the snapshot. Replay reads the snapshot after anything older, so the state
 * is the same, and the topic stays bounded by the number of live keys, not by the number of commits.
 *
 * Partitions of __consumer_offsets whose log is damaged (found at startup or while replaying): the
 * offsets of the groups they hold are unknown, so those groups' fetches and writes fail with the
 * DataLossError (DATA_LOSS) instead of answering "nothing committed", which would send members to
 * auto.offset.reset and skip or replay records silently. Other groups work; the server starts.
 */
export class OffsetStore {
  private readonly offsets = new Map<string, Map<string, Map<number, CommittedOffset>>>();
  /** The latest record per key, so a snapshot can write it again as it was. */
  private readonly latest = new Map<string, OffsetRecord>();

  private constructor(
    private readonly log: StateLog<OffsetRecord>,
    private readonly nowMs: () => number,
  ) {}

  /** `segmentBytes` applies when the topic is created (tests use small segments to see compaction). */
  static async open(logs: OffsetLog, nowMs: () => number, logger: Logger, options: { segmentBytes?: number } = {}): Promise<OffsetStore> {
    const log = await StateLog.open<OffsetRecord>(logs, {
      topic: OFFSETS_TOPIC,
      partitionCount: OFFSETS_TOPIC_PARTITIONS,
      segmentBytes: options.segmentBytes ?? OFFSETS_SEGMENT_BYTES,
      // Records this store did not write (the topic was once open to clients) are skipped, not fatal:
      // one bad record must not keep the server from starting.
      parse: parseOffsetRecord,
      nowMs,
      logger,
      damageMeaning: 'the committed offsets of the groups this partition holds are unknown; their fetches and commits fail until an operator acts',
    });
    const store = new OffsetStore(log, nowMs);
    const { replayed } = await log.replay(store.apply);
    log.setSnapshotSource((partition) => store.snapshotOf(partition));
    logger.info({ groups: store.offsets.size, replayed }, 'committed offsets rebuilt from __consumer_offsets');
    return store;
  }

  groupIds(): string[] {
    return [...this.offsets.keys()].sort();
  }

  /** Committed offsets of a group: topic -> partition -> offset. */
  fetch(groupId: string, topics?: readonly string[]): Map<string, Map<number, CommittedOffset>> {
    const damage = this.log.damageOf(this.log.partitionOf(groupId));
    if (damage) throw damage;
    const group = this.offsets.get(groupId);
    const out = new Map<string, Map<number, CommittedOffset>>();
    if (!group) return out;
    for (const [topic, partitions] of group) if (!topics || topics.length === 0 || topics.includes(topic)) out.set(topic, new Map(partitions));
    return out;
  }

  /**
   * Every group with committed offsets of `topic`: partition -> offset, and whether the group's
   * partition of __consumer_offsets is damaged (its offsets may be older than what it committed).
   * Walks every group: for retention and cached overflow checks, not per record.
   */
  committedToTopic(topic: string): Array<{ groupId: string; offsets: ReadonlyMap<number, CommittedOffset>; isDamaged: boolean }> {
    const out: Array<{ groupId: string; offsets: ReadonlyMap<number, CommittedOffset>; isDamaged: boolean }> = [];
    for (const [groupId, topics] of this.offsets) {
      const offsets = topics.get(topic);
      if (offsets) out.push({ groupId, offsets, isDamaged: this.log.damageOf(this.log.partitionOf(groupId)) !== undefined });
    }
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

  /**
   * Forgets every group's offsets of a deleted topic, as Kafka does: a topic created again under the
   * same name starts empty, and an old offset inside its new range would skip its first records.
   */
  async forgetTopic(topic: string): Promise<void> {
    const atMs = this.nowMs();
    // Which groups hold the topic is read once the appends queued before this call are applied: a
    // commit validated before the delete and still being written is forgotten too. The groups' appends
    // queue together, so a partition takes them in one write (one fsync), not one per group.
    // A damaged partition takes no writes: its groups' offsets are unknown anyway.
    const partitions = [...Array(this.log.partitionCount).keys()].filter((partition) => !this.log.damageOf(partition));
    await Promise.all(
      partitions.map(async (partition) => {
        await this.log.settled(partition);
        const holders = this.groupIds().filter((groupId) => this.log.partitionOf(groupId) === partition && this.offsets.get(groupId)?.has(topic));
        await Promise.all(holders.map((groupId) => this.write(groupId, [{ type: 'forget-topic', groupId, topic, atMs }])));
      }),
    );
  }

  /** Flushes the writes queued, and refuses later ones. */
  close(): Promise<void> {
    return this.log.close();
  }

  /** Durable first (one batch), then applied. */
  private async write(groupId: string, records: OffsetRecord[]): Promise<void> {
    await this.log.append(groupId, records);
    for (const record of records) this.apply(record);
  }

  /** The latest record of every key of the groups in `partition`, a group's records together. */
  private snapshotOf(partition: number): Array<StateLogEntry<OffsetRecord>> {
    const byGroup = new Map<string, OffsetRecord[]>();
    for (const record of this.latest.values()) {
      if (this.log.partitionOf(record.groupId) !== partition) continue;
      let records = byGroup.get(record.groupId);
      if (!records) byGroup.set(record.groupId, (records = []));
      records.push(record);
    }
    return [...byGroup].map(([key, values]) => ({ key, values }));
  }

  private readonly apply = (record: OffsetRecord): void => {
    if (record.type === 'delete') {
      this.offsets.delete(record.groupId);
      for (const [k, r] of this.latest) if (r.groupId === record.groupId) this.latest.delete(k);
      return;
    }
    if (record.type === 'forget-topic') {
      const group = this.offsets.get(record.groupId);
      group?.delete(record.topic);
      if (group?.size === 0) this.offsets.delete(record.groupId);
      for (const [k, r] of this.latest) if (r.groupId === record.groupId && r.type !== 'delete' && r.type !== 'forget-topic' && r.topic === record.topic) this.latest.delete(k);
      return;
    }
    this.latest.set(`${record.groupId}\u0000${record.topic}\u0000${record.partition}`, record);
    let group = this.offsets.get(record.groupId);
    if (!group) this.offsets.set(record.groupId, (group = new Map()));
    let topic = group.get(record.topic);
    if (!topic) group.set(record.topic, (topic = new Map()));
    topic.set(record.partition, { offset: record.offset, committedAtMs: record.atMs, memberId: record.type === 'commit' ? record.memberId : record.by });
  };
}

const isText = (value: unknown): value is string => typeof value === 'string';
const isCount = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;

/** The record, or why it is not one this store writes. */
function parseOffsetRecord(text: string): OffsetRecord | string {
  const r = jsonObjectOf(text);
  if (typeof r === 'string') return r;
  if (!isText(r.groupId) || !Number.isFinite(r.atMs)) return 'not an offset record';
  if (r.type === 'delete') return r as OffsetRecord;
  if (r.type === 'forget-topic') return isText(r.topic) ? (r as OffsetRecord) : 'not an offset record';
  if (!isText(r.topic) || !isCount(r.partition) || !isCount(r.offset)) return 'not an offset record';
  if (r.type === 'commit' && isText(r.memberId)) return r as OffsetRecord;
  if (r.type === 'reset' && isText(r.by)) return r as OffsetRecord;
  return `unknown record type ${String(r.type)}`;
}
