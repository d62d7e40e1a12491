import { AssertionError, assert } from '../core/assert.js';
import { MAX_QUEUE_TRACKED_RECORDS_PER_PARTITION } from '../core/limits.js';
import { KeyOrderIndex } from './key-order-index.js';
import type { QueueStateChange } from './queue-state-changes.js';
import { type HeldBatchLimits, type WindowBatch, WindowBatches } from './window-batches.js';

export type { WindowBatch } from './window-batches.js';

export type QueueRecordState = 'available' | 'acquired' | 'done';

export interface TrackedRecord {
  readonly state: QueueRecordState;
  readonly deliveryCount: number;
  /** acquired: the lock deadline; available: when it may be handed out again (0: at once). ms since the epoch. */
  readonly deadlineMs: number;
  /** acquired: its holder ('' otherwise). */
  readonly memberId: string;
  /** The last error text a member gave (release or reject reason), for the dead-letter headers. */
  readonly lastError: string;
}

/** A record in the window that no change named: available at once, never delivered. */
const UNTOUCHED: TrackedRecord = Object.freeze({ state: 'available', deliveryCount: 0, deadlineMs: 0, memberId: '', lastError: '' });

/** What the owning group learns from a partition's changes: who holds how many records, and when its timer must fire. */
export interface PartitionQueueOwner {
  held(memberId: string, delta: number): void;
  deadlineAt(deadlineMs: number): void;
}

type PartitionChange = Extract<QueueStateChange, { type: 'acquire' | 'extend' | 'ack' | 'release' | 'archive' | 'snapshot' | 'reset' }>;

/**
 * One queue group's state in one partition: the start offset (everything below it is done) and the
 * records above it. Two layers:
 * - durable state, changed only by apply() (live and at replay, the same code): per record its state,
 *   delivery count, deadline, holder and last error, for every record a change named; the counters.
 * - the window, in memory, rebuilt from the log after a restart: [startOffset, fetchOffset) read from
 *   the log, with each record's key (key-ordered groups) and the batches that hold them. Records of the
 *   window no change named are available and were never delivered. At most
 *   MAX_QUEUE_TRACKED_RECORDS_PER_PARTITION records wide (Kafka's share-partition record lock limit):
 *   a window full of unanswered records stops reading this partition, not others.
 * Offsets are contiguous in a Strata log (no compaction, no control batches), so a batch header names
 * every record it holds.
 */
export class PartitionQueue {
  startOffset: number;
  /** Exclusive end of the window: records below it (and at or above startOffset) were read from the log. */
  fetchOffset: number;
  /** Bumped whenever the window is dropped or cut, so a log read that began before knows to discard its result. */
  generation = 0;
  deadLettered = 0;
  redeliveries = 0;
  /** Records retention removed before they were done (in memory: since this process started). */
  skipped = 0;
  private readonly tracked = new Map<number, TrackedRecord>();
  /** Key-ordered groups: the window records' keys and which of them may go out (filled only when keys are read). */
  private readonly keyOrder = new KeyOrderIndex();
  /** The stored batches the window was read from, with their bytes while the bounds allow (what deliveries send). */
  private readonly batches: WindowBatches;
  /**
   * No record below this offset (and at or above the start) is available: an unordered scan starts
   * here instead of at the start, so a window full of acquired records costs nothing per pump. It may
   * lag behind (point at a record acquired since); it is never above an available record.
   */
  private availableFromOffset: number;
  /** Records being dead-lettered now (0), or whose dead-letter append failed and is retried at the time given. In memory. */
  private readonly deadLettering = new Map<number, number>();

  constructor(
    readonly topic: string,
    readonly partition: number,
    startOffset: number,
    private readonly owner: PartitionQueueOwner,
    heldBatches?: HeldBatchLimits,
  ) {
    this.batches = new WindowBatches(heldBatches);
    this.startOffset = startOffset;
    this.fetchOffset = startOffset;
    this.availableFromOffset = startOffset;
  }

  /** The record at `offset` if it is tracked or in the window; undefined below the start (done) or past the window. */
  get(offset: number): TrackedRecord | undefined {
    if (offset < this.startOffset) return undefined;
    return this.tracked.get(offset) ?? (offset < this.fetchOffset ? UNTOUCHED : undefined);
  }

