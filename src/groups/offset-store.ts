import { crc32 } from '@node-rs/crc32';
import { DataLossError, InvalidArgumentError, TopicAlreadyExistsError, TopicNotFoundError } from '../core/errors.js';
import { OFFSETS_TOPIC } from '../core/internal-topics.js';
import { REPLAY_READ_BYTES } from '../core/limits.js';
import type { Logger } from '../core/logger.js';
import { decodeRecordBatch, encodeRecordBatch, iterateBatches } from '../format/record-batch-codec.js';
import type { OffsetLog } from './offset-log.js';

export { OFFSETS_TOPIC };
export const OFFSETS_TOPIC_PARTITIONS = 8;
export const OFFSETS_SEGMENT_BYTES = 4 * 1024 * 1024;
/** A partition of the offsets topic is compacted once it has this many segments. */
export const COMPACT_AT_SEGMENTS = 3;
const SNAPSHOT_RECORD_BYTES_ESTIMATE = 200;

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
 * is acknowledged (the topic uses flush=always).
 *
 * Cleaning: when a partition of the topic has COMPACT_AT_SEGMENTS segments, the store appends a
 * snapshot (the latest record of every group/topic/partition that maps to it) and deletes the
 * segments wholly below the snapshot. Replay reads the snapshot after anything older, so the state
 * is the same, and the topic stays bounded by the number of live keys, not by the number of commits.
 * Writes to one partition are serialized, so no commit can land between a snapshot and its cut.
 */
export class OffsetStore {
  private readonly offsets = new Map<string, Map<string, Map<number, CommittedOffset>>>();
  /** The latest record per key, so a snapshot can write it again as it was. */
  private readonly latest = new Map<string, OffsetRecord>();
  /** One write at a time per partition of the offsets topic. */
  private readonly writeChains = new Map<number, Promise<void>>();
  /**
   * Partitions of __consumer_offsets whose log is damaged (found at startup or while replaying): the
   * offsets of the groups they hold are unknown, so those groups' fetches and writes fail with the
   * DataLossError (DATA_LOSS) instead of answering "nothing committed", which would send members to
   * auto.offset.reset and skip or replay records silently. Other groups work; the server starts.
   */
  private readonly damagedPartitions = new Map<number, DataLossError>();

  private constructor(
    private readonly logs: OffsetLog,
    private readonly nowMs: () => number,
  ) {}

  /** `segmentBytes` applies when the topic is created (tests use small segments to see compaction). */
  static async open(logs: OffsetLog, nowMs: () => number, logger: Logger, options: { segmentBytes?: number } = {}): Promise<OffsetStore> {
    const store = new OffsetStore(logs, nowMs);
    if (!logs.listTopics().includes(OFFSETS_TOPIC)) {
      try {
        const segmentBytes = String(options.segmentBytes ?? OFFSETS_SEGMENT_BYTES);
        await logs.createTopic(OFFSETS_TOPIC, OFFSETS_TOPIC_PARTITIONS, { flush: 'always', 'segment.bytes': segmentBytes, 'retention.ms': '-1' });
      } catch (error) {
        if (!(error instanceof TopicAlreadyExistsError)) throw error;
      }
    }
    let replayed = 0;
    // Records this store did not write (the topic was once open to clients) are skipped, not fatal:
    // one bad record must not keep the server from starting.
    let skipped = 0;
    let firstSkipReason: string | undefined;
    const skip = (reason: string) => {
      skipped++;
      firstSkipReason ??= reason;
    };
    const partitionCount = store.partitionCount();
    for (let partition = 0; partition < partitionCount; partition++) {
      try {
        replayed += await store.replayPartition(partition, skip);
      } catch (error) {
        if (!(error instanceof DataLossError)) throw error;
        store.damagedPartitions.set(partition, error);
        logger.error({ err: error, partition }, `DATA LOSS in ${OFFSETS_TOPIC}: the committed offsets of the groups this partition holds are unknown; their fetches and commits fail until an operator acts`);
      }
    }
    if (skipped > 0) logger.warn({ skipped, firstSkipReason }, 'records of __consumer_offsets that are not offset records were skipped');
    logger.info({ groups: store.offsets.size, replayed }, 'committed offsets rebuilt from __consumer_offsets');
    return store;
  }

  /** Applies one partition's records in log order; returns how many were applied. */
  private async replayPartition(partition: number, skip: (reason: string) => void): Promise<number> {
    let replayed = 0;
    const log = this.logs.partition(OFFSETS_TOPIC, partition);
    let offset = log.logStartOffset;
    while (offset < log.highWatermark) {
      const { batches, nextOffset } = await log.read(offset, REPLAY_READ_BYTES);
      if (batches.length === 0) break;
      for (const { position } of iterateBatches(batches)) {
        let records;
        try {
          records = decodeRecordBatch(batches, position).records;
        } catch (error) {
          skip(`partition ${partition}: ${(error as Error).message}`);
          continue;
        }
        for (const record of records) {
          if (record.offset < offset || !record.value) continue;
          const parsed = parseOffsetRecord(record.value.toString('utf8'));
          if (typeof parsed === 'string') {
            skip(`partition ${partition} offset ${record.offset}: ${parsed}`);
            continue;
          }
          this.apply(parsed);
          replayed++;
        }
      }
      offset = nextOffset;
    }
    return replayed;
  }

  groupIds(): string[] {
    return [...this.offsets.keys()].sort();
  }

