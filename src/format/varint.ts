import { AssertionError } from '../core/assert.js';
import { CorruptBatchError } from '../core/errors.js';

/**
 * Zigzag varints as Kafka (and Protocol Buffers) write them: the sign is moved into the lowest bit so
 * small negative numbers stay short, then the value goes out 7 bits per byte, least significant group
 * first, with the high bit of each byte saying "more follows".
 *
 * A varint carries an int32 (at most 5 bytes); a varlong an int64 (at most 10 bytes). JS numbers hold
 * only 53 bits exactly, so the varlong functions accept and return safe integers and use arithmetic
 * instead of 32-bit bitwise operators, which would silently truncate anything beyond 2^31.
 */

export const MAX_VARINT_BYTES = 5;
export const MAX_VARLONG_BYTES = 10;

const INT32_MIN = -0x8000_0000;
const INT32_MAX = 0x7fff_ffff;

/** A decoded value and the position just after its last byte. */
export interface DecodedVarint {
  value: number;
  nextPosition: number;
}

/** Bytes that encodeVarint writes for `value` (an int32). */
export function sizeOfVarint(value: number): number {
  let zigzag = ((value << 1) ^ (value >> 31)) >>> 0;
  let sizeBytes = 1;
  while (zigzag >= 0x80) {
    zigzag >>>= 7;
    sizeBytes++;
  }
  return sizeBytes;
}

/** Writes `value` (an int32) at `position`; returns the position after the last byte written. */
export function encodeVarint(buf: Buffer, position: number, value: number): number {
  // Not assert(): its message would be formatted on every call of this hot path.
  if (!(Number.isInteger(value) && value >= INT32_MIN && value <= INT32_MAX)) throw new AssertionError(`varint out of int32 range: ${value}`);
  let zigzag = ((value << 1) ^ (value >> 31)) >>> 0;
  let pos = position;
  while (zigzag >= 0x80) {
    buf[pos++] = (zigzag & 0x7f) | 0x80;
    zigzag >>>= 7;
  }
  buf[pos++] = zigzag;
  return pos;
}

/**
 * Reads an int32 varint starting at `position`, reading no byte at or after `end` (defaults to the
 * buffer's end, but callers pass the end of the enclosing record so one record cannot borrow bytes from
 * the next). Throws CorruptBatchError on overrun, on more than 5 bytes, or on a value beyond 32 bits.
 */
export function decodeVarint(buf: Buffer, position: number, end: number = buf.length): DecodedVarint {
  const value = readVarint(buf, position, end);
  return { value, nextPosition: varintCursor.nextPosition };
}

/**
 * Where the last readVarint / readVarlong (or a reader built on them) stopped. One shared cursor
 * instead of an object per read: decoding a record reads six or more varints, and replay decodes
 * millions of records a second. Read it right after the call.
 */
export const varintCursor = { nextPosition: 0 };

/** decodeVarint without the result object: returns the value, leaves the next position in varintCursor. */
export function readVarint(buf: Buffer, position: number, end: number = buf.length): number {
  const limit = Math.min(end, buf.length);
  let zigzag = 0;
  let multiplier = 1;
  let pos = position;
  for (let i = 0; i < MAX_VARINT_BYTES; i++) {
    if (pos >= limit) throw varintError(position, `runs past byte ${limit}`);
    const byte = buf[pos++]!;
    // Arithmetic, not <<, so a fifth byte with bits beyond 32 shows up as a too-large value.
    zigzag += (byte & 0x7f) * multiplier;
    if ((byte & 0x80) === 0) {
      if (zigzag > 0xffff_ffff) throw varintError(position, 'exceeds 32 bits');
      // zigzag < 2^32 here, so the 32-bit operators below are exact.
      varintCursor.nextPosition = pos;
      return (zigzag >>> 1) ^ -(zigzag & 1);
    }
    multiplier *= 0x80;
  }
  throw varintError(position, `is longer than ${MAX_VARINT_BYTES} bytes`);
}