  /**
   * Applies one durable change of this partition (see QueueStateChange). Changes refer only to records
   * a live coordinator saw. (Its checks throw AssertionError directly rather than call assert(): they
   * run per record, and assert() would build every message, failing or not.)
   */
  apply(change: PartitionChange): void {
    switch (change.type) {
      case 'acquire':
        for (const offset of change.offsets) {
          const record = this.current(offset);
          if (record.state !== 'available') throw new AssertionError(`acquire of ${this.describe(offset)} in state ${record.state}`);
          if (record.deliveryCount > 0) this.redeliveries++;
          this.tracked.set(offset, { state: 'acquired', deliveryCount: record.deliveryCount + 1, deadlineMs: change.lockDeadlineMs, memberId: change.memberId, lastError: record.lastError });
          this.owner.held(change.memberId, 1);
          this.keyOrder.onAcquired(offset);
        }
        this.owner.deadlineAt(change.lockDeadlineMs);
        return;
      case 'extend':
        for (const offset of change.offsets) {
          const record = this.current(offset);
          if (record.state !== 'acquired') throw new AssertionError(`extend of ${this.describe(offset)} in state ${record.state}`);
          this.tracked.set(offset, { ...record, deadlineMs: change.lockDeadlineMs });
        }
        this.owner.deadlineAt(change.lockDeadlineMs);
        return;
      case 'ack':
      case 'archive':
        for (const offset of change.offsets) {
          // Below the start it is done already: a change replayed over a snapshot that includes it.
          if (offset < this.startOffset) continue;
          const record = this.current(offset);
          if (record.state === 'done') throw new AssertionError(`${change.type} of ${this.describe(offset)}, which is done`);
          if (record.state === 'acquired') this.owner.held(record.memberId, -1);
          // At-most-once acks an available record as it hands it out: that is a delivery too.
          const deliveryCount = record.state === 'available' ? record.deliveryCount + 1 : record.deliveryCount;
          this.tracked.set(offset, { state: 'done', deliveryCount, deadlineMs: 0, memberId: '', lastError: record.lastError });
          this.deadLettering.delete(offset);
          if (change.type === 'archive') this.deadLettered++;
          this.batches.onDone(offset);
          this.keyOrder.onDone(offset, (next) => (this.tracked.get(next) ?? UNTOUCHED).state === 'available');
        }
        this.advanceStart();
        return;
      case 'release':
        assert(change.eligibleAtMs.length === change.offsets.length, 'a release names an eligible time per offset');
        change.offsets.forEach((offset, i) => {
          const record = this.current(offset);
          if (record.state !== 'acquired') throw new AssertionError(`release of ${this.describe(offset)} in state ${record.state}`);
          this.owner.held(record.memberId, -1);
          const eligibleAtMs = change.eligibleAtMs[i]!;
          this.tracked.set(offset, { state: 'available', deliveryCount: record.deliveryCount, deadlineMs: eligibleAtMs, memberId: '', lastError: change.reason ?? record.lastError });
          this.deadLettering.delete(offset);
          this.owner.deadlineAt(eligibleAtMs);
          if (offset < this.availableFromOffset) this.availableFromOffset = offset;
          this.keyOrder.onAvailable(offset);
        });
        return;
      case 'snapshot':
        this.clear(change.startOffset);
        this.deadLettered = change.counters.deadLettered;
        this.redeliveries = change.counters.redeliveries;
        for (const [offset, state, deliveryCount, deadlineMs, memberId, lastError] of change.records) {
          if (offset < this.startOffset) continue;
          this.tracked.set(offset, { state, deliveryCount, deadlineMs, memberId, lastError });
          if (state === 'acquired') this.owner.held(memberId, 1);
          if (state !== 'done' && deadlineMs > 0) this.owner.deadlineAt(deadlineMs);
        }
        this.advanceStart();
        return;
      case 'reset':
        this.clear(change.startOffset);
        this.deadLettered = 0;
        this.redeliveries = 0;
        this.skipped = 0;
        return;
    }
  }

  /** The 'snapshot' change that rebuilds this partition's durable state by itself (state topic compaction). */
  snapshot(groupId: string, atMs: number): Extract<QueueStateChange, { type: 'snapshot' }> {
    const records: Array<[number, QueueRecordState, number, number, string, string]> = [];
    for (const [offset, r] of [...this.tracked].sort((a, b) => a[0] - b[0])) records.push([offset, r.state, r.deliveryCount, r.deadlineMs, r.memberId, r.lastError]);
    return {
      type: 'snapshot', groupId, topic: this.topic, partition: this.partition, startOffset: this.startOffset, records,
      counters: { deadLettered: this.deadLettered, redeliveries: this.redeliveries }, atMs,
    };
  }

