import { Buffer } from 'node:buffer';
import { AssertionError, assert } from '../core/assert.js';
import { MAX_RELATIVE_OFFSET, MAX_SEGMENT_BYTES } from '../core/limits.js';

/**
 * The sparse offset index of one segment: which byte position to start scanning from to find an offset.
 *
 * File format (`<baseOffset:20 digits>.index`), a flat array of entries, big-endian, no header:
 *
 *   byte 0      4          8
 *        +------+----------+
 *        | rel  | position |   rel      uint32  batch base offset minus the segment's base offset
 *        +------+----------+   position uint32  byte position of that batch in the .log file
 *
 * One entry is added for the first batch written after at least `index.interval.bytes` of log since
 * the previous entry. Both columns strictly increase. The index is disposable: it lives in memory as
 * typed arrays, is written out when its segment rolls or the log closes cleanly, and is rebuilt from
 * the log whenever it is missing or fails a structural check.
 */
export const OFFSET_INDEX_ENTRY_BYTES = 8;
assert(MAX_SEGMENT_BYTES <= 0xffff_ffff, 'positions in offset index entries are uint32');
assert(MAX_RELATIVE_OFFSET <= 0xffff_ffff, 'relative offsets in index entries are uint32');

export interface IndexEntry {
  offset: number;
  position: number;
}

export class OffsetIndex {
  private relativeOffsets = new Uint32Array(16);
  private positions = new Uint32Array(16);
  private count = 0;

  constructor(readonly baseOffset: number) {}

  get entryCount(): number {
    return this.count;
  }

  append(offset: number, position: number): void {
    const relativeOffset = offset - this.baseOffset;
    // Not assert(): its message would be formatted on every append.
    if (!(relativeOffset >= 0 && relativeOffset <= MAX_RELATIVE_OFFSET)) throw new AssertionError(`offset ${offset} outside segment`);
    if (!(position >= 0 && position <= MAX_SEGMENT_BYTES)) throw new AssertionError(`position ${position} outside segment`);
    if (this.count > 0) {
      const last = this.count - 1;
      assert(relativeOffset > this.relativeOffsets[last]!, 'offset index offsets strictly increase');
      assert(position > this.positions[last]!, 'offset index positions strictly increase');
    }
    if (this.count === this.positions.length) this.grow();
    this.relativeOffsets[this.count] = relativeOffset;
    this.positions[this.count] = position;
    this.count++;
  }

  /** The entry with the largest offset <= `offset`, or the segment start when there is none. */
  lookup(offset: number): IndexEntry {
    return this.entryAt(floorIndex(this.relativeOffsets, this.count, offset - this.baseOffset));
  }

  /** The entry with the largest position <= `position`, or the segment start when there is none. */
  floorByPosition(position: number): IndexEntry {
    return this.entryAt(floorIndex(this.positions, this.count, position));
  }

  /** The first entry (the segment start counts as one) at or after `position`, or undefined past the last entry. */
  ceilByPosition(position: number): IndexEntry | undefined {
    if (position <= 0) return this.entryAt(-1);
    const index = floorIndex(this.positions, this.count, position);
    if (index >= 0 && this.positions[index] === position) return this.entryAt(index);
    return index + 1 < this.count ? this.entryAt(index + 1) : undefined;
  }

  /** Entry number `index`, in [0, entryCount). */
  entry(index: number): IndexEntry {
    assert(index >= 0 && index < this.count, 'offset index entry in range');
    return this.entryAt(index);
  }

  /** Entry `index`, or the segment start for -1 (no entry at or below what was looked for). */
  private entryAt(index: number): IndexEntry {
    if (index < 0) return { offset: this.baseOffset, position: 0 };
    return { offset: this.baseOffset + this.relativeOffsets[index]!, position: this.positions[index]! };
  }

  lastEntry(): IndexEntry | undefined {
    if (this.count === 0) return undefined;
    const last = this.count - 1;
    return { offset: this.baseOffset + this.relativeOffsets[last]!, position: this.positions[last]! };
  }

  encode(): Buffer {
    const out = Buffer.allocUnsafe(this.count * OFFSET_INDEX_ENTRY_BYTES);
    for (let i = 0; i < this.count; i++) {
      out.writeUInt32BE(this.relativeOffsets[i]!, i * OFFSET_INDEX_ENTRY_BYTES);
      out.writeUInt32BE(this.positions[i]!, i * OFFSET_INDEX_ENTRY_BYTES + 4);
    }
    return out;
  }

  /**
   * Parses an index file; undefined when it fails the structural check (size, strict increase, every
   * position inside the log), so the caller rebuilds it from the log instead of trusting it.
   */
  static decode(baseOffset: number, data: Buffer, logSizeBytes: number): OffsetIndex | undefined {
    if (data.length % OFFSET_INDEX_ENTRY_BYTES !== 0) return undefined;
    const index = new OffsetIndex(baseOffset);
    let previousRelative = -1;
    let previousPosition = -1;
    for (let at = 0; at < data.length; at += OFFSET_INDEX_ENTRY_BYTES) {
      const relativeOffset = data.readUInt32BE(at);
      const position = data.readUInt32BE(at + 4);
      if (relativeOffset <= previousRelative || position <= previousPosition) return undefined;
      if (position >= logSizeBytes) return undefined;
      index.append(baseOffset + relativeOffset, position);
      previousRelative = relativeOffset;
      previousPosition = position;
    }
    return index;
  }

  private grow(): void {
    const relativeOffsets = new Uint32Array(this.relativeOffsets.length * 2);
    relativeOffsets.set(this.relativeOffsets);
    const positions = new Uint32Array(this.positions.length * 2);
    positions.set(this.positions);
    this.relativeOffsets = relativeOffsets;
    this.positions = positions;
  }
}

/** Binary search: the last of the first `count` elements of increasing `sorted` that is <= target, or -1. */
function floorIndex(sorted: Uint32Array, count: number, target: number): number {
  let low = 0;
  let high = count - 1;
  let found = -1;
  while (low <= high) {
    const middle = (low + high) >>> 1;
    if (sorted[middle]! <= target) {
      found = middle;
      low = middle + 1;
    } else {
      high = middle - 1;
    }
  }
  return found;
}