/**
 * The error of a bad varint or varlong, made outside the reading loop: with the template strings inline, the
 * optimized loop spent ~20 % of its time in NumberToString (perf, a loop of record-length varints)
 * although no varint was bad.
 */
function varintError(position: number, problem: string, kind: 'varint' | 'varlong' = 'varint'): CorruptBatchError {
  return new CorruptBatchError(`${kind} at byte ${position} ${problem}`);
}

/**
 * zigzag(v) = 2v for v >= 0 and 2|v| - 1 for v < 0. For |v| near 2^53 that exceeds 2^53 and a double
 * would round it, so the encoded value is handled as 2 * magnitude + signBit without forming it:
 * magnitude is v or -v - 1, both safe integers. (Computed inline by each caller: a result object per
 * call was ~56 bytes of garbage per produced record.)
 */
const zigzagMagnitude = (value: number): number => (value >= 0 ? value : -value - 1);

/** Bytes that encodeVarlong writes for `value` (a safe integer). */
export function sizeOfVarlong(value: number): number {
  // The first byte carries the sign bit and the low 6 bits of the magnitude.
  let rest = Math.floor(zigzagMagnitude(value) / 0x40);
  let sizeBytes = 1;
  while (rest > 0) {
    rest = Math.floor(rest / 0x80);
    sizeBytes++;
  }
  return sizeBytes;
}

/** Writes `value` (a safe integer) at `position`; returns the position after the last byte written. */
export function encodeVarlong(buf: Buffer, position: number, value: number): number {
  if (!Number.isSafeInteger(value)) throw new AssertionError(`varlong must be a safe integer, got ${value}`);
  const magnitude = zigzagMagnitude(value);
  let group = (magnitude % 0x40) * 2 + (value >= 0 ? 0 : 1);
  let rest = Math.floor(magnitude / 0x40);
  let pos = position;
  while (rest > 0) {
    buf[pos++] = group | 0x80;
    group = rest % 0x80;
    rest = Math.floor(rest / 0x80);
  }
  buf[pos++] = group;
  return pos;
}

/**
 * Reads an int64 varlong starting at `position`, reading no byte at or after `end`. Throws
 * CorruptBatchError on overrun, on more than 10 bytes, or when the value is not a safe integer (the
 * wire allows the full int64 range, but offsets and timestamps beyond 2^53 cannot be JS numbers).
 */
export function decodeVarlong(buf: Buffer, position: number, end: number = buf.length): DecodedVarint {
  const value = readVarlong(buf, position, end);
  return { value, nextPosition: varintCursor.nextPosition };
}

/** decodeVarlong without the result object: returns the value, leaves the next position in varintCursor. */
export function readVarlong(buf: Buffer, position: number, end: number = buf.length): number {
  const limit = Math.min(end, buf.length);
  // The first 7 bytes (49 bits) accumulate exactly in `low`; anything later goes to `high`, scaled by
  // 2^49 at the end, so no intermediate sum is rounded before the range check.
  let low = 0;
  let high = 0;
  let multiplier = 1;
  let pos = position;
  for (let i = 0; i < MAX_VARLONG_BYTES; i++) {
    if (pos >= limit) throw varintError(position, `runs past byte ${limit}`, 'varlong');
    const byte = buf[pos++]!;
    if (i === 7) multiplier = 1;
    if (i < 7) low += (byte & 0x7f) * multiplier;
    else high += (byte & 0x7f) * multiplier;
    if ((byte & 0x80) === 0) {
      // zigzag = high * 2^49 + low; the sign is its lowest bit, the magnitude the rest.
      const signBit = low % 2;
      const magnitude = high * 2 ** 48 + Math.floor(low / 2);
      const value = signBit === 0 ? magnitude : -magnitude - 1;
      if (!Number.isSafeInteger(value)) {
        throw varintError(position, 'is outside the safe integer range', 'varlong');
      }
      varintCursor.nextPosition = pos;
      return value;
    }
    multiplier *= 0x80;
  }
  throw varintError(position, `is longer than ${MAX_VARLONG_BYTES} bytes`, 'varlong');
}
