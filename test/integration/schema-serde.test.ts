import { SchemaRegistry as ConfluentClient, SchemaType } from '@kafkajs/confluent-schema-registry';
import { describe, expect, it } from 'vitest';
import { MissingSchemaFramingError, RecordDeserializationError, RecordSerializationError, UnknownSchemaIdError } from '../../src/core/errors.js';
import { Producer } from '../../src/client/producer.js';
import type { SchemaRegistryClient } from '../../src/client/schema-codec.js';
import { schemaDeserializer } from '../../src/client/schema-deserializer.js';
import { frameWithSchemaId } from '../../src/format/schema-framing.js';
import { schemaSerializer, type SchemaSerializerOptions } from '../../src/client/schema-serializer.js';
import { SerializingProducer } from '../../src/client/serializing-producer.js';
import { useInProcessServer } from '../helpers/in-process-server.js';
import { rejection } from '../helpers/rejection.js';

const user = { type: 'record', name: 'User', namespace: 'strata.serde', fields: [{ name: 'name', type: 'string' }, { name: 'visits', type: 'int' }] };
const order = { $schema: 'http://json-schema.org/draft-07/schema#', title: 'Order', type: 'object', properties: { id: { type: 'integer' }, note: { type: 'string' } }, required: ['id'], additionalProperties: false };
const orderProto = 'syntax = "proto3";\npackage strata.serde;\nmessage Order {\n  int32 id = 1;\n  string note = 2;\n}\n';

const FORMATS = [
  { format: 'avro', type: SchemaType.AVRO, schema: JSON.stringify(user), values: [{ name: 'ada', visits: 1 }, { name: 'bob', visits: 2 }] },
  { format: 'json', type: SchemaType.JSON, schema: JSON.stringify(order), values: [{ id: 1, note: 'one' }, { id: 2, note: 'two' }] },
  { format: 'protobuf', type: SchemaType.PROTOBUF, schema: orderProto, values: [{ id: 1, note: 'one' }, { id: 2, note: 'two' }] },
] as const;

/** The first `count` items of an iteration (leaving it ends the stream). */
async function take<T>(iterable: AsyncIterable<T>, count: number): Promise<T[]> {
  const out: T[] = [];
  if (count === 0) return out;
  for await (const item of iterable) if (out.push(item) >= count) break;
  return out;
}

/** What kafkajs's client hands back, as plain data (its Protobuf messages are class instances). */
const plain = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

