import { assert } from '../core/assert.js';
import { DEDUPE_EVICTION_LOG_INTERVAL_MS } from '../core/limits.js';
import type { Logger } from '../core/logger.js';

/** An id admitted by an append still in progress: its offset is known once the append is. */
export interface PendingSlot {
  readonly append: PendingIds;
  /** Where the record is among the records the append writes (its offset = base offset + position). */
  readonly position: number;
}

/** What an id maps to: its offset, or the append in progress that writes it. */
export type IdSlot = number | PendingSlot;

/** One append's ids between admission and its outcome. */
export interface PendingIds {
  /** Resolves once the append is written (baseOffset set), rejects with its failure. */
  readonly settled: Promise<void>;
  baseOffset: number;
  /** The append is in the log from `baseOffset` on: its ids now map to their offsets. */
  settle(baseOffset: number): void;
  /** The append failed and wrote nothing: its ids are forgotten, and waiters get `error`. */
  fail(error: unknown): void;
}

interface Mark {
  /** Ids of one append (or one batch read back at startup) still in the map. */
  count: number;
  appendTimeMs: number;
}

export interface MessageIdIndexOptions {
  maxIdCount: number;
  logger: Logger;
  topic: string;
  partition: number;
}

/**
 * One partition's message ids (header `strata-message-id`) and the offsets they were appended at,
 * for a topic with `dedupe.window.ms` set: a record whose id is here is a duplicate and is not written
 * again.
 *
 * Memory is bounded twice: ids appended longer than the window ago are dropped (expire(), with the
 * window read per call so that a changed topic config applies at once), and past `maxIdCount` the
 * oldest go first, counted and logged at most once per DEDUPE_EVICTION_LOG_INTERVAL_MS.
 *
 * Layout: a Map from id to offset, whose insertion order is admission order, which is offset order
 * (appends take offsets in the order the partition admits them); beside it a queue of marks, one per
 * append, holding its admission time and how many of its ids are still in the map. So an id costs a
 * Map entry and its string, and the times cost one mark per append. An append in progress maps its
 * ids to a PendingSlot, so a second request with the same id, arriving before the first is written,
 * is a duplicate of it (its answer waits for the first's outcome).
 *
 * Concurrency: called on the partition's admission turn (synchronously), as the producer sequences.
 */
export class MessageIdIndex {
  private readonly offsets = new Map<string, IdSlot>();
  private readonly marks: Mark[] = [];
  private markHead = 0;
  private evictedTotal = 0;
  private evictedSinceLog = 0;
  private lastEvictionLogMs = Number.NEGATIVE_INFINITY;

  constructor(private readonly options: MessageIdIndexOptions) {
    assert(Number.isSafeInteger(options.maxIdCount) && options.maxIdCount > 0, 'maxIdCount is a positive integer');
  }

  /** Ids held now. */
  get size(): number {
    return this.offsets.size;
  }

  /** Ids evicted by the count bound (not by the window) since this index was made. */
  get evictedIdCount(): number {
    return this.evictedTotal;
  }

  /** The slot of `id`, if it was admitted within the window (call expire() first). */
  get(id: string): IdSlot | undefined {
    return this.offsets.get(id);
  }

  /** Drops the ids of appends admitted at or before `nowMs - windowMs`. */
  expire(nowMs: number, windowMs: number): void {
    const cutoffMs = nowMs - windowMs;
    while (this.markHead < this.marks.length) {
      const mark = this.marks[this.markHead]!;
      if (mark.count === 0) {
        this.shiftMark();
        continue;
      }
      // Times come in admission order; a clock that stepped back only keeps ids longer.
      if (mark.appendTimeMs > cutoffMs) break;
      this.deleteOldest(mark.count); // shifts the emptied mark away
    }
  }

