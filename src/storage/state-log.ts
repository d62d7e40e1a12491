import { crc32 } from '@node-rs/crc32';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { assert } from '../core/assert.js';
import { BatchTooLargeError, CorruptBatchError, DataLossError, ShuttingDownError, StorageFailedError, TooManyPendingAppendsError, TopicAlreadyExistsError, TopicNotFoundError } from '../core/errors.js';
import { MAX_BATCH_BYTES_LIMIT, MAX_GROUP_COMMIT_BYTES, REPLAY_READ_BYTES } from '../core/limits.js';
import type { Logger } from '../core/logger.js';
import { BATCH_HEADER_BYTES } from '../format/record-batch-layout.js';
import { decodeRecordBatch, iterateBatches } from '../format/record-batch-codec.js';
import { encodeValues, packBatches, STATE_LOG_BATCH_TARGET_BYTES, takeBuffersUpTo, takeUpTo, type PendingAppend } from './state-log-batches.js';
import type { StateLogPort } from './state-log-port.js';

/** A partition of a state log is compacted once it has this many segments (and is worth it, see below). */
export const COMPACT_AT_SEGMENTS = 3;
/** Compaction runs once the partition holds this many times what its snapshot rewrites, so it never thrashes. */
export const COMPACT_AT_SNAPSHOT_MULTIPLE = 4;
export { STATE_LOG_BATCH_TARGET_BYTES };
/** The largest batch (max.message.bytes of a state topic): the largest single append, or snapshot value. */
export const STATE_LOG_MAX_BATCH_BYTES = 16 * 1024 * 1024;
/** Bytes handed to the partition log in one append (one writev, one fsync). */
export const STATE_LOG_MAX_WRITE_BYTES = 32 * 1024 * 1024;
/**
 * Writes of one partition handed to its log at once: the next takes what queued while the previous is
 * being fsynced (the log writes it beside that fsync and fsyncs it next), instead of waiting for it.
 */
export const STATE_LOG_WRITES_IN_FLIGHT = 2;
/** Bytes of appends queued behind a running write, per partition; past it appends are refused (retriable). */
export const STATE_LOG_MAX_QUEUED_BYTES = 128 * 1024 * 1024;
assert(STATE_LOG_BATCH_TARGET_BYTES <= STATE_LOG_MAX_BATCH_BYTES, 'a packed batch is within the batch limit');
assert(STATE_LOG_MAX_BATCH_BYTES <= MAX_BATCH_BYTES_LIMIT, 'the state topics take batches the storage accepts');
assert(STATE_LOG_MAX_BATCH_BYTES <= STATE_LOG_MAX_WRITE_BYTES && STATE_LOG_MAX_WRITE_BYTES <= MAX_GROUP_COMMIT_BYTES, 'the largest batch fits in one write, and a write in one group commit');

export interface StateLogOptions<T> {
  topic: string;
  /** Applies when the topic is created; an existing topic keeps its count. */
  partitionCount: number;
  /** Applies when the topic is created (tests use small segments to see compaction). */
  segmentBytes: number;
  /** A stored value (JSON text) back, or why it is not one this log writes; `key` is the record's key. */
  parse(text: string, key: string | null): T | string;
  /** Timestamps of the records written. */
  nowMs: () => number;
  logger: Logger;
  /** What a damaged partition costs, for the DATA LOSS line: "the committed offsets of the groups it holds are unknown". */
  damageMeaning: string;
  /**
   * When the owner applies what it appends, which decides where a snapshot goes (see the class
   * comment): false (default), once the append resolves; true, when it calls append.
   */
  isAppliedOnAppend?: boolean;
  /** Bytes of appends queued per partition at most (STATE_LOG_MAX_QUEUED_BYTES; tests set less). */
  maxQueuedBytes?: number;
}

/** Values under one key: kept in one batch when written (all or nothing), in order. */
export interface StateLogEntry<T> {
  key: string | null;
  values: readonly T[];
}

