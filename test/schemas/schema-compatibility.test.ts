import { describe, expect, it } from 'vitest';
import { InvalidSchemaError } from '../../src/core/errors.js';
import { avroFormat } from '../../src/schemas/avro-format.js';
import { checkCompatibility, COMPATIBILITY_LEVELS, type CompatibilityLevel } from '../../src/schemas/compatibility-level.js';
import { jsonSchemaFormat } from '../../src/schemas/json-schema-format.js';
import { protobufFormat } from '../../src/schemas/protobuf-format.js';
import type { SchemaFormat } from '../../src/schemas/schema-format.js';

/** [rule, writer (data written with it), reader (reads it), compatible?] */
type Row = [string, string, string, boolean];

function readerCanRead<P>(format: SchemaFormat<P>, writer: string, reader: string): string[] {
  return format.incompatibilities(format.parse(reader, []), format.parse(writer, []));
}

const record = (fields: unknown[], extra: object = {}) => JSON.stringify({ type: 'record', name: 'R', namespace: 't', fields, ...extra });

const AVRO: Row[] = [
  ['same schema', record([{ name: 'a', type: 'int' }]), record([{ name: 'a', type: 'int' }]), true],
  ['field added with a default', record([{ name: 'a', type: 'int' }]), record([{ name: 'a', type: 'int' }, { name: 'b', type: 'string', default: 'x' }]), true],
  ['field added without a default', record([{ name: 'a', type: 'int' }]), record([{ name: 'a', type: 'int' }, { name: 'b', type: 'string' }]), false],
  ['field removed (the reader ignores it)', record([{ name: 'a', type: 'int' }, { name: 'b', type: 'string' }]), record([{ name: 'a', type: 'int' }]), true],
  ['int promoted to long', record([{ name: 'a', type: 'int' }]), record([{ name: 'a', type: 'long' }]), true],
  ['long narrowed to int', record([{ name: 'a', type: 'long' }]), record([{ name: 'a', type: 'int' }]), false],
  ['string to int', record([{ name: 'a', type: 'string' }]), record([{ name: 'a', type: 'int' }]), false],
  ['string <-> bytes', record([{ name: 'a', type: 'string' }]), record([{ name: 'a', type: 'bytes' }]), true],
  ['enum symbol added', JSON.stringify({ type: 'enum', name: 'E', symbols: ['A'] }), JSON.stringify({ type: 'enum', name: 'E', symbols: ['A', 'B'] }), true],
  ['enum symbol removed, no default', JSON.stringify({ type: 'enum', name: 'E', symbols: ['A', 'B'] }), JSON.stringify({ type: 'enum', name: 'E', symbols: ['A'] }), false],
  ['type widened to a union', record([{ name: 'a', type: 'int' }]), record([{ name: 'a', type: ['null', 'int'] }]), true],
  ['union narrowed to a branch', record([{ name: 'a', type: ['null', 'int'] }]), record([{ name: 'a', type: 'int' }]), false],
  ['record renamed without an alias', record([{ name: 'a', type: 'int' }]), JSON.stringify({ type: 'record', name: 'S', namespace: 't', fields: [{ name: 'a', type: 'int' }] }), false],
];

const obj = (schema: object) => JSON.stringify({ type: 'object', ...schema });
const JSON_SCHEMA: Row[] = [
  ['same schema', obj({ properties: { a: { type: 'string' } } }), obj({ properties: { a: { type: 'string' } } }), true],
  ['type narrowed', JSON.stringify({ type: ['string', 'null'] }), JSON.stringify({ type: 'string' }), false],
  ['type widened', JSON.stringify({ type: 'string' }), JSON.stringify({ type: ['string', 'null'] }), true],
  ['integer widened to number', JSON.stringify({ type: 'integer' }), JSON.stringify({ type: 'number' }), true],
  ['number narrowed to integer', JSON.stringify({ type: 'number' }), JSON.stringify({ type: 'integer' }), false],
  ['required property added', obj({ properties: { a: { type: 'string' } } }), obj({ properties: { a: { type: 'string' } }, required: ['a'] }), false],
  ['required property dropped', obj({ properties: { a: { type: 'string' } }, required: ['a'] }), obj({ properties: { a: { type: 'string' } } }), true],
  ['property removed from a closed model', obj({ properties: { a: { type: 'string' }, b: { type: 'string' } }, additionalProperties: false }), obj({ properties: { a: { type: 'string' } }, additionalProperties: false }), false],
  ['property removed, reader open', obj({ properties: { a: { type: 'string' }, b: { type: 'string' } } }), obj({ properties: { a: { type: 'string' } } }), true],
  ['property added to a closed writer', obj({ properties: { a: { type: 'string' } }, additionalProperties: false }), obj({ properties: { a: { type: 'string' }, b: { type: 'string' } }, additionalProperties: false }), true],
  ['typed property added to an open writer', obj({ properties: { a: { type: 'string' } } }), obj({ properties: { a: { type: 'string' }, b: { type: 'string' } } }), false],
  ['content model closed', obj({ properties: { a: { type: 'string' } } }), obj({ properties: { a: { type: 'string' } }, additionalProperties: false }), false],
  ['nested property type changed', obj({ properties: { a: { type: 'object', properties: { x: { type: 'string' } } } } }), obj({ properties: { a: { type: 'object', properties: { x: { type: 'integer' } } } } }), false],
  ['nested property type widened', obj({ properties: { a: { type: 'object', properties: { x: { type: 'integer' } } } } }), obj({ properties: { a: { type: 'object', properties: { x: { type: 'number' } } } } }), true],
  ['enum value added', JSON.stringify({ enum: ['a'] }), JSON.stringify({ enum: ['a', 'b'] }), true],
  ['enum value removed', JSON.stringify({ enum: ['a', 'b'] }), JSON.stringify({ enum: ['a'] }), false],
  ['maxLength narrowed', JSON.stringify({ type: 'string', maxLength: 10 }), JSON.stringify({ type: 'string', maxLength: 5 }), false],
  ['maxLength widened', JSON.stringify({ type: 'string', maxLength: 5 }), JSON.stringify({ type: 'string', maxLength: 10 }), true],
  ['minimum raised', JSON.stringify({ type: 'number', minimum: 0 }), JSON.stringify({ type: 'number', minimum: 1 }), false],
  ['array items narrowed', JSON.stringify({ type: 'array', items: { type: ['string', 'null'] } }), JSON.stringify({ type: 'array', items: { type: 'string' } }), false],
  ['oneOf changed (not analysed: refused)', JSON.stringify({ oneOf: [{ type: 'string' }] }), JSON.stringify({ oneOf: [{ type: 'string' }, { type: 'null' }] }), false],
];

