import { assert } from '../core/assert.js';
import { DEDUPE_EVICTION_LOG_INTERVAL_MS, MAX_MESSAGE_ID_BYTES } from '../core/limits.js';
import type { Logger } from '../core/logger.js';
import { hashOf } from './message-id-hash.js';

export { hashOf };

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

/** Ids as bytes: `count` ids, id i at bytes[starts[i], starts[i] + lengths[i]). */
export interface IdBytes {
  readonly bytes: Buffer;
  readonly starts: ArrayLike<number>;
  readonly lengths: ArrayLike<number>;
}

export interface MessageIdIndexOptions {
  maxIdCount: number;
  logger: Logger;
  topic: string;
  partition: number;
}

interface Pending extends PendingIds {
  readonly firstSeq: number;
  /** Position of each id (by sequence from firstSeq) among the records its append writes. */
  readonly positions: number[];
}

interface Mark {
  /** The ids admitted up to here (exclusive sequence number) ... */
  endSeq: number;
  /** ... were admitted at this time (or before). */
  appendTimeMs: number;
}

const MIN_CAPACITY = 1_024;
const PENDING_OFFSET = -1;

/**
 * One partition's message ids (header `strata-message-id`) and the offsets they were appended at,
 * for a topic with `dedupe.window.ms` set: a record whose id is here is a duplicate and is not written
 * again.
 *
 * Memory is bounded twice: ids admitted longer than the window ago are dropped (expire(), with the
 * window read per call so that a changed topic config applies at once), and past `maxIdCount` the
 * oldest go first, counted and logged at most once per DEDUPE_EVICTION_LOG_INTERVAL_MS.
 *
 * Layout (typed arrays, no object or string per id: a JS Map of strings cost ~85 bytes and ~2 us of
 * CPU per id, 4x the rest of the append path): every admitted id gets the next sequence number; slot
 * `seq % capacity` of a ring holds its hash, offset (PENDING_OFFSET while its append is in progress),
 * position in its append, and where its bytes are in a byte ring (the arena). Sequence order is
 * admission order, which is offset order, so the oldest ids are at the ring's head and eviction is
 * FIFO. An open-addressing table (linear probing, load <= 1/2, backward-shift deletion) maps a hash to
 * slots. A queue of marks gives admission times per append. Capacities double as ids come (up to
 * maxIdCount) and halve when few are left, so a quiet partition holds little.
 *
 * A second request with an id whose append is still in progress is a duplicate of it (its answer
 * waits for that append's outcome: see PendingIds). A failed append's ids are removed at once.
 *
 * Concurrency: called on the partition's admission turn (synchronously), as the producer sequences.
 */
export class MessageIdIndex {
  private capacity = 0;
  private slotHash = new Int32Array(0);
  private slotOffset = new Float64Array(0);
  /** Where each key starts in the arena (a position, not a counter). */
  private slotKeyStart = new Int32Array(0);
  /** 0: no id in the slot (evicted, or its append failed). */
  private slotKeyLength = new Uint8Array(0);
  private table = new Int32Array(0);
  private arena = Buffer.alloc(0);
  /** Arena bytes in use: [arenaHead, arenaTail) as ever-growing counters (position = counter % arena.length). */
  private arenaHead = 0;
  private arenaTail = 0;
  /** Live sequence numbers: [headSeq, tailSeq). */
  private headSeq = 0;
  private tailSeq = 0;
  private liveCount = 0;
  private readonly pendings: Pending[] = [];
  private readonly marks: Mark[] = [];
  private markHead = 0;
  private evictedTotal = 0;
  private evictedSinceLog = 0;
  /** Ids evicted by insert() during the current admission, not yet counted. */
  private evictedInInsert = 0;
  private lastEvictionLogMs = Number.NEGATIVE_INFINITY;

  constructor(private readonly options: MessageIdIndexOptions) {
    assert(Number.isSafeInteger(options.maxIdCount) && options.maxIdCount > 0, 'maxIdCount is a positive integer');
    this.resize(MIN_CAPACITY);
  }

  /** Ids held now. */
  get size(): number {
    return this.liveCount;
  }

  /** Ids evicted by the count bound (not by the window) since this index was made. */
  get evictedIdCount(): number {
    return this.evictedTotal;
  }

  /** Bytes of the typed arrays and arena (for the memory figures in bench/RESULTS.md). */
  get retainedBytes(): number {
    return this.capacity * (4 + 8 + 4 + 1) + this.table.byteLength + this.arena.length;
  }

  /** The slot of the id at bytes[start, start + length), if it was admitted within the window (call expire() first). */
  get(bytes: Buffer, start: number, length: number, hash = hashOf(bytes, start, length)): IdSlot | undefined {
    const slot = this.find(bytes, start, length, hash);
    if (slot < 0) return undefined;
    const offset = this.slotOffset[slot]!;
    if (offset !== PENDING_OFFSET) return offset;
    const seq = this.seqOf(slot);
    const append = this.pendingOf(seq);
    return { append, position: append.positions[seq - append.firstSeq]! };
  }