  /**
   * Up to `maxCount` window records that may be handed out now, in offset order: available, eligible
   * (their backoff passed), not being dead-lettered, and in key order (`isKeyOrdered`) with no earlier
   * record of their key that is not done; at most one per key then, since taking it blocks the next.
   */
  acquirable(nowMs: number, isKeyOrdered: boolean, maxCount: number): number[] {
    const out: number[] = [];
    const isEligible = (offset: number, record: TrackedRecord) => record.state === 'available' && record.deadlineMs <= nowMs && !this.deadLettering.has(offset);
    if (isKeyOrdered) {
      for (const offset of this.keyOrder.ready()) {
        if (out.length >= maxCount) break;
        if (isEligible(offset, this.tracked.get(offset) ?? UNTOUCHED)) out.push(offset);
      }
      return out;
    }
    let firstAvailable: number | undefined;
    let offset = Math.max(this.startOffset, this.availableFromOffset);
    for (; offset < this.fetchOffset && out.length < maxCount; offset++) {
      const record = this.tracked.get(offset) ?? UNTOUCHED;
      if (record.state !== 'available') continue;
      firstAvailable ??= offset;
      if (isEligible(offset, record)) out.push(offset);
    }
    this.availableFromOffset = firstAvailable ?? offset;
    return out;
  }


  /** Acquired records whose lock ended by `nowMs`, not being dead-lettered now (or whose dead-letter retry is due). */
  expired(nowMs: number): number[] {
    const out: number[] = [];
    for (const [offset, record] of this.tracked) {
      if (record.state !== 'acquired' || record.deadlineMs > nowMs) continue;
      const retryAtMs = this.deadLettering.get(offset);
      if (retryAtMs === undefined || (retryAtMs > 0 && retryAtMs <= nowMs)) out.push(offset);
    }
    return out.sort((a, b) => a - b);
  }

  /** Records `memberId` holds, not being dead-lettered now. */
  heldBy(memberId: string): number[] {
    const out: number[] = [];
    for (const [offset, record] of this.tracked) if (record.state === 'acquired' && record.memberId === memberId && this.deadLettering.get(offset) !== 0) out.push(offset);
    return out.sort((a, b) => a - b);
  }

  /** The earliest deadline after `nowMs` (a lock, a backoff, a dead-letter retry), or +Infinity. */
  nextDeadlineMs(nowMs: number): number {
    let earliest = Number.POSITIVE_INFINITY;
    for (const [offset, record] of this.tracked) {
      if (record.state === 'done') continue;
      let dueMs = record.deadlineMs;
      const retryAtMs = this.deadLettering.get(offset);
      if (retryAtMs !== undefined) dueMs = retryAtMs === 0 ? Number.POSITIVE_INFINITY : Math.max(dueMs, retryAtMs);
      if (dueMs > nowMs && dueMs < earliest) earliest = dueMs;
    }
    return earliest;
  }

  isDeadLettering(offset: number): boolean {
    return this.deadLettering.get(offset) === 0;
  }

  /** Marks records as being dead-lettered (no answer, expiry or leave touches them until it ends). */
  beginDeadLetter(offsets: readonly number[]): void {
    for (const offset of offsets) this.deadLettering.set(offset, 0);
  }

  /** A failed dead-letter append: the records stay as they are; an expired one is tried again at `retryAtMs`. */
  failDeadLetter(offsets: readonly number[], retryAtMs: number): void {
    for (const offset of offsets) if (this.deadLettering.has(offset)) this.deadLettering.set(offset, retryAtMs);
    this.owner.deadlineAt(retryAtMs);
  }

  /** Counts for describe: records acquired, waiting for their backoff, and done above the start. */
  counts(nowMs: number): { inFlight: number; waitingForRetry: number; done: number } {
    let inFlight = 0;
    let waitingForRetry = 0;
    let done = 0;
    for (const record of this.tracked.values()) {
      if (record.state === 'acquired') inFlight++;
      else if (record.state === 'done') done++;
      else if (record.deadlineMs > nowMs) waitingForRetry++;
    }
    return { inFlight, waitingForRetry, done };
  }

  /**
   * Whether a log read is worth it now: the window has a quarter of its room free, or (unordered) no
   * record in it is available any more. Reading for every few records answered would read the same
   * bytes over and over.
   */
  wantsRecords(): boolean {
    const room = this.windowRoom();
    return room > 0 && (room >= MAX_QUEUE_TRACKED_RECORDS_PER_PARTITION / 4 || this.availableFromOffset >= this.fetchOffset);
  }