const proto = (body: string) => `syntax = "proto3";\npackage t;\n${body}`;
const PROTOBUF: Row[] = [
  ['same schema', proto('message M { int32 a = 1; }'), proto('message M { int32 a = 1; }'), true],
  ['field added', proto('message M { int32 a = 1; }'), proto('message M { int32 a = 1; string b = 2; }'), true],
  ['field renamed (number kept)', proto('message M { int32 a = 1; }'), proto('message M { int32 renamed = 1; }'), true],
  ['field removed, number reserved', proto('message M { int32 a = 1; string b = 2; }'), proto('message M { reserved 2; int32 a = 1; }'), true],
  ['field removed, number in a reserved range', proto('message M { int32 a = 1; string b = 3; }'), proto('message M { reserved 2 to 4; int32 a = 1; }'), true],
  ['field removed, number not reserved', proto('message M { int32 a = 1; string b = 2; }'), proto('message M { int32 a = 1; }'), false],
  ['int32 -> int64 (same wire group)', proto('message M { int32 a = 1; }'), proto('message M { int64 a = 1; }'), true],
  ['string -> bytes (same wire group)', proto('message M { string a = 1; }'), proto('message M { bytes a = 1; }'), true],
  ['int32 -> string', proto('message M { int32 a = 1; }'), proto('message M { string a = 1; }'), false],
  ['sint32 -> int32 (zigzag differs)', proto('message M { sint32 a = 1; }'), proto('message M { int32 a = 1; }'), false],
  ['message type of a field changed', proto('message A { int32 x = 1; } message B { int32 x = 1; } message M { A a = 1; }'), proto('message A { int32 x = 1; } message B { int32 x = 1; } message M { B a = 1; }'), false],
  ['singular -> repeated', proto('message M { int32 a = 1; }'), proto('message M { repeated int32 a = 1; }'), false],
  ['message removed', proto('message M { int32 a = 1; } message N { int32 b = 1; }'), proto('message M { int32 a = 1; }'), false],
  ['one field moved into a new oneof', proto('message M { int32 a = 1; string b = 2; }'), proto('message M { string b = 2; oneof o { int32 a = 1; } }'), true],
  ['a field added to an existing oneof', proto('message M { oneof o { int32 a = 1; } }'), proto('message M { oneof o { int32 a = 1; string b = 2; } }'), true],
  ['two fields moved into a new oneof', proto('message M { int32 a = 1; string b = 2; }'), proto('message M { oneof o { int32 a = 1; string b = 2; } }'), false],
  ['a field moved into an existing oneof', proto('message M { int32 a = 1; oneof o { string b = 2; } }'), proto('message M { oneof o { int32 a = 1; string b = 2; } }'), false],
  ['a field moved out of its oneof', proto('message M { oneof o { int32 a = 1; string b = 2; } }'), proto('message M { int32 a = 1; oneof o { string b = 2; } }'), false],
  ['a oneof field removed, number reserved', proto('message M { oneof o { int32 a = 1; string b = 2; } }'), proto('message M { reserved 1; oneof o { string b = 2; } }'), false],
  ['proto3 optional added (its synthetic oneof is not a oneof)', proto('message M { int32 a = 1; }'), proto('message M { optional int32 a = 1; }'), true],
  ['enum value removed (survives as unknown on the wire)', proto('enum E { Z = 0; A = 1; B = 2; } message M { E e = 1; }'), proto('enum E { Z = 0; A = 1; } message M { E e = 1; }'), true],
];

