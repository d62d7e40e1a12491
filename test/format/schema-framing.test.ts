import { describe, expect, it } from 'vitest';
import { encodeMessageIndexes, frameWithSchemaId, readMessageIndexes, SCHEMA_FRAME_HEADER_BYTES, SCHEMA_MAGIC_BYTE, schemaIdOf } from '../../src/format/schema-framing.js';

describe('Confluent framing', () => {
  it('is magic byte 0, a 4-byte big-endian id, then the payload; Protobuf message indexes as zig-zag varints, [0] as one byte', () => {
    expect([SCHEMA_MAGIC_BYTE, SCHEMA_FRAME_HEADER_BYTES]).toEqual([0, 5]);
    const framed = frameWithSchemaId(0x01020304, Buffer.from('hi'));
    expect([...framed]).toEqual([0, 1, 2, 3, 4, 0x68, 0x69]);
    expect(schemaIdOf(framed)).toBe(0x01020304);
    expect(schemaIdOf(frameWithSchemaId(0xfffffffe, Buffer.alloc(0)))).toBe(0xfffffffe);
    expect(schemaIdOf(Buffer.from([1, 0, 0, 0, 1]))).toBeUndefined();
    expect(schemaIdOf(Buffer.from([0, 0, 0, 1]))).toBeUndefined();
    expect([...encodeMessageIndexes([0])]).toEqual([0]);
    expect([...encodeMessageIndexes([1])]).toEqual([2, 2]);
    expect([...encodeMessageIndexes([1, 0])]).toEqual([4, 2, 0]);
    expect([...encodeMessageIndexes([70])]).toEqual([2, 0x8c, 0x01]);
    for (const indexes of [[0], [1], [1, 0], [3, 2, 70]]) expect(readMessageIndexes(encodeMessageIndexes(indexes), 0)).toEqual({ indexes, next: encodeMessageIndexes(indexes).length });
    // A count that runs off the end, a negative count, a varint that never ends: not indexes.
    expect(readMessageIndexes(Buffer.from([4, 2]), 0)).toBeUndefined();
    expect(readMessageIndexes(Buffer.from([1]), 0)).toBeUndefined();
    expect(readMessageIndexes(Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x80]), 0)).toBeUndefined();
  });
});