  /**
   * Admits the ids of one append (`ids[i]` written at position `positions[i]` of its records), all
   * new to the index, at `appendTimeMs`. Returns the append's pending ids: settle or fail it.
   */
  admit(ids: readonly string[], positions: readonly number[], appendTimeMs: number, nowMs: number): PendingIds {
    const pending = makePendingIds(this.offsets, ids);
    for (let i = 0; i < ids.length; i++) this.offsets.set(ids[i]!, { append: pending, position: positions[i]! });
    const mark: Mark = { count: ids.length, appendTimeMs };
    this.marks.push(mark);
    (pending as PendingIdsImpl).mark = mark;
    this.evictPastBound(nowMs);
    return pending;
  }

  /**
   * Adds an id read back from the log at startup (in log order), settled at `offset`. An id already
   * here keeps its first offset (the log may hold an id twice from before dedupe was turned on).
   */
  restore(id: string, offset: number, appendTimeMs: number, nowMs: number): void {
    if (this.offsets.has(id)) return;
    this.offsets.set(id, offset);
    const last = this.marks.length > this.markHead ? this.marks[this.marks.length - 1]! : undefined;
    if (last && last.appendTimeMs === appendTimeMs) last.count++;
    else this.marks.push({ count: 1, appendTimeMs });
    this.evictPastBound(nowMs);
  }

  private evictPastBound(nowMs: number): void {
    const excess = this.offsets.size - this.options.maxIdCount;
    if (excess <= 0) return;
    this.deleteOldest(excess);
    this.evictedTotal += excess;
    this.evictedSinceLog += excess;
    if (nowMs - this.lastEvictionLogMs >= DEDUPE_EVICTION_LOG_INTERVAL_MS) {
      this.options.logger.warn(
        { topic: this.options.topic, partition: this.options.partition, evictedIdCount: this.evictedSinceLog, maxIdCount: this.options.maxIdCount },
        'message id index full: the oldest ids were forgotten before their dedupe window ended (a record sent again with one of them is written again)',
      );
      this.lastEvictionLogMs = nowMs;
      this.evictedSinceLog = 0;
    }
  }

  /** Deletes the `count` oldest ids, keeping the marks' counts right. */
  private deleteOldest(count: number): void {
    let remaining = count;
    for (const id of this.offsets.keys()) {
      if (remaining === 0) break;
      this.offsets.delete(id);
      remaining--;
      // The oldest mark with ids left holds the oldest id.
      while (this.marks[this.markHead]!.count === 0) this.shiftMark();
      this.marks[this.markHead]!.count--;
    }
    while (this.markHead < this.marks.length && this.marks[this.markHead]!.count === 0) this.shiftMark();
  }

  private shiftMark(): void {
    this.markHead++;
    if (this.markHead >= 1024 && this.markHead * 2 >= this.marks.length) {
      this.marks.splice(0, this.markHead);
      this.markHead = 0;
    }
  }
}

interface PendingIdsImpl extends PendingIds {
  mark: Mark | undefined;
}

function makePendingIds(offsets: Map<string, IdSlot>, ids: readonly string[]): PendingIds {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const settled = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Nobody may be waiting for it: a failure is the append's own to report.
  settled.catch(() => undefined);
  const pending: PendingIdsImpl = {
    settled,
    baseOffset: -1,
    mark: undefined,
    settle(baseOffset) {
      pending.baseOffset = baseOffset;
      for (const id of ids) {
        const slot = offsets.get(id);
        // Evicted meanwhile (or expired), or a later append's: leave it.
        if (typeof slot === 'object' && slot.append === pending) offsets.set(id, baseOffset + slot.position);
      }
      resolve();
    },
    fail(error) {
      let deleted = 0;
      for (const id of ids) {
        const slot = offsets.get(id);
        if (typeof slot === 'object' && slot.append === pending) {
          offsets.delete(id);
          deleted++;
        }
      }
      if (pending.mark) pending.mark.count -= deleted;
      reject(error);
    },
  };
  return pending;
}
