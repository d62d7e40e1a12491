/**
 * A 32-bit hash of bytes[start, start + length): murmur3's 4-byte mixing steps (4 bytes a step; a
 * bytewise FNV was a fifth of the index's time), then its finalizer, so that the low bits (the
 * table's) mix well.
 */
export function hashOf(bytes: Buffer, start: number, length: number): number {
  let hash = length;
  let i = start;
  for (const end4 = start + (length & ~3); i < end4; i += 4) {
    let k = bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    hash ^= Math.imul(k, 0x1b873593);
    hash = (hash << 13) | (hash >>> 19);
    hash = (Math.imul(hash, 5) + 0xe6546b64) | 0;
  }
  let k = 0;
  for (let shift = 0; i < start + length; i++, shift += 8) k |= bytes[i]! << shift;
  hash ^= Math.imul((Math.imul(k, 0xcc9e2d51) << 15) | (Math.imul(k, 0xcc9e2d51) >>> 17), 0x1b873593);
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  return hash ^ (hash >>> 16);
}