  /** Drops the ids of appends admitted at or before `nowMs - windowMs`. */
  expire(nowMs: number, windowMs: number): void {
    const cutoffMs = nowMs - windowMs;
    while (this.markHead < this.marks.length) {
      const mark = this.marks[this.markHead]!;
      // Times come in admission order; a clock that stepped back only keeps ids longer.
      if (mark.endSeq > this.headSeq && mark.appendTimeMs > cutoffMs) break;
      this.evictBefore(mark.endSeq);
      this.shiftMark();
    }
    this.shrinkIfSparse();
  }

  /**
   * Admits the ids of one append (id `indexes[i]` of `ids`, all new to the index, written at position
   * `positions[i]` of its records; `hashes`: hashOf of each id of `ids`, by id) at `appendTimeMs`.
   * Returns the append's pending ids: settle or fail it.
   */
  admit(ids: IdBytes, indexes: ArrayLike<number>, positions: ArrayLike<number>, hashes: ArrayLike<number>, appendTimeMs: number, nowMs: number): PendingIds {
    const pending = this.beginAppend();
    for (let i = 0; i < indexes.length; i++) {
      const id = indexes[i]!;
      const found = this.getOrAdmit(ids.bytes, ids.starts[id]!, ids.lengths[id]!, hashes[id]!, pending, positions[i]!);
      assert(found === undefined, 'admit() takes ids new to the index');
    }
    this.endAppend(pending, appendTimeMs, nowMs);
    return pending;
  }

  /**
   * Starts admitting one append's ids, one by one in record order (getOrAdmit), on this turn; then
   * endAppend. Ids repeated within the append are found as its own pending ids.
   */
  beginAppend(): PendingIds {
    const pending = this.makePending(this.tailSeq);
    this.pendings.push(pending);
    return pending;
  }

  /**
   * The slot of the id at bytes[start, start + length) if the index has it (within the window: call
   * expire() first); else admits it for `pending` (begun last), written at `position` of its
   * records, and returns undefined. One probe of the table for both.
   */
  getOrAdmit(bytes: Buffer, start: number, length: number, hash: number, pendingIds: PendingIds, position: number): IdSlot | undefined {
    const pending = pendingIds as Pending;
    const slot = this.find(bytes, start, length, hash);
    if (slot >= 0) {
      const offset = this.slotOffset[slot]!;
      if (offset !== PENDING_OFFSET) return offset;
      const seq = this.seqOf(slot);
      const append = this.pendingOf(seq);
      return { append, position: append.positions[seq - append.firstSeq]! };
    }
    assert(pending.firstSeq + pending.positions.length === this.tailSeq, 'ids are admitted for the append begun last');
    this.insert(bytes, start, length, hash, PENDING_OFFSET);
    pending.positions.push(position);
    return undefined;
  }

  /** Ends the admission of an append's ids (at `appendTimeMs`): the count bound applies now. */
  endAppend(pendingIds: PendingIds, appendTimeMs: number, nowMs: number): void {
    const pending = pendingIds as Pending;
    if (pending.positions.length === 0) {
      this.pendings.splice(this.pendings.indexOf(pending), 1);
      return;
    }
    this.addMark(appendTimeMs);
    this.evictPastBound(nowMs);
  }

  /**
   * Adds an id read back from the log at startup (in log order), settled at `offset`. An id already
   * here keeps its first offset (the log may hold an id twice from before dedupe was turned on).
   */
  restore(bytes: Buffer, start: number, length: number, offset: number, appendTimeMs: number, nowMs: number): void {
    const hash = hashOf(bytes, start, length);
    if (this.find(bytes, start, length, hash) >= 0) return;
    this.insert(bytes, start, length, hash, offset);
    this.addMark(appendTimeMs);
    this.evictPastBound(nowMs);
  }

  private addMark(appendTimeMs: number): void {
    const last = this.marks.length > this.markHead ? this.marks[this.marks.length - 1]! : undefined;
    if (last && last.appendTimeMs === appendTimeMs) last.endSeq = this.tailSeq;
    else this.marks.push({ endSeq: this.tailSeq, appendTimeMs });
  }