  /** Committed offsets of a group: topic -> partition -> offset. */
  fetch(groupId: string, topics?: readonly string[]): Map<string, Map<number, CommittedOffset>> {
    this.checkIntact(this.partitionOf(groupId));
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

  /**
   * Forgets every group's offsets of a deleted topic, as Kafka does: a topic created again under the
   * same name starts empty, and an old offset inside its new range would skip its first records.
   */
  async forgetTopic(topic: string): Promise<void> {
    const atMs = this.nowMs();
    // One write per partition of the offsets topic (in batches of 1,000), not an fsync per group. Which
    // groups hold the topic is read when the partition's write chain gets there: a commit validated
    // before the delete and still being written is applied by then, and forgotten too.
    // A damaged partition takes no writes: its groups' offsets are unknown anyway.
    const partitions = [...Array(this.partitionCount()).keys()].filter((partition) => !this.damagedPartitions.has(partition));
    await Promise.all(
      partitions.map((partition) =>
        this.writeTo(partition, () => {
          const records: OffsetRecord[] = [];
          for (const groupId of this.groupIds()) {
            if (this.partitionOf(groupId) === partition && this.offsets.get(groupId)?.has(topic)) records.push({ type: 'forget-topic', groupId, topic, atMs });
          }
          return records;
        }),
      ),
    );
  }

  private write(groupId: string, records: OffsetRecord[]): Promise<void> {
    return this.writeTo(this.partitionOf(groupId), records);
  }

  /**
   * Appends records of groups that all map to `partition`, in that partition's write order. Records
   * given as a function are made when the earlier writes are done (nothing to write: no append).
   */
  private writeTo(partition: number, recordsOrLater: OffsetRecord[] | (() => OffsetRecord[])): Promise<void> {
    if (Array.isArray(recordsOrLater) && recordsOrLater.length === 0) return Promise.resolve();
    const damage = this.damagedPartitions.get(partition);
    if (damage) return Promise.reject(damage);
    const previous = this.writeChains.get(partition) ?? Promise.resolve();
    const written = previous.then(async () => {
      // A request's records in one batch (all or nothing); forgotten topics' in slices of 1,000, so
      // that no batch comes near the topic's batch size limit.
      const slices = Array.isArray(recordsOrLater) ? [recordsOrLater] : sliced(recordsOrLater(), 1_000);
      for (const records of slices) {
        await this.append(partition, records);
        for (const record of records) this.apply(record);
      }
      if (slices.length > 0) await this.compactIfDue(partition);
    });
    this.writeChains.set(partition, written.catch(() => undefined));
    return written;
  }

  private checkIntact(partition: number): void {
    const damage = this.damagedPartitions.get(partition);
    if (damage) throw damage;
  }

  private partitionOf(groupId: string): number {
    return crc32(groupId) % this.partitionCount();
  }

  /** The offsets topic's partition count: clients may not delete or grow it (core/internal-topics.ts). */
  private partitionCount(): number {
    const count = this.logs.partitionCount(OFFSETS_TOPIC);
    if (count === undefined) throw new TopicNotFoundError(OFFSETS_TOPIC);
    return count;
  }

  private async append(partition: number, records: readonly OffsetRecord[]): Promise<void> {
    const batch = encodeRecordBatch(records.map((r) => ({ key: r.groupId, value: JSON.stringify(r), timestampMs: r.atMs })));
    await this.logs.partition(OFFSETS_TOPIC, partition).append(batch, { ackLevel: 'durable' });
  }

  /** Snapshot, then cut: see the class comment. Runs inside the partition's write chain. */
  private async compactIfDue(partition: number): Promise<void> {
    const log = this.logs.partition(OFFSETS_TOPIC, partition);
    if (log.segmentCount < COMPACT_AT_SEGMENTS) return;
    const snapshot = [...this.latest.values()].filter((r) => this.partitionOf(r.groupId) === partition);
    // Only when the log is well beyond what a snapshot rewrites, so compaction never thrashes.
    if (log.sizeBytes < 4 * snapshot.length * SNAPSHOT_RECORD_BYTES_ESTIMATE) return;
    const snapshotOffset = log.logEndOffset;
    // In slices, so that no batch comes near the topic's batch size limit.
    for (let i = 0; i < snapshot.length; i += 1_000) await this.append(partition, snapshot.slice(i, i + 1_000));
    await log.deleteSegmentsBelow(snapshotOffset);
  }

  private apply(record: OffsetRecord): void {
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
  }
}

function sliced<T>(items: readonly T[], size: number): T[][] {
  const slices: T[][] = [];
  for (let i = 0; i < items.length; i += size) slices.push(items.slice(i, i + size));
  return slices;
}

const isText = (value: unknown): value is string => typeof value === 'string';
const isCount = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;

/** The record, or why it is not one this store writes. */
function parseOffsetRecord(text: string): OffsetRecord | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 'not JSON';
  }
  const r = value as Record<string, unknown>;
  if (typeof value !== 'object' || value === null || !isText(r.groupId) || !Number.isFinite(r.atMs)) return 'not an offset record';
  if (r.type === 'delete') return value as OffsetRecord;
  if (r.type === 'forget-topic') return isText(r.topic) ? (value as OffsetRecord) : 'not an offset record';
  if (!isText(r.topic) || !isCount(r.partition) || !isCount(r.offset)) return 'not an offset record';
  if (r.type === 'commit' && isText(r.memberId)) return value as OffsetRecord;
  if (r.type === 'reset' && isText(r.by)) return value as OffsetRecord;
  return `unknown record type ${String(r.type)}`;
}