describe.each([
  ['AVRO', avroFormat as SchemaFormat<unknown>, AVRO],
  ['JSON', jsonSchemaFormat as SchemaFormat<unknown>, JSON_SCHEMA],
  ['PROTOBUF', protobufFormat as SchemaFormat<unknown>, PROTOBUF],
] as const)('%s compatibility: the reader reads what the writer wrote, or says why not', (_name, format, rows) => {
  it.each(rows)('%s', (_rule, writer, reader, isCompatible) => {
    const messages = readerCanRead(format, writer, reader);
    expect(messages.length === 0, messages.join('; ')).toBe(isCompatible);
    if (!isCompatible) expect(messages[0]).toMatch(/\S/);
  });
});

describe('schemas that do not parse are InvalidSchemaError', () => {
  it.each([
    ['AVRO', avroFormat as SchemaFormat<unknown>, '{"type": "record", "name": "R", "fields": [{"name": "a", "type": "unknown.Type"}]}'],
    ['AVRO', avroFormat as SchemaFormat<unknown>, '{"type": "enum", "name": "E"}'],
    ['JSON', jsonSchemaFormat as SchemaFormat<unknown>, '{"type": "not-a-type"}'],
    ['JSON', jsonSchemaFormat as SchemaFormat<unknown>, '[1, 2]'],
    ['PROTOBUF', protobufFormat as SchemaFormat<unknown>, 'syntax = "proto3"; message M { Missing a = 1; }'],
    ['PROTOBUF', protobufFormat as SchemaFormat<unknown>, 'syntax = "proto3";'],
  ])('%s: %s', (_type, format, schema) => {
    expect(() => format.parse(schema, [])).toThrow(InvalidSchemaError);
  });

  it('references resolve: an Avro record naming a referenced type, a Protobuf import, a JSON $ref', () => {
    const address = JSON.stringify({ type: 'record', name: 'Address', namespace: 't', fields: [{ name: 'city', type: 'string' }] });
    expect(() => avroFormat.parse(record([{ name: 'home', type: 't.Address' }]), [])).toThrow(InvalidSchemaError);
    expect(() => avroFormat.parse(record([{ name: 'home', type: 't.Address' }]), [{ name: 't.Address', schema: address }])).not.toThrow();
    const imported = 'syntax = "proto3";\npackage t;\nmessage Address { string city = 1; }';
    const main = 'syntax = "proto3";\npackage t;\nimport "address.proto";\nmessage Person { Address home = 1; }';
    expect(() => protobufFormat.parse(main, [])).toThrow(InvalidSchemaError);
    expect(() => protobufFormat.parse(main, [{ name: 'address.proto', schema: imported }])).not.toThrow();
    const json = JSON.stringify({ type: 'object', properties: { home: { $ref: 'address.json' } } });
    expect(() => jsonSchemaFormat.parse(json, [])).toThrow(InvalidSchemaError);
    expect(() => jsonSchemaFormat.parse(json, [{ name: 'address.json', schema: JSON.stringify({ type: 'object', properties: { city: { type: 'string' } } }) }])).not.toThrow();
  });
});

describe('compatibility levels: which versions are checked, in which direction', () => {
  // A toy format where a schema is a set of required fields: a reader reads a writer's data when the
  // writer has every field the reader requires.
  const incompatibilities = (reader: string[], writer: string[]) => reader.filter((field) => !writer.includes(field)).map((field) => `missing ${field}`);
  // v1 {a}, v2 {a, b}: a candidate {b} reads v2's data but not v1's, and v2 reads its data... not (needs a).
  const previous = [{ version: 1, parsed: ['a'] }, { version: 2, parsed: ['a', 'b'] }];
  const expected: Record<CompatibilityLevel, { candidate: string[]; isCompatible: boolean }[]> = {
    NONE: [{ candidate: ['z'], isCompatible: true }],
    BACKWARD: [{ candidate: ['b'], isCompatible: true }, { candidate: ['z'], isCompatible: false }],
    BACKWARD_TRANSITIVE: [{ candidate: ['a'], isCompatible: true }, { candidate: ['b'], isCompatible: false }],
    FORWARD: [{ candidate: ['a', 'b', 'c'], isCompatible: true }, { candidate: ['a'], isCompatible: false }],
    FORWARD_TRANSITIVE: [{ candidate: ['a', 'b'], isCompatible: true }, { candidate: ['b'], isCompatible: false }],
    FULL: [{ candidate: ['a', 'b'], isCompatible: true }, { candidate: ['a', 'b', 'c'], isCompatible: false }],
    FULL_TRANSITIVE: [{ candidate: ['a'], isCompatible: false }],
  };
  it.each(COMPATIBILITY_LEVELS.flatMap((level) => expected[level].map((c) => [level, c.candidate.join(','), c.isCompatible] as const)))('%s: {%s} compatible=%s', (level, candidate, isCompatible) => {
    expect(checkCompatibility(level, candidate.split(','), previous, incompatibilities).length === 0).toBe(isCompatible);
  });
});