/**
 * A partition's live state for compaction: the entries whose replay, after anything older in the
 * partition, leaves the state as it is now (latest records, or a snapshot of each key). Called inside
 * the partition's write order, where the class comment says (it depends on `isAppliedOnAppend`).
 */
export type SnapshotSource<T> = (partition: number) => Array<StateLogEntry<T>>;

export interface ReplayResult {
  replayed: number;
  skipped: number;
  /** Partitions that could not be read to their end; the records before the damage were applied. */
  damagedPartitions: ReadonlyMap<number, DataLossError>;
}

/** One partition's write order: the appends waiting, the write running, when compaction is next worth a look. */
interface PartitionWrites {
  queue: PendingAppend[];
  queuedBytes: number;
  running: Promise<void> | undefined;
  /** Wakes the partition's writer (an append queued, or a write settled). */
  wake: (() => void) | undefined;
  nextCompactionCheckBytes: number;
  /** The latest append's promise (settled() waits for it). */
  lastAppend: Promise<void>;
  /** Keys with a write in flight, and how many (apply-on-append owners: one write per key at a time). */
  inFlightKeys: Map<string | null, number>;
}

/**
 * A keyed state log: JSON values in an internal topic (flush=always, kept forever), replayed in log
 * order per partition at startup, appended durably, compacted by snapshots. The offset store and the
 * queue state store keep their state in memory and this log on disk (schemas and ACLs are to follow).
 *
 * - Keys: a key's records go to one partition (crc32 of the key modulo the partition count), so they
 *   replay in the order written. Values are JSON (UTF-8) in the record value, the key in the key.
 * - Appends: `append(key, values)` resolves once the values are durable (fsynced), in one batch, so a
 *   crash keeps all of them or none. Writes to one partition are handed to its log in order, at most
 *   STATE_LOG_WRITES_IN_FLIGHT at once; appends that arrive meanwhile queue, and the next write takes
 *   all of them (up to STATE_LOG_MAX_WRITE_BYTES) in one partition append: one writev and one fsync
 *   shared (group commit). Appends resolve in the order made. A failed write rejects every append it
 *   held with the storage's error (and the log's failure handling may refuse the write after it too);
 *   nothing else changes; the next write tries again. For an owner that applies on append
 *   (`isAppliedOnAppend`), a key has one write in flight at a time, and after a failed write the
 *   key's queued and later appends are refused unwritten until a restart (failKeys): written, they
 *   would replay without the failed ones they followed.
 * - Compaction: after a write, once the partition has COMPACT_AT_SEGMENTS segments and holds
 *   COMPACT_AT_SNAPSHOT_MULTIPLE times what a snapshot rewrites, the owner's snapshot source gives the
 *   live state of the partition; it is appended (in batches of about STATE_LOG_BATCH_TARGET_BYTES; one
 *   key's values split only when they alone exceed that) and the segments wholly below it are deleted.
 *   Replay reads the snapshot after anything older, so the state is the same, and the partition stays
 *   bounded by its live state. The snapshot must sit in the log exactly after the appends it counts:
 *   - an owner that applies an append once it resolves (the offset store) does so right away, in its
 *     continuation: the snapshot is taken one event-loop turn after the write before it resolved, so
 *     it counts what that write made durable, and the appends queued meanwhile are written after it;
 *   - an owner that applies an append when it makes it (`isAppliedOnAppend`, the queue coordinator,
 *     so that it never hands a record out twice while the write runs) counts the queued appends too:
 *     the snapshot is taken at once, and what was queued is written first (a failure there drops the
 *     compaction; such an owner stops trusting its state after a failed append anyway).
 *   No other write runs between the snapshot and the cut. A crash in between leaves both the old
 *   records and (part of) the snapshot, which replays to the same state. A failed compaction is logged
 *   and tried again after a later write; it never fails the appends before it.
 * - Damage: replay stops at a partition that cannot be read on (DataLossError) and reports it; that
 *   partition's later appends are refused with that error, the other partitions work.
 * Concurrency: all methods from the event loop. `replay` before any `append`; `close` waits for the
 * writes queued, and refuses later appends (ShuttingDownError).
 */
