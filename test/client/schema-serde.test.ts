import { describe, expect, it } from 'vitest';
import { MissingSchemaFramingError, RecordDeserializationError, RecordSerializationError, SchemaNotFoundError, SchemaVersionNotFoundError, SubjectNotFoundError, UnknownSchemaIdError } from '../../src/core/errors.js';
import type { SchemaReferenceSpec, SchemaSpec, SchemaType, SchemaVersionInfo, SchemaVersionSpec } from '../../src/client/schema-admin.js';
import type { SchemaRegistryClient } from '../../src/client/schema-codec.js';
import { schemaDeserializer } from '../../src/client/schema-deserializer.js';
import { frameWithSchemaId, schemaIdOf } from '../../src/format/schema-framing.js';
import { RecordNameStrategy, schemaSerializer, TopicNameStrategy, TopicRecordNameStrategy } from '../../src/client/schema-serializer.js';
import { rejection } from '../helpers/rejection.js';

/** An in-memory registry with the calls the serializers make, counting them. */
class FakeRegistry implements SchemaRegistryClient {
  readonly calls: string[] = [];
  private readonly schemas: Array<{ schemaType: SchemaType; schema: string; references: SchemaReferenceSpec[] }> = [];
  private readonly subjects = new Map<string, number[]>();

  async register(subject: string, spec: SchemaSpec): Promise<{ id: number; version: number }> {
    this.calls.push(`register ${subject}`);
    const schemaType = spec.schemaType ?? 'AVRO';
    let index = this.schemas.findIndex((s) => s.schemaType === schemaType && s.schema === spec.schema);
    if (index < 0) index = this.schemas.push({ schemaType, schema: spec.schema, references: spec.references ?? [] }) - 1;
    const ids = this.subjects.get(subject) ?? [];
    if (!ids.includes(index + 1)) ids.push(index + 1);
    this.subjects.set(subject, ids);
    return { id: index + 1, version: ids.indexOf(index + 1) + 1 };
  }

  async getById(id: number) {
    this.calls.push(`getById ${id}`);
    const found = this.schemas[id - 1];
    if (!found) throw new SchemaNotFoundError(`schema ${id} not found`);
    return { ...found, versions: [] };
  }

  async getVersion(subject: string, version: SchemaVersionSpec = 'latest'): Promise<SchemaVersionInfo> {
    this.calls.push(`getVersion ${subject} ${version}`);
    const ids = this.subjects.get(subject);
    if (!ids) throw new SubjectNotFoundError(`subject ${subject} not found`);
    const number = version === 'latest' ? ids.length : version;
    const id = ids[number - 1];
    if (id === undefined) throw new SchemaVersionNotFoundError(`version ${version} not found`);
    return { subject, version: number, id, ...this.schemas[id - 1]!, isDeleted: false };
  }

  async listVersions(subject: string): Promise<number[]> {
    this.calls.push(`listVersions ${subject}`);
    const ids = this.subjects.get(subject);
    if (!ids) throw new SubjectNotFoundError(`subject ${subject} not found`);
    return ids.map((_, i) => i + 1);
  }
}

const user = { type: 'record', name: 'User', namespace: 'strata.test', fields: [{ name: 'name', type: 'string' }] };
const userV2 = { ...user, fields: [...user.fields, { name: 'age', type: 'int', default: 0 }] };
const at = (topic: string, offset = 0) => ({ topic, partition: 0, offset, isKey: false });

