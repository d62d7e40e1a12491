import { Buffer } from 'node:buffer';
import { AssertionError, assert } from '../core/assert.js';
import { MAX_RELATIVE_OFFSET } from '../core/limits.js';

/**
 * The sparse time index of one segment: from a timestamp to an offset at which to start looking.
 *
 * File format (`<baseOffset:20 digits>.timeindex`), a flat array of entries, big-endian, no header:
 *
 *   byte 0                8      12
 *        +----------------+------+
 *        | timestampMs    | rel  |   timestampMs int64   the largest record timestamp in the segment
 *        +----------------+------+                       up to and including offset `rel`
 *                                    rel         uint32  last offset of the batch that raised it,
 *                                                        minus the segment's base offset
 *
 * An entry is added beside an offset index entry when the segment's largest timestamp grew since the
 * last entry. Both columns strictly increase, so an entry (T, O) proves that no record at an offset
 * <= O has a timestamp above T: a search for the first record at or after time X may start after the
 * last entry whose T is below X. Disposable like the offset index.
 */
export const TIME_INDEX_ENTRY_BYTES = 12;

export interface TimeIndexEntry {
  timestampMs: number;
  offset: number;
}

export class TimeIndex {
  private timestampsMs = new Float64Array(16);
  private relativeOffsets = new Uint32Array(16);
  private count = 0;

  constructor(readonly baseOffset: number) {}

  get entryCount(): number {
    return this.count;
  }

  lastEntry(): TimeIndexEntry | undefined {
    if (this.count === 0) return undefined;
    const last = this.count - 1;
    return { timestampMs: this.timestampsMs[last]!, offset: this.baseOffset + this.relativeOffsets[last]! };
  }

  /** Adds (timestampMs, offset) if it raises the largest timestamp seen; otherwise does nothing. */
  maybeAppend(timestampMs: number, offset: number): void {
    const relativeOffset = offset - this.baseOffset;
    if (!(relativeOffset >= 0 && relativeOffset <= MAX_RELATIVE_OFFSET)) throw new AssertionError(`offset ${offset} outside segment`);
    assert(Number.isSafeInteger(timestampMs), 'timestamps are safe integers');
    if (this.count > 0) {
      const last = this.count - 1;
      if (timestampMs <= this.timestampsMs[last]!) return;
      assert(relativeOffset > this.relativeOffsets[last]!, 'time index offsets strictly increase');
    }
    if (this.count === this.timestampsMs.length) this.grow();
    this.timestampsMs[this.count] = timestampMs;
    this.relativeOffsets[this.count] = relativeOffset;
    this.count++;
  }

  /** The last entry whose timestamp is strictly below `timestampMs`, or undefined if there is none. */
  lastEntryBefore(timestampMs: number): TimeIndexEntry | undefined {
    let low = 0;
    let high = this.count - 1;
    let found = -1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      if (this.timestampsMs[middle]! < timestampMs) {
        found = middle;
        low = middle + 1;
      } else {
        high = middle - 1;
      }
    }
    if (found < 0) return undefined;
    return { timestampMs: this.timestampsMs[found]!, offset: this.baseOffset + this.relativeOffsets[found]! };
  }

  encode(): Buffer {
    const out = Buffer.allocUnsafe(this.count * TIME_INDEX_ENTRY_BYTES);
    for (let i = 0; i < this.count; i++) {
      out.writeBigInt64BE(BigInt(this.timestampsMs[i]!), i * TIME_INDEX_ENTRY_BYTES);
      out.writeUInt32BE(this.relativeOffsets[i]!, i * TIME_INDEX_ENTRY_BYTES + 8);
    }
    return out;
  }

  /** Parses an index file; undefined when it fails the structural check, so the caller rebuilds it. */
  static decode(baseOffset: number, data: Buffer, nextOffset: number): TimeIndex | undefined {
    if (data.length % TIME_INDEX_ENTRY_BYTES !== 0) return undefined;
    const index = new TimeIndex(baseOffset);
    let previousTimestampMs = -Infinity;
    let previousRelative = -1;
    for (let at = 0; at < data.length; at += TIME_INDEX_ENTRY_BYTES) {
      const timestampMs = Number(data.readBigInt64BE(at));
      const relativeOffset = data.readUInt32BE(at + 8);
      if (!Number.isSafeInteger(timestampMs)) return undefined;
      if (timestampMs <= previousTimestampMs || relativeOffset <= previousRelative) return undefined;
      if (baseOffset + relativeOffset >= nextOffset) return undefined;
      index.maybeAppend(timestampMs, baseOffset + relativeOffset);
      previousTimestampMs = timestampMs;
      previousRelative = relativeOffset;
    }
    return index;
  }

  private grow(): void {
    const timestampsMs = new Float64Array(this.timestampsMs.length * 2);
    timestampsMs.set(this.timestampsMs);
    const relativeOffsets = new Uint32Array(this.relativeOffsets.length * 2);
    relativeOffsets.set(this.relativeOffsets);
    this.timestampsMs = timestampsMs;
    this.relativeOffsets = relativeOffsets;
  }
}