export class StateLog<T> {
  private readonly writes = new Map<number, PartitionWrites>();
  private readonly damage = new Map<number, DataLossError>();
  /** Apply-on-append owners: keys a write failed for, refused until a restart (see failKeys). */
  private readonly failedKeys = new Map<string | null, StorageFailedError>();
  private snapshotSource: SnapshotSource<T> | undefined;
  private isClosing = false;

  private constructor(
    private readonly logs: StateLogPort,
    private readonly options: StateLogOptions<T>,
    readonly partitionCount: number,
  ) {}

  /** Creates the topic if it is missing (flush=always, retention -1); reads nothing yet (see replay). */
  static async open<T>(logs: StateLogPort, options: StateLogOptions<T>): Promise<StateLog<T>> {
    const { topic } = options;
    if (!logs.listTopics().includes(topic)) {
      const config = { flush: 'always', 'segment.bytes': String(options.segmentBytes), 'retention.ms': '-1', 'max.message.bytes': String(STATE_LOG_MAX_BATCH_BYTES) };
      try {
        await logs.createTopic(topic, options.partitionCount, config);
      } catch (error) {
        if (!(error instanceof TopicAlreadyExistsError)) throw error;
      }
    }
    // Clients may not delete or grow an internal topic (core/internal-topics.ts): the count is fixed.
    const partitionCount = logs.partitionCount(topic);
    if (partitionCount === undefined) throw new TopicNotFoundError(topic);
    return new StateLog(logs, options, partitionCount);
  }

  get topic(): string {
    return this.options.topic;
  }

  partitionOf(key: string): number {
    return crc32(key) % this.partitionCount;
  }

  /** The DataLossError of a partition found damaged by replay, if it is. */
  damageOf(partition: number): DataLossError | undefined {
    return this.damage.get(partition);
  }

  /** Set once, before appends; until then nothing is compacted. */
  setSnapshotSource(source: SnapshotSource<T>): void {
    assert(this.snapshotSource === undefined, `${this.topic}: the snapshot source is set once`);
    this.snapshotSource = source;
  }

  /**
   * Calls `apply` with every value in log order per partition, partition by partition. Records this
   * log did not write (undecodable batches, values that do not parse) are skipped, counted and logged
   * once; a partition that cannot be read on is reported (and logged) as damaged.
   */
  async replay(apply: (value: T, partition: number) => void): Promise<ReplayResult> {
    let replayed = 0;
    let skipped = 0;
    let firstSkipReason: string | undefined;
    const skip = (reason: string) => {
      skipped++;
      firstSkipReason ??= reason;
    };
    for (let partition = 0; partition < this.partitionCount; partition++) {
      try {
        replayed += await this.replayPartition(partition, apply, skip);
      } catch (error) {
        if (!(error instanceof DataLossError)) throw error;
        this.damage.set(partition, error);
        this.options.logger.error({ err: error, partition }, `DATA LOSS in ${this.topic}: ${this.options.damageMeaning}`);
      }
    }
    if (skipped > 0) this.options.logger.warn({ topic: this.topic, skipped, firstSkipReason }, `records of ${this.topic} that are not its state records were skipped`);
    return { replayed, skipped, damagedPartitions: new Map(this.damage) };
  }

  private async replayPartition(partition: number, apply: (value: T, partition: number) => void, skip: (reason: string) => void): Promise<number> {
    let replayed = 0;
    const log = this.logs.partition(this.topic, partition);
    let offset = log.logStartOffset;
    const endOffset = log.highWatermark;
    while (offset < endOffset) {
      const { batches, nextOffset } = await log.read(offset, REPLAY_READ_BYTES);
      if (batches.length === 0) break;
      const { positions, damage } = batchPositions(batches, this.topic, partition, offset);
      for (const position of positions) {
        let records;
        try {
          records = decodeRecordBatch(batches, position).records;
        } catch (error) {
          skip(`partition ${partition}: ${(error as Error).message}`);
          continue;
        }
        for (const record of records) {
          if (record.offset < offset || !record.value) continue;
          const parsed = this.options.parse(record.value.toString('utf8'), record.key === null ? null : record.key.toString('utf8'));
          if (typeof parsed === 'string') {
            skip(`partition ${partition} offset ${record.offset}: ${parsed}`);
            continue;
          }
          apply(parsed, partition);
          replayed++;
        }
      }
      if (damage) throw damage;
      assert(nextOffset > offset, `${this.topic}/${partition}: a read at ${offset} moves on`);
      offset = nextOffset;
    }
    return replayed;
  }

