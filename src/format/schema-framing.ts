// The module's Buffer, not the global accessor (see client/producer-records.ts).
import { Buffer } from 'node:buffer';

/**
 * Confluent's wire framing of a key or value written with a registered schema, as every Confluent
 * serializer writes it and Strata's `schema.validation` checks it:
 *
 * ```
 * byte 0      magic byte, 0
 * bytes 1..4  schema id, unsigned 32-bit big-endian (the registry's global id)
 * Protobuf only: the message indexes, a zig-zag varint count then one zig-zag varint per index
 *             (the path of the message type in its .proto file: [1, 0] is the first nested type of
 *             the second top-level message); the common [0] is written as the single byte 0
 * then        the payload in the schema's format (Avro binary, JSON text, Protobuf binary)
 * ```
 */
export const SCHEMA_MAGIC_BYTE = 0;
export const SCHEMA_FRAME_HEADER_BYTES = 5;
/** A .proto file nests messages this deep at most, as far as the index array is believed. */
export const MAX_MESSAGE_INDEX_DEPTH = 64;

/** The framing's 5-byte header in front of `payload` (`prefix`, the Protobuf message indexes, between them). */
export function frameWithSchemaId(schemaId: number, payload: Uint8Array, prefix?: Uint8Array): Buffer {
  const prefixBytes = prefix?.length ?? 0;
  const out = Buffer.allocUnsafe(SCHEMA_FRAME_HEADER_BYTES + prefixBytes + payload.length);
  out[0] = SCHEMA_MAGIC_BYTE;
  out.writeUInt32BE(schemaId, 1);
  if (prefix) out.set(prefix, SCHEMA_FRAME_HEADER_BYTES);
  out.set(payload, SCHEMA_FRAME_HEADER_BYTES + prefixBytes);
  return out;
}

/** The schema id of framed bytes, or undefined when they do not start with the framing. */
export function schemaIdOf(bytes: Uint8Array): number | undefined {
  if (bytes.length < SCHEMA_FRAME_HEADER_BYTES || bytes[0] !== SCHEMA_MAGIC_BYTE) return undefined;
  return ((bytes[1]! << 24) >>> 0) + (bytes[2]! << 16) + (bytes[3]! << 8) + bytes[4]!;
}

/** The message-index array as Confluent writes it ([0] as the single byte 0). */
export function encodeMessageIndexes(indexes: readonly number[]): Buffer {
  if (indexes.length === 1 && indexes[0] === 0) return Buffer.from([0]);
  const bytes: number[] = [];
  writeZigZag(indexes.length, bytes);
  for (const index of indexes) writeZigZag(index, bytes);
  return Buffer.from(bytes);
}

/**
 * Reads the message-index array at `position`; undefined when the bytes there are not one (a varint
 * that runs off the end or past 32 bits, a count past MAX_MESSAGE_INDEX_DEPTH, a negative index).
 */
export function readMessageIndexes(bytes: Uint8Array, position: number): { indexes: number[]; next: number } | undefined {
  const count = readZigZag(bytes, position);
  if (!count) return undefined;
  if (count.value === 0) return { indexes: [0], next: count.next };
  if (count.value < 0 || count.value > MAX_MESSAGE_INDEX_DEPTH) return undefined;
  const indexes: number[] = [];
  let next = count.next;
  for (let i = 0; i < count.value; i++) {
    const index = readZigZag(bytes, next);
    if (!index || index.value < 0) return undefined;
    indexes.push(index.value);
    next = index.next;
  }
  return { indexes, next };
}

function writeZigZag(value: number, out: number[]): void {
  let zigzag = ((value << 1) ^ (value >> 31)) >>> 0;
  while (zigzag >= 0x80) {
    out.push((zigzag & 0x7f) | 0x80);
    zigzag >>>= 7;
  }
  out.push(zigzag);
}

function readZigZag(bytes: Uint8Array, position: number): { value: number; next: number } | undefined {
  let raw = 0;
  for (let shift = 0, i = position; shift < 35; shift += 7, i++) {
    if (i >= bytes.length) return undefined;
    const byte = bytes[i]!;
    raw += (byte & 0x7f) * 2 ** shift;
    if ((byte & 0x80) === 0) {
      if (raw > 0xffff_ffff) return undefined;
      return { value: raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2, next: i + 1 };
    }
  }
  return undefined;
}