  /** Records the window may still take. */
  windowRoom(): number {
    return MAX_QUEUE_TRACKED_RECORDS_PER_PARTITION - (this.fetchOffset - this.startOffset);
  }

  /**
   * Adds a batch read from the log at the window's end: its records from fetchOffset on, at most the
   * window's room; `keys` (key-ordered groups) by offset; `bytes` (the stored batch) to hold for its
   * deliveries. Returns how many records it took.
   */
  addBatch(batch: Omit<WindowBatch, 'bytes'>, keys?: ReadonlyMap<number, Buffer | null>, bytes?: Buffer): number {
    if (batch.lastOffset < this.fetchOffset) return 0;
    if (batch.baseOffset > this.fetchOffset) throw new AssertionError(`${this.describe(this.fetchOffset)}: the log skipped offsets [${this.fetchOffset}, ${batch.baseOffset})`);
    const endOffset = Math.min(batch.lastOffset + 1, this.fetchOffset + this.windowRoom());
    const taken = endOffset - this.fetchOffset;
    if (taken <= 0) return 0;
    let notDone = 0;
    for (let offset = this.fetchOffset; offset < endOffset; offset++) {
      const state = (this.tracked.get(offset) ?? UNTOUCHED).state;
      if (state !== 'done') notDone++;
      if (keys) {
        const key = keys.get(offset);
        this.keyOrder.add(offset, key ? key.toString('latin1') : null, state);
      }
    }
    this.batches.add(batch, this.fetchOffset, endOffset, notDone, bytes);
    this.fetchOffset = endOffset;
    return taken;
  }

  /** Bytes of stored batches this window holds now. */
  heldBatchBytes(): number {
    return this.batches.heldBytes;
  }

  /** Lets go of the held batch bytes (the group stopped); deliveries, if any, read the log. */
  releaseHeldBatches(): void {
    this.batches.releaseBytes();
  }

  /** The window batch holding `offset`, if any. */
  batchOf(offset: number): WindowBatch | undefined {
    return this.batches.batchOf(offset);
  }

  /** Forgets the window (not the durable state): it is read again from the start offset (after an ordering change). */
  dropWindow(): void {
    this.keyOrder.clear();
    this.batches.clear();
    this.fetchOffset = this.startOffset;
    this.availableFromOffset = this.startOffset;
    this.generation++;
  }

  /**
   * Retention removed the log below `logStartOffset`: records there can never be delivered again. The
   * start moves up to it (in memory; a restart does the same on its first read), counting records that
   * were not done as skipped, and their holders' places are freed.
   */
  skipTo(logStartOffset: number): void {
    if (logStartOffset <= this.startOffset) return;
    let notDone = logStartOffset - this.startOffset;
    for (const [offset, record] of this.tracked) {
      if (offset >= logStartOffset) continue;
      if (record.state === 'done') notDone--;
      if (record.state === 'acquired') this.owner.held(record.memberId, -1);
      this.tracked.delete(offset);
      this.deadLettering.delete(offset);
    }
    this.skipped += notDone;
    this.startOffset = logStartOffset;
    this.dropWindow();
    this.advanceStart();
  }

  /** Forgets everything (the partition's state is dropped): frees its holders' places. */
  clear(startOffset: number): void {
    for (const record of this.tracked.values()) if (record.state === 'acquired') this.owner.held(record.memberId, -1);
    this.tracked.clear();
    this.deadLettering.clear();
    this.startOffset = startOffset;
    this.dropWindow();
  }

  describe(offset: number): string {
    return `${this.topic}-${this.partition} offset ${offset}`;
  }

  private current(offset: number): TrackedRecord {
    if (offset < this.startOffset) throw new AssertionError(`${this.describe(offset)} is below the start offset ${this.startOffset}`);
    return this.tracked.get(offset) ?? UNTOUCHED;
  }

  /** The start moves up over done records at the bottom; the window's batches below it go. */
  private advanceStart(): void {
    while (this.tracked.get(this.startOffset)?.state === 'done') {
      this.tracked.delete(this.startOffset);
      this.keyOrder.forget(this.startOffset);
      this.startOffset++;
    }
    if (this.fetchOffset < this.startOffset) this.fetchOffset = this.startOffset;
    this.batches.cutBelow(this.startOffset);
  }
}