  private insert(bytes: Buffer, start: number, length: number, hash: number, offset: number): void {
    assert(length > 0 && length <= MAX_MESSAGE_ID_BYTES, 'an id is 1 to MAX_MESSAGE_ID_BYTES bytes');
    if (this.tailSeq - this.headSeq >= this.capacity) {
      // The arena grows with the ring: one rebuild for both.
      if (this.capacity < this.options.maxIdCount) this.resize(this.capacity * 2);
      else {
        // Full at the bound (within one large append): the oldest goes, counted with the others.
        const liveBefore = this.liveCount;
        this.evictBefore(this.headSeq + 1);
        this.evictedInInsert += liveBefore - this.liveCount;
      }
    }
    if (this.arenaTail - this.arenaHead + 2 * length > this.arena.length) this.resize(this.capacity, Math.ceil(this.arena.length * 1.5));
    // A key never wraps around the arena's end: it starts over at 0 instead (the bytes skipped are used again once the head passes).
    let keyStart = this.arenaTail % this.arena.length;
    if (keyStart + length > this.arena.length) {
      this.arenaTail += this.arena.length - keyStart;
      keyStart = 0;
    }
    // A loop, not Buffer#copy: for ids of tens of bytes its call costs more than the copy.
    const arena = this.arena;
    for (let i = 0; i < length; i++) arena[keyStart + i] = bytes[start + i]!;
    this.arenaTail += length;
    const slot = this.tailSeq % this.capacity;
    this.slotHash[slot] = hash;
    this.slotOffset[slot] = offset;
    this.slotKeyStart[slot] = keyStart;
    this.slotKeyLength[slot] = length;
    this.tailSeq++;
    this.liveCount++;
    const mask = this.table.length - 1;
    let p = hash & mask;
    while (this.table[p] !== 0) p = (p + 1) & mask;
    this.table[p] = slot + 1;
  }

  /** The slot holding the id, or -1. */
  private find(bytes: Buffer, start: number, length: number, hash: number): number {
    const mask = this.table.length - 1;
    for (let p = hash & mask; ; p = (p + 1) & mask) {
      const entry = this.table[p]!;
      if (entry === 0) return -1;
      const slot = entry - 1;
      if (this.slotHash[slot] === hash && this.slotKeyLength[slot] === length && this.keyEquals(slot, bytes, start, length)) return slot;
    }
  }

  private keyEquals(slot: number, bytes: Buffer, start: number, length: number): boolean {
    const arena = this.arena;
    const keyStart = this.slotKeyStart[slot]!;
    for (let i = 0; i < length; i++) if (arena[keyStart + i] !== bytes[start + i]) return false;
    return true;
  }

  /** Removes the slot's id from the table (backward-shift deletion keeps every probe chain whole). */
  private removeFromTable(slot: number): void {
    const mask = this.table.length - 1;
    let p = this.slotHash[slot]! & mask;
    while (this.table[p] !== slot + 1) p = (p + 1) & mask;
    this.table[p] = 0;
    for (let q = (p + 1) & mask; this.table[q] !== 0; q = (q + 1) & mask) {
      const home = this.slotHash[this.table[q]! - 1]! & mask;
      // The entry at q may move to the hole at p unless its home lies cyclically in (p, q].
      const staysPut = p <= q ? home > p && home <= q : home > p || home <= q;
      if (staysPut) continue;
      this.table[p] = this.table[q]!;
      this.table[q] = 0;
      p = q;
    }
    this.slotKeyLength[slot] = 0;
    this.liveCount--;
  }

  /** Evicts every id with a sequence number below `endSeq`. */
  private evictBefore(endSeq: number): void {
    while (this.headSeq < endSeq && this.headSeq < this.tailSeq) {
      const slot = this.headSeq % this.capacity;
      if (this.slotKeyLength[slot] !== 0) this.removeFromTable(slot);
      this.headSeq++;
      // The arena's head follows the oldest key (or the tail, once none is left). The bytes in use
      // are fewer than the arena's, so the distance back from the tail is unambiguous.
      if (this.headSeq === this.tailSeq) this.arenaHead = this.arenaTail;
      else {
        const length = this.arena.length;
        this.arenaHead = this.arenaTail - ((this.arenaTail - this.slotKeyStart[this.headSeq % this.capacity]! + length) % length || length);
      }
    }
  }

  private evictPastBound(nowMs: number): void {
    const liveBefore = this.liveCount;
    // Oldest first, until the bound holds (slots of failed appends are skipped on the way).
    while (this.liveCount > this.options.maxIdCount) this.evictBefore(this.headSeq + 1);
    const evicted = liveBefore - this.liveCount + this.evictedInInsert;
    this.evictedInInsert = 0;
    if (evicted === 0) return;
    this.evictedTotal += evicted;
    this.evictedSinceLog += evicted;
    if (nowMs - this.lastEvictionLogMs >= DEDUPE_EVICTION_LOG_INTERVAL_MS) {
      this.options.logger.warn(
        { topic: this.options.topic, partition: this.options.partition, evictedIdCount: this.evictedSinceLog, maxIdCount: this.options.maxIdCount },
        'message id index full: the oldest ids were forgotten before their dedupe window ended (a record sent again with one of them is written again)',
      );
      this.lastEvictionLogMs = nowMs;
      this.evictedSinceLog = 0;
    }
  }

