import { AssertionError } from '../core/assert.js';
import { CorruptBatchError } from '../core/errors.js';

/**
 * int64 fields as JS numbers, via two 32-bit halves instead of BigInt: the header is parsed on every
 * append and every fetch, and a BigInt allocation per field is measurable there.
 *
 * value = high * 2^32 + low is exact whenever |value| <= 2^53; when high is outside [-2^21, 2^21) the
 * true value is at least 2^53 in magnitude, and rounding cannot bring it back below that, so
 * Number.isSafeInteger on the computed value is an exact test of the true one.
 */

const TWO_POW_32 = 0x1_0000_0000;

/** Reads a big-endian int64; throws CorruptBatchError (naming `field`) if it is not a safe integer. */
export function readInt64BE(buf: Buffer, position: number, field: string): number {
  const high = buf.readInt32BE(position);
  const low = buf.readUInt32BE(position + 4);
  const value = high * TWO_POW_32 + low;
  if (!Number.isSafeInteger(value)) {
    throw new CorruptBatchError(`${field} at byte ${position} is outside the safe integer range`);
  }
  return value;
}

/** Writes a safe integer as a big-endian int64; returns the position after it. */
export function writeInt64BE(buf: Buffer, position: number, value: number): number {
  // Not assert(): its message would be formatted on every call of this hot path.
  if (!Number.isSafeInteger(value)) throw new AssertionError(`int64 must be a safe integer, got ${value}`);
  // Math.floor rounds toward -infinity, so for negative values low is still in [0, 2^32) and the pair
  // is the two's complement split.
  const high = Math.floor(value / TWO_POW_32);
  const low = value - high * TWO_POW_32;
  buf.writeInt32BE(high, position);
  buf.writeUInt32BE(low, position + 4);
  return position + 8;
}