describe('schemaSerializer and schemaDeserializer', () => {
  it('register on first use only, encode synchronously after, and round-trip each format', async () => {
    const registry = new FakeRegistry();
    const avro = schemaSerializer({ registry, format: 'avro', schema: user });
    const first = avro.serialize({ name: 'ada' }, at('users'));
    expect(first).toBeInstanceOf(Promise);
    const bytes = Buffer.from(await first);
    const second = avro.serialize({ name: 'bob' }, at('users'));
    expect(second).not.toBeInstanceOf(Promise);
    expect(registry.calls).toEqual(['register users-value']);
    const deserializer = schemaDeserializer({ registry });
    expect(await deserializer.deserialize(bytes, at('users'))).toEqual({ name: 'ada' });
    // Cached by id: the second record decodes synchronously, with no call.
    expect(deserializer.deserialize(Buffer.from(second as Uint8Array), at('users', 1))).toEqual({ name: 'bob' });
    expect(registry.calls).toEqual(['register users-value', 'getById 1']);

    const json = schemaSerializer({ registry, format: 'json', schema: { title: 'Order', type: 'object', properties: { id: { type: 'integer' } }, required: ['id'] } });
    expect(await deserializer.deserialize(Buffer.from(await json.serialize({ id: 7 }, at('orders'))), at('orders'))).toEqual({ id: 7 });
    const proto = 'syntax = "proto3";\npackage strata.test;\nmessage Other { string x = 1; }\nmessage Order {\n  int64 id = 1;\n  string note = 2;\n  message Line { string sku = 1; }\n  repeated Line lines = 3;\n}\n';
    const protobuf = schemaSerializer({ registry, format: 'protobuf', schema: proto, messageName: 'Order' });
    const encoded = Buffer.from(await protobuf.serialize({ id: 7, note: 'fast', lines: [{ sku: 'a' }] }, at('orders-proto')));
    // The second top-level message: index array [1], after the 5-byte header.
    expect([...encoded.subarray(5, 7)]).toEqual([2, 2]);
    expect(await deserializer.deserialize(encoded, at('orders-proto'))).toEqual({ id: '7', note: 'fast', lines: [{ sku: 'a' }] });
    const nested = schemaSerializer({ registry, format: 'protobuf', schema: proto, messageName: 'strata.test.Order.Line' });
    const line = Buffer.from(await nested.serialize({ sku: 'b' }, at('lines')));
    expect([...line.subarray(5, 8)]).toEqual([4, 2, 0]);
    expect(await deserializer.deserialize(line, at('lines'))).toEqual({ sku: 'b' });
  });

  it('name subjects by topic (key and value), by record name, or by topic and record name', async () => {
    const registry = new FakeRegistry();
    await schemaSerializer({ registry, format: 'avro', schema: user }).serialize({ name: 'a' }, { topic: 't', isKey: true });
    await schemaSerializer({ registry, format: 'avro', schema: user, subjectNameStrategy: TopicNameStrategy }).serialize({ name: 'a' }, { topic: 't', isKey: false });
    await schemaSerializer({ registry, format: 'avro', schema: user, subjectNameStrategy: RecordNameStrategy }).serialize({ name: 'a' }, at('t'));
    await schemaSerializer({ registry, format: 'avro', schema: user, subjectNameStrategy: TopicRecordNameStrategy }).serialize({ name: 'a' }, at('t'));
    const order = { title: 'strata.test.Order', type: 'object' };
    await schemaSerializer({ registry, format: 'json', schema: order, subjectNameStrategy: RecordNameStrategy }).serialize({}, at('t'));
    await schemaSerializer({ registry, format: 'protobuf', schema: 'syntax = "proto3";\npackage p;\nmessage M { string a = 1; }\n', subjectNameStrategy: TopicRecordNameStrategy }).serialize({ a: 'x' }, at('t'));
    expect(registry.calls).toEqual(['register t-key', 'register t-value', 'register strata.test.User', 'register t-strata.test.User', 'register strata.test.Order', 'register t-p.M']);
    // A schema with no name cannot be named by record.
    const unnamed = schemaSerializer({ registry, format: 'avro', schema: '"string"', subjectNameStrategy: RecordNameStrategy });
    expect(await rejection(Promise.resolve().then(() => unnamed.serialize('x', at('t'))))).toBeInstanceOf(RecordSerializationError);
  });

  it('with autoRegister off, find the schema among the subject\'s versions or refuse; with useLatestVersion, write with the latest', async () => {
    const registry = new FakeRegistry();
    const lookUp = schemaSerializer({ registry, format: 'avro', schema: userV2, autoRegister: false });
    const refused = await rejection(Promise.resolve(lookUp.serialize({ name: 'a', age: 1 }, at('people'))));
    expect(refused).toBeInstanceOf(RecordSerializationError);
    expect(refused.retriable).toBe(false);
    expect(refused.message).toMatch(/people-value/);
    await registry.register('people-value', { schema: JSON.stringify(user) });
    const v2 = await registry.register('people-value', { schema: JSON.stringify(userV2, null, 2) });
    expect(registry.calls.filter((call) => call.startsWith('register'))).toHaveLength(2);
    // Found by what it says, not by its spacing; nothing is registered.
    expect(schemaIdOf(await lookUp.serialize({ name: 'a', age: 1 }, at('people')))).toBe(v2.id);
    expect(registry.calls.filter((call) => call.startsWith('register'))).toHaveLength(2);
    const latest = schemaSerializer({ registry, format: 'avro', useLatestVersion: true });
    expect(schemaIdOf(await latest.serialize({ name: 'b', age: 2 }, at('people')))).toBe(v2.id);
    const wrongType = schemaSerializer({ registry, format: 'json', useLatestVersion: true });
    expect((await rejection(Promise.resolve(wrongType.serialize({}, at('people'))))).message).toMatch(/AVRO schema, not JSON/);
    // A fixed id: fetched once by id, no subject, nothing registered; its format from the registry.
    registry.calls.length = 0;
    const byId = schemaSerializer({ registry, schemaId: v2.id });
    expect(schemaIdOf(await byId.serialize({ name: 'c', age: 3 }, at('anything')))).toBe(v2.id);
    expect(schemaIdOf(byId.serialize({ name: 'd', age: 4 }, at('elsewhere')) as Uint8Array)).toBe(v2.id);
    expect(registry.calls).toEqual([`getById ${v2.id}`]);
    const missing = await rejection(Promise.resolve(schemaSerializer({ registry, schemaId: 999 }).serialize({}, at('x'))));
    expect(missing).toBeInstanceOf(RecordSerializationError);
    expect(missing.message).toMatch(/schema id 999 is not in the registry/);
    expect(() => schemaSerializer({ registry, schemaId: 1, schema: user })).toThrow(RecordSerializationError);
  });

  it('refuse a value that does not fit its schema, typed and non-retriable, in every format', async () => {
    const registry = new FakeRegistry();
    const cases: Array<[ReturnType<typeof schemaSerializer>, unknown]> = [
      [schemaSerializer({ registry, format: 'avro', schema: user }), { name: 42 }],
      [schemaSerializer({ registry, format: 'json', schema: { type: 'object', properties: { id: { type: 'integer' } }, required: ['id'] } }), { id: 'x' }],
      [schemaSerializer({ registry, format: 'protobuf', schema: 'syntax = "proto3";\nmessage M { int32 a = 1; }\n' }), { a: 'not a number' }],
    ];
    for (const [serializer, bad] of cases) {
      const error = await rejection(Promise.resolve().then(() => serializer.serialize(bad, at('bad'))));
      expect(error).toBeInstanceOf(RecordSerializationError);
      expect(error).toMatchObject({ code: 'RECORD_SERIALIZATION_FAILED', retriable: false, location: { topic: 'bad', isKey: false } });
      expect(error.message).toMatch(/does not fit/);
    }
    // A schema that does not parse fails its first value, clearly.
    const broken = schemaSerializer({ registry, format: 'avro', schema: '{"type": "nope"}' });
    expect((await rejection(Promise.resolve(broken.serialize('x', at('bad'))))).message).toMatch(/does not parse/);
  });

  it('fail on bytes without framing, an unknown id, or a payload that does not decode, naming the record', async () => {
    const registry = new FakeRegistry();
    const deserializer = schemaDeserializer({ registry });
    const where = { topic: 'orders', partition: 3, offset: 41, isKey: true };
    const unframed = await rejection(Promise.resolve().then(() => deserializer.deserialize(Buffer.from('{"plain":1}'), where)));
    expect(unframed).toBeInstanceOf(MissingSchemaFramingError);
    expect(unframed).toMatchObject({ code: 'MISSING_SCHEMA_FRAMING', retriable: false, location: where });
    expect(unframed.message).toMatch(/key of the record at orders\/3 offset 41.*first byte is 123/);
    const unknown = await rejection(Promise.resolve(deserializer.deserialize(frameWithSchemaId(999, Buffer.from([1])), where)));
    expect(unknown).toBeInstanceOf(UnknownSchemaIdError);
    expect(unknown).toMatchObject({ code: 'UNKNOWN_SCHEMA_ID', retriable: false, location: { ...where, schemaId: 999 } });
    const { id } = await registry.register('orders-value', { schema: JSON.stringify(user) });
    const garbage = await rejection(Promise.resolve(deserializer.deserialize(frameWithSchemaId(id, Buffer.from([0x7f])), where)));
    expect(garbage).toBeInstanceOf(RecordDeserializationError);
    expect(garbage).toMatchObject({ code: 'RECORD_DESERIALIZATION_FAILED', retriable: false, location: { ...where, schemaId: id } });
  });

  it('read Avro with a reader schema (schema resolution), and keep a bounded cache of ids fetched once each', async () => {
    const registry = new FakeRegistry();
    const v1 = Buffer.from(await schemaSerializer({ registry, format: 'avro', schema: user }).serialize({ name: 'ada' }, at('p')));
    const v2 = Buffer.from(await schemaSerializer({ registry, format: 'avro', schema: userV2 }).serialize({ name: 'bob', age: 7 }, at('p')));
    const asV2 = schemaDeserializer({ registry, readerSchema: userV2 });
    expect(await asV2.deserialize(v1, at('p'))).toEqual({ name: 'ada', age: 0 });
    const asV1 = schemaDeserializer({ registry, readerSchema: user });
    expect(await asV1.deserialize(v2, at('p'))).toEqual({ name: 'bob' });
    const unreadable = schemaDeserializer({ registry, readerSchema: { ...user, fields: [{ name: 'name', type: 'int' }] } });
    expect(await rejection(Promise.resolve(unreadable.deserialize(v1, at('p'))))).toBeInstanceOf(RecordDeserializationError);

    const third = Buffer.from(await schemaSerializer({ registry, format: 'avro', schema: '"string"' }).serialize('x', at('q')));
    registry.calls.length = 0;
    const small = schemaDeserializer({ registry, maxCachedSchemas: 2 });
    // Concurrent first reads of one id share one call.
    await Promise.all([small.deserialize(v1, at('p')), small.deserialize(v1, at('p', 1))]);
    await small.deserialize(v2, at('p'));
    small.deserialize(v1, at('p')); // a hit: v1 becomes the most recently used, v2 the least
    await small.deserialize(third, at('q'));
    expect(small.deserialize(v1, at('p'))).toEqual({ name: 'ada' });
    await small.deserialize(v2, at('p'));
    expect(registry.calls).toEqual(['getById 1', 'getById 2', 'getById 3', 'getById 2']);
  });
});