  private shiftMark(): void {
    this.markHead++;
    if (this.markHead >= 1024 && this.markHead * 2 >= this.marks.length) {
      this.marks.splice(0, this.markHead);
      this.markHead = 0;
    }
  }

  /** After expiry left few ids: half the capacity (at least MIN_CAPACITY), so memory follows the window. */
  private shrinkIfSparse(): void {
    const used = this.tailSeq - this.headSeq;
    if (this.capacity > MIN_CAPACITY && used * 4 <= this.capacity) this.resize(this.capacity / 2);
  }

  /**
   * New arrays of `capacity` slots holding the live ids in order, and an arena for `capacity` keys of
   * the live ones' mean length (+1/8), at least `minArenaBytes`.
   */
  private resize(capacity: number, minArenaBytes = 0): void {
    const used = this.tailSeq - this.headSeq;
    assert(used <= capacity, 'the live sequence range fits the new ring');
    let liveBytes = 0;
    for (let seq = this.headSeq; seq < this.tailSeq; seq++) liveBytes += this.slotKeyLength[seq % this.capacity]!;
    const meanKeyBytes = this.liveCount > 0 ? liveBytes / this.liveCount : 40;
    const arenaLength = Math.max(minArenaBytes, Math.ceil(meanKeyBytes * capacity * 1.125) + 4 * MAX_MESSAGE_ID_BYTES, liveBytes + 4 * MAX_MESSAGE_ID_BYTES);
    const old = { capacity: this.capacity, hash: this.slotHash, offset: this.slotOffset, keyStart: this.slotKeyStart, keyLength: this.slotKeyLength, arena: this.arena };
    this.capacity = capacity;
    this.slotHash = new Int32Array(capacity);
    this.slotOffset = new Float64Array(capacity);
    this.slotKeyStart = new Int32Array(capacity);
    this.slotKeyLength = new Uint8Array(capacity);
    this.table = new Int32Array(2 * capacity);
    this.arena = Buffer.allocUnsafe(arenaLength);
    this.arenaHead = 0;
    this.arenaTail = 0;
    const mask = this.table.length - 1;
    for (let seq = this.headSeq; seq < this.tailSeq; seq++) {
      const from = seq % old.capacity;
      const to = seq % capacity;
      const length = old.keyLength[from]!;
      this.slotKeyLength[to] = length;
      this.slotKeyStart[to] = this.arenaTail;
      if (length === 0) continue;
      const oldStart = old.keyStart[from]!;
      for (let i = 0; i < length; i++) this.arena[this.arenaTail + i] = old.arena[oldStart + i]!;
      this.arenaTail += length;
      this.slotHash[to] = old.hash[from]!;
      this.slotOffset[to] = old.offset[from]!;
      let p = old.hash[from]! & mask;
      while (this.table[p] !== 0) p = (p + 1) & mask;
      this.table[p] = to + 1;
    }
  }

  private seqOf(slot: number): number {
    // The live range is shorter than the ring: the one seq in it with this slot.
    const headSlot = this.headSeq % this.capacity;
    return this.headSeq + ((slot - headSlot + this.capacity) % this.capacity);
  }

  private pendingOf(seq: number): Pending {
    // Few appends are in progress at once, in sequence order: search from the newest.
    for (let i = this.pendings.length - 1; i >= 0; i--) {
      const pending = this.pendings[i]!;
      if (seq >= pending.firstSeq) return pending;
    }
    throw new Error(`no append in progress holds sequence ${seq}`);
  }

  private makePending(firstSeq: number): Pending {
    const positions: number[] = [];
    let resolve!: () => void;
    let reject!: (error: unknown) => void;
    const settled = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // Nobody may be waiting for it: a failure is the append's own to report.
    settled.catch(() => undefined);
    const index = this;
    const done = (pending: Pending, each: (slot: number, seq: number) => void) => {
      const at = index.pendings.indexOf(pending);
      if (at >= 0) index.pendings.splice(at, 1);
      // Ids evicted meanwhile are below headSeq; their slots may hold newer ids.
      for (let seq = Math.max(pending.firstSeq, index.headSeq); seq < pending.firstSeq + pending.positions.length; seq++) {
        const slot = seq % index.capacity;
        if (index.slotKeyLength[slot] !== 0) each(slot, seq);
      }
    };
    const pending: Pending = {
      firstSeq,
      positions,
      settled,
      baseOffset: -1,
      settle(baseOffset) {
        pending.baseOffset = baseOffset;
        done(pending, (slot, seq) => (index.slotOffset[slot] = baseOffset + positions[seq - firstSeq]!));
        resolve();
      },
      fail(error) {
        done(pending, (slot) => index.removeFromTable(slot));
        reject(error);
      },
    };
    return pending;
  }
}