describe('client serializers against a real server', () => {
  const strata = useInProcessServer();
  const confluent = () => new ConfluentClient({ host: `http://127.0.0.1:${strata.server.httpPort!}` });

  it('bytes our serializer writes decode with @kafkajs/confluent-schema-registry, and bytes it writes decode with ours, for Avro, JSON Schema and Protobuf', async () => {
    const { client } = strata;
    for (const { format, type, schema, values } of FORMATS) {
      const topic = `interop-${format}`;
      await client.admin.createTopic(topic, { partitions: 1 });
      const producer = client.producer({ valueSerializer: schemaSerializer({ registry: client.schemas, format, schema }), lingerMs: 0 });
      expect(producer).toBeInstanceOf(SerializingProducer);
      await producer.send(topic, { value: values[0] });
      const raw = await take(client.consume(topic, { from: 'earliest' }), 1);
      const id = await confluent().getLatestSchemaId(`${topic}-value`);
      expect([raw[0]!.value![0], raw[0]!.value!.readUInt32BE(1)], format).toEqual([0, id]);
      expect(plain(await confluent().decode(raw[0]!.value!)), format).toEqual(values[0]);

      // The other way: kafkajs's client encodes with the same id, the raw bytes go through a plain producer.
      const theirs = await confluent().encode(id, values[1]);
      const rawProducer = client.producer({ lingerMs: 0 });
      await rawProducer.send(topic, { value: theirs });
      const decoded = await take(client.consume(topic, { from: 'earliest', valueDeserializer: schemaDeserializer({ registry: client.schemas }) }), 2);
      expect(decoded.map((record) => plain(record.value)), format).toEqual(values);
      expect(decoded.map((record) => record.offset)).toEqual([0, 1]);
      await producer.close();
      await rawProducer.close();
    }
  });

  it('keys and values both serialized (subjects <topic>-key and <topic>-value), null values pass as tombstones, consumeBatches decodes too', async () => {
    const { client } = strata;
    const topic = 'keyed-serde';
    await client.admin.createTopic(topic, { partitions: 2 });
    const producer = client.producer({
      keySerializer: schemaSerializer<string>({ registry: client.schemas, format: 'avro', schema: '"string"' }),
      valueSerializer: schemaSerializer({ registry: client.schemas, format: 'avro', schema: user }),
    });
    await producer.sendBatch(topic, [{ key: 'k1', value: { name: 'ada', visits: 1 } }, { key: 'k1', value: null }]);
    await producer.close();
    expect((await client.schemas.listSubjects()).filter((subject) => subject.startsWith(topic)).sort()).toEqual([`${topic}-key`, `${topic}-value`]);
    const deserializer = schemaDeserializer({ registry: client.schemas });
    const [batch] = await take(client.consumeBatches(topic, { from: 'earliest', keyDeserializer: deserializer, valueDeserializer: deserializer }), 1);
    expect(batch!.map(({ key, value }) => ({ key, value: plain(value) }))).toEqual([
      { key: 'k1', value: { name: 'ada', visits: 1 } },
      { key: 'k1', value: null },
    ]);
  });

  it('keeps the order of sends per key while the first registry call is under way, one registration per subject', async () => {
    const { client } = strata;
    const topic = 'ordered-serde';
    await client.admin.createTopic(topic, { partitions: 3 });
    const calls: string[] = [];
    const registry: SchemaRegistryClient = {
      register: async (subject, spec) => {
        calls.push(subject);
        return client.schemas.register(subject, spec);
      },
      getById: (id) => client.schemas.getById(id),
      getVersion: (subject, version, options) => client.schemas.getVersion(subject, version, options),
      listVersions: (subject, options) => client.schemas.listVersions(subject, options),
    };
    const producer = client.producer({ valueSerializer: schemaSerializer({ registry, format: 'avro', schema: user }) });
    // A tombstone needs no serializer, but must not overtake the value of its key that waits for one.
    const value = producer.send(topic, { key: 'z', value: { name: 'z', visits: 0 } });
    const tombstone = producer.send(topic, { key: 'z', value: null });
    expect((await value).offset).toBeLessThan((await tombstone).offset);
    const keys = ['a', 'b', 'c', 'd', 'e'];
    // Sent without waiting, from a second serializer: the first 151 wait for its registration, later ones may not; order must hold anyway.
    const second = client.producer({ valueSerializer: schemaSerializer({ registry, format: 'avro', schema: user }) });
    const sends: Array<Promise<unknown>> = [];
    for (let i = 0; i < 300; i++) {
      sends.push(second.send(topic, { key: keys[i % keys.length]!, value: { name: keys[i % keys.length]!, visits: i } }));
      if (i === 150) await sends[0];
    }
    await Promise.all(sends);
    await producer.close();
    await second.close();
    // One registration per serializer, however many values waited for it.
    expect(calls).toEqual([`${topic}-value`, `${topic}-value`]);
    const records = (await take(client.consume<Buffer, { name: string; visits: number }>(topic, { from: 'earliest', valueDeserializer: schemaDeserializer({ registry: client.schemas }) }), 302)).filter((record) => record.key!.toString() !== 'z');
    for (const key of keys) {
      const visits = records.filter((record) => record.key!.toString() === key).map((record) => record.value!.visits);
      expect(visits).toHaveLength(60);
      expect(visits).toEqual([...visits].sort((a, b) => a - b));
    }
  });

  it('without serializers, client.producer() is the Producer and consume() the raw iterator, as before', () => {
    const { client } = strata;
    const producer = client.producer({ lingerMs: 0 });
    expect(producer).toBeInstanceOf(Producer);
    expect(producer).not.toBeInstanceOf(SerializingProducer);
    const iterator = client.consume('interop-avro', {});
    expect(Object.prototype.toString.call(iterator)).not.toBe('[object AsyncGenerator]');
    void producer.close();
  });

  it('a value that does not fit fails its own send, typed and non-retriable, and appends nothing; the others go on', async () => {
    const { client } = strata;
    const topic = 'misfit-serde';
    await client.admin.createTopic(topic, { partitions: 1 });
    const producer = client.producer({ valueSerializer: schemaSerializer({ registry: client.schemas, format: 'avro', schema: user }), lingerMs: 0 });
    const good = producer.send(topic, { value: { name: 'ada', visits: 1 } });
    const bad = producer.send(topic, { value: { name: 'bob', visits: 'many' } });
    const after = producer.send(topic, { value: { name: 'cy', visits: 3 } });
    const error = await rejection(bad);
    expect(error).toBeInstanceOf(RecordSerializationError);
    expect(error).toMatchObject({ retriable: false, location: { topic, isKey: false } });
    expect(error.message).toMatch(/visits/);
    expect((await good).offset).toBe(0);
    expect((await after).offset).toBe(1);
    // A batch with one bad value refuses the whole call before anything is queued.
    expect(await rejection(producer.sendBatch(topic, [{ value: { name: 'dee', visits: 4 } }, { value: { name: 5, visits: 5 } }]))).toBeInstanceOf(RecordSerializationError);
    await producer.close();
    const [offsets] = await client.admin.listOffsets(topic, 'latest');
    expect(offsets!.offset).toBe(2);
  });

  it('a consumed record without framing, with an unknown id, or that does not decode fails with its topic, partition and offset', async () => {
    const { client } = strata;
    const topic = 'broken-serde';
    await client.admin.createTopic(topic, { partitions: 1 });
    const { id } = await client.schemas.register(`${topic}-value`, { schemaType: 'AVRO', schema: JSON.stringify(user) });
    const producer = client.producer({ lingerMs: 0 });
    await producer.sendBatch(topic, [{ value: 'plain text' }, { value: frameWithSchemaId(987_654, Buffer.from([2, 0x61, 2])) }, { value: frameWithSchemaId(id, Buffer.from([0x7f])) }]);
    await producer.close();
    const cases = [
      [0, MissingSchemaFramingError, /no schema framing/],
      [1, UnknownSchemaIdError, /schema id 987654, which the registry does not have/],
      [2, RecordDeserializationError, new RegExp(`does not decode with schema id ${id}`)],
    ] as const;
    for (const [offset, errorClass, message] of cases) {
      const records = client.consume(topic, { startOffsets: { 0: offset }, valueDeserializer: schemaDeserializer({ registry: client.schemas }) });
      const error = await rejection(take(records, 1));
      expect(error, `offset ${offset}`).toBeInstanceOf(errorClass);
      expect(error).toMatchObject({ retriable: false, location: { topic, partition: 0, offset, isKey: false } });
      expect(error.message).toMatch(message);
      expect(error.message).toContain(`${topic}/0 offset ${offset}`);
    }
  });

  it('a group member hands out deserialized records, in a loop and to process()', async () => {
    const { client } = strata;
    const topic = 'group-serde';
    await client.admin.createTopic(topic, { partitions: 1 });
    const serializer: SchemaSerializerOptions = { registry: client.schemas, format: 'json', schema: order };
    const producer = client.producer({ valueSerializer: schemaSerializer(serializer), lingerMs: 0 });
    await producer.sendBatch(topic, [{ value: { id: 1 } }, { value: { id: 2 } }]);
    await producer.close();
    const deserializer = schemaDeserializer<{ id: number }>({ registry: client.schemas });
    const looping = client.consumer<Buffer, { id: number }>({ groupId: 'serde-loop', topics: [topic], fromBeginning: true, valueDeserializer: deserializer });
    expect((await take(looping, 2)).map((record) => record.value)).toEqual([{ id: 1 }, { id: 2 }]);
    await looping.close();
    const processing = client.consumer<Buffer, { id: number }>({ groupId: 'serde-process', topics: [topic], fromBeginning: true, valueDeserializer: deserializer });
    const seen: number[] = [];
    const done = processing.process(async (record) => {
      seen.push(record.value!.id);
      if (seen.length === 2) void processing.close();
    });
    await done;
    expect(seen).toEqual([1, 2]);
  });

  it('under a failure policy, a record that does not deserialize goes to the dead-letter topic at once, raw, and the member goes on', async () => {
    const { client } = strata;
    const topic = 'poison-serde';
    await client.admin.createTopic(topic, { partitions: 1 });
    const serializer = schemaSerializer({ registry: client.schemas, format: 'json', schema: order });
    const raw = client.producer({ lingerMs: 0 });
    await raw.sendBatch(topic, [{ value: Buffer.from(await serializer.serialize({ id: 1 }, { topic, isKey: false })) }, { value: 'not framed' }, { value: Buffer.from(await serializer.serialize({ id: 3 }, { topic, isKey: false })) }]);
    await raw.close();
    const attempts: number[] = [];
    const seen: number[] = [];
    // Retries an hour apart: only a dead letter without retrying lets this test end.
    const consumer = client.consumer<Buffer, { id: number }>({
      groupId: 'serde-dlq',
      topics: [topic],
      fromBeginning: true,
      logger: { warn: () => undefined },
      onFailure: { maxAttempts: 5, backoff: { baseMs: 3_600_000, jitter: 0 } },
      valueDeserializer: schemaDeserializer<{ id: number }>({ registry: client.schemas }),
    });
    const done = consumer.process((record, { attempt }) => {
      attempts.push(attempt);
      seen.push(record.value!.id);
      if (seen.length === 2) void consumer.close();
    });
    await done;
    expect(seen).toEqual([1, 3]);
    expect(attempts).toEqual([1, 1]);
    const [letter] = await take(client.consume(`${topic}.dlq`, { from: 'earliest' }), 1);
    expect(letter!.value!.toString()).toBe('not framed');
    expect(letter!.headers.map((h) => h.value?.toString()).join(' ')).toMatch(/no schema framing/);
  });
});