  /** Appends a key's values to the key's partition; see the class comment. */
  append(key: string, values: readonly T[]): Promise<void> {
    return this.appendTo(this.partitionOf(key), key, values);
  }

  /** Appends values to a chosen partition (a log of one partition may write keyless records). */
  appendTo(partition: number, key: string | null, values: readonly T[]): Promise<void> {
    if (values.length === 0) return Promise.resolve();
    try {
      assert(Number.isInteger(partition) && partition >= 0 && partition < this.partitionCount, `${this.topic}: partition ${partition} of ${this.partitionCount}`);
      if (this.isClosing) throw new ShuttingDownError(`${this.topic} is closing`);
      const damage = this.damage.get(partition);
      if (damage) throw damage;
      const failed = this.failedKeys.get(key);
      if (failed) throw failed;
      const { texts, bytes } = encodeValues(key, values);
      if (bytes + BATCH_HEADER_BYTES > STATE_LOG_MAX_BATCH_BYTES) throw new BatchTooLargeError(bytes + BATCH_HEADER_BYTES, STATE_LOG_MAX_BATCH_BYTES, `${values.length} values of ${this.topic} take up to ${bytes + BATCH_HEADER_BYTES} bytes, over the batch limit of ${STATE_LOG_MAX_BATCH_BYTES}`);
      const writes = this.writesOf(partition);
      if (writes.queuedBytes + bytes > (this.options.maxQueuedBytes ?? STATE_LOG_MAX_QUEUED_BYTES)) throw new TooManyPendingAppendsError(`${this.topic}/${partition} has ${writes.queuedBytes} bytes of appends queued: try again`);
      const appended = new Promise<void>((resolve, reject) => {
        writes.queue.push({ key, texts, bytes, resolve, reject });
        writes.queuedBytes += bytes;
        this.startWriting(partition, writes);
      });
      writes.lastAppend = appended;
      return appended;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Resolves once every append made to `partition` before this call has settled (resolved or failed)
   * and its caller has had a turn to apply it: for a write computed from state those appends change.
   */
  async settled(partition: number): Promise<void> {
    await this.writes.get(partition)?.lastAppend.catch(() => undefined);
    await nextTurn();
  }

  /** Refuses new appends and resolves once every queued one is written (or failed) and compaction is done. */
  async close(): Promise<void> {
    this.isClosing = true;
    await this.idle();
  }

  /** Resolves once no write runs in any partition: every queued append settled, a compaction due after them done. */
  async idle(): Promise<void> {
    for (;;) {
      const running = [...this.writes.values()].map((w) => w.running).filter((r) => r !== undefined);
      if (running.length === 0) return;
      await Promise.all(running);
    }
  }

  private writesOf(partition: number): PartitionWrites {
    let writes = this.writes.get(partition);
    if (!writes) this.writes.set(partition, (writes = { queue: [], queuedBytes: 0, running: undefined, wake: undefined, nextCompactionCheckBytes: 0, lastAppend: Promise.resolve(), inFlightKeys: new Map() }));
    return writes;
  }

  private startWriting(partition: number, writes: PartitionWrites): void {
    if (writes.running) {
      writes.wake?.();
      return;
    }
    writes.running = this.writeQueued(partition, writes).finally(() => {
      writes.running = undefined;
      if (writes.queue.length > 0) this.startWriting(partition, writes);
    });
  }

  /**
   * The partition's one writer: takes what queued into a write, up to STATE_LOG_WRITES_IN_FLIGHT
   * writes at once, and compacts when due with no write in flight (a snapshot must follow every
   * append it counts, see the class comment); never rejects.
   */
  private async writeQueued(partition: number, writes: PartitionWrites): Promise<void> {
    const inFlight = new Set<Promise<boolean>>();
    let isCompactionDue = false;
    while (writes.queue.length > 0 || inFlight.size > 0 || isCompactionDue) {
      if (isCompactionDue && inFlight.size === 0) {
        isCompactionDue = false;
        try {
          await this.compactIfDue(partition, writes);
        } catch (error) {
          this.options.logger.warn({ err: error, topic: this.topic, partition }, `compacting ${this.topic} failed; tried again after a later write`);
        }
        continue;
      }
      if (!isCompactionDue && writes.queue.length > 0 && inFlight.size < STATE_LOG_WRITES_IN_FLIGHT) {
        const taken = this.options.isAppliedOnAppend ? takeUpTo(writes.queue, STATE_LOG_MAX_WRITE_BYTES, (key) => writes.inFlightKeys.has(key)) : takeUpTo(writes.queue, STATE_LOG_MAX_WRITE_BYTES);
        if (taken.length === 0) {
          // Everything queued waits for a key's write in flight.
          await new Promise<void>((resolve) => (writes.wake = resolve));
          writes.wake = undefined;
          continue;
        }
        const write = this.writeTaken(partition, writes, taken);
        inFlight.add(write);
        void write.then((isLanded) => {
          inFlight.delete(write);
          if (isLanded && this.isCompactionWorthChecking(partition, writes)) isCompactionDue = true;
          writes.wake?.();
        });
        continue;
      }
      await new Promise<void>((resolve) => (writes.wake = resolve));
      writes.wake = undefined;
    }
  }

  /** The cheap half of compactIfDue's test: enough segments, and grown since the last look. */
  private isCompactionWorthChecking(partition: number, writes: PartitionWrites): boolean {
    if (!this.snapshotSource) return false;
    try {
      const log = this.logs.partition(this.topic, partition);
      return log.segmentCount >= COMPACT_AT_SEGMENTS && log.sizeBytes >= writes.nextCompactionCheckBytes;
    } catch {
      return false; // no such partition now: the next write says why
    }
  }

  /** Writes appends taken from the queue in one partition append; settles each; whether they landed. */
  private async writeTaken(partition: number, writes: PartitionWrites, taken: PendingAppend[]): Promise<boolean> {
    for (const append of taken) {
      writes.queuedBytes -= append.bytes;
      writes.inFlightKeys.set(append.key, (writes.inFlightKeys.get(append.key) ?? 0) + 1);
    }
    try {
      const log = this.logs.partition(this.topic, partition);
      await log.append(Buffer.concat(packBatches(taken, { splitEntries: false, timestampMs: this.options.nowMs() })), { ackLevel: 'durable' });
    } catch (error) {
      if (this.options.isAppliedOnAppend) this.failKeys(partition, writes, taken, error);
      for (const append of taken) append.reject(error);
      return false;
    } finally {
      for (const append of taken) {
        const count = writes.inFlightKeys.get(append.key)! - 1;
        if (count === 0) writes.inFlightKeys.delete(append.key);
        else writes.inFlightKeys.set(append.key, count);
      }
    }
    for (const append of taken) append.resolve();
    return true;
  }

  /**
   * After a failed write, for an owner that applied its appends when it made them: its memory of
   * those keys is ahead of the log, and any later append of them, written, would replay without the
   * failed ones before it (a release of a record whose acquisition was lost). So the appends of those
   * keys still queued fail with the same error, unwritten, and so does every later one until the
   * process restarts and replays what is durable (the queue coordinator stops such a group anyway).
   */
  private failKeys(partition: number, writes: PartitionWrites, taken: readonly PendingAppend[], error: unknown): void {
    const cause = error instanceof Error ? error.message : String(error);
    for (const append of taken) this.failedKeys.set(append.key, new StorageFailedError(`an earlier write of ${this.topic}/${partition} for key '${append.key}' failed (${cause}): its later appends are refused until a restart`, { cause: error }));
    const left: PendingAppend[] = [];
    for (const append of writes.queue) {
      if (this.failedKeys.has(append.key)) {
        writes.queuedBytes -= append.bytes;
        append.reject(this.failedKeys.get(append.key));
      } else {
        left.push(append);
      }
    }
    writes.queue.splice(0, writes.queue.length, ...left);
  }

  /** Snapshot, then cut: see the class comment. Runs inside the partition's write order. */
  private async compactIfDue(partition: number, writes: PartitionWrites): Promise<void> {
    const source = this.snapshotSource;
    if (!source) return;
    const log = this.logs.partition(this.topic, partition);
    if (log.segmentCount < COMPACT_AT_SEGMENTS || log.sizeBytes < writes.nextCompactionCheckBytes) return;
    // Owners that apply on resolution do so in their continuations, which run before the next turn.
    if (!this.options.isAppliedOnAppend) await nextTurn();
    // Should the source fail (an owner that cannot vouch for its state until a restart), it is asked
    // again once the partition grew by another batch's worth, not at every write.
    writes.nextCompactionCheckBytes = log.sizeBytes + STATE_LOG_BATCH_TARGET_BYTES;
    const entries = source(partition).map(({ key, values }) => ({ key, ...encodeValues(key, values) }));
    let snapshotBytes = 0;
    for (const entry of entries) snapshotBytes += entry.bytes;
    // Looked at again once the partition has grown by another snapshot's worth: amortized, a check
    // costs a constant per byte appended.
    writes.nextCompactionCheckBytes = log.sizeBytes + snapshotBytes;
    if (log.sizeBytes < COMPACT_AT_SNAPSHOT_MULTIPLE * snapshotBytes) return;
    if (this.options.isAppliedOnAppend) {
      // The snapshot counts the appends queued now (their owner applied them when appending): they go
      // ahead of it, and if they fail, so does this compaction. Later appends queue behind it.
      const queued = writes.queue.splice(0);
      while (queued.length > 0) {
        if (await this.writeTaken(partition, writes, takeUpTo(queued, STATE_LOG_MAX_WRITE_BYTES))) continue;
        // Those a failed write did not take go back to the head of the queue (still counted in
        // queuedBytes): the writer takes them next, as any append behind a failed write; those of
        // the keys it failed fail with it, unwritten (failKeys).
        writes.queue.unshift(...queued);
        this.failKeys(partition, writes, [], undefined);
        return;
      }
    }
    const snapshotOffset = log.logEndOffset;
    const batches = packBatches(entries, { splitEntries: true, timestampMs: this.options.nowMs() });
    for (const write of takeBuffersUpTo(batches, STATE_LOG_MAX_WRITE_BYTES)) await log.append(Buffer.concat(write), { ackLevel: 'durable' });
    const sizeBeforeBytes = log.sizeBytes;
    await log.deleteSegmentsBelow(snapshotOffset);
    writes.nextCompactionCheckBytes = log.sizeBytes + snapshotBytes;
    this.options.logger.debug({ topic: this.topic, partition, keys: entries.length, snapshotBytes, sizeBeforeBytes, sizeAfterBytes: log.sizeBytes }, `compacted ${this.topic}`);
  }
}

/**
 * Where each batch of a read starts, and the damage after them: a header that cannot be a batch, which
 * the startup walk would have cut or refused (the batches before it are still applied).
 */
function batchPositions(batches: Buffer, topic: string, partition: number, offset: number): { positions: number[]; damage: DataLossError | undefined } {
  const positions: number[] = [];
  try {
    for (const { position } of iterateBatches(batches)) positions.push(position);
  } catch (error) {
    if (!(error instanceof CorruptBatchError)) throw error;
    return { positions, damage: new DataLossError(topic, partition, offset, offset, '(read)', 0, error.message) };
  }
  return { positions, damage: undefined };
}
