import avro from 'avsc';
import { describe, expect, it } from 'vitest';
import type { StrataClient } from '../../src/client/strata-client.js';
import { RecordValidationFailedError } from '../../src/core/errors.js';
import { useInProcessServer } from '../helpers/in-process-server.js';

const ORDER_SCHEMA = JSON.stringify({ type: 'record', name: 'Order', fields: [{ name: 'id', type: 'long' }, { name: 'item', type: 'string' }] });
const orderType = avro.Type.forSchema(JSON.parse(ORDER_SCHEMA) as avro.Schema);
const ORDER_V2_SCHEMA = JSON.stringify({ type: 'record', name: 'Order', fields: [{ name: 'id', type: 'long' }, { name: 'item', type: 'string' }, { name: 'note', type: 'string', default: '' }] });

/** Confluent framing by hand: magic byte 0, the schema id (4 bytes, big-endian), the payload. */
function framed(id: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.writeInt32BE(id, 1);
  return Buffer.concat([head, payload]);
}
const order = (id: number, schemaId: number) => framed(schemaId, orderType.toBuffer({ id, item: `item-${id}` }));

async function endOffset(client: StrataClient, topic: string): Promise<number> {
  const [latest] = await client.admin.listOffsets(topic, 'latest');
  return latest!.offset;
}

async function refusal(client: StrataClient, topic: string, records: Array<{ key?: Buffer | string | null; value: Buffer | string | null }>): Promise<RecordValidationFailedError> {
  const producer = client.producer({ lingerMs: 0 });
  try {
    const error = await producer.sendBatch(topic, records).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(RecordValidationFailedError);
    return error as RecordValidationFailedError;
  } finally {
    await producer.close().catch(() => undefined);
  }
}

async function send(client: StrataClient, topic: string, records: Array<{ key?: Buffer | string | null; value: Buffer | string | null }>): Promise<number[]> {
  const producer = client.producer({ lingerMs: 0 });
  try {
    return (await producer.sendBatch(topic, records)).map((r) => r.offset);
  } finally {
    await producer.close();
  }
}

describe('schema.validation on the produce path, over a server', () => {
  const fixture = useInProcessServer();

  it('takes framed records naming a live version of <topic>-value under id; refuses each failure with its index, appending nothing', async () => {
    const { client } = fixture;
    await client.admin.createTopic('orders', { partitions: 1, config: { 'schema.validation': 'id' } });
    const { id } = await client.schemas.register('orders-value', { schema: ORDER_SCHEMA });
    const { id: otherId } = await client.schemas.register('elsewhere-value', { schema: JSON.stringify({ type: 'record', name: 'Other', fields: [{ name: 'x', type: 'int' }] }) });
    expect(await send(client, 'orders', [{ value: order(1, id) }, { value: order(2, id) }])).toEqual([0, 1]);

    const cases: Array<[Buffer, RegExp]> = [
      [Buffer.from([0, 0, 0]), /record 1 of the request: its value is 3 bytes, too short for the schema framing/],
      [Buffer.from('{"id":1}'), /record 1 of the request: its value does not start with the magic byte 0 of the schema framing \(first byte 0x7b\)/],
      [order(3, 9999), /record 1 of the request: its value names schema id 9999, which the schema registry does not know/],
      [order(3, otherId), new RegExp(`record 1 of the request: its value names schema id ${otherId}, which is not a live version of subject 'orders-value'`)],
    ];
    for (const [bad, message] of cases) {
      const error = await refusal(client, 'orders', [{ value: order(3, id) }, { value: bad }, { value: order(4, id) }]);
      expect(error.message).toMatch(message);
      expect(error.code).toBe('RECORD_VALIDATION_FAILED');
      expect(error.recordIndex).toBe(1);
      expect(error.retriable).toBe(false);
      expect(await endOffset(client, 'orders')).toBe(2);
    }
    // A payload that does not decode passes `id` (only the framing and id are checked there).
    expect(await send(client, 'orders', [{ value: framed(id, Buffer.from([0xff])) }])).toEqual([2]);
  });

  it('under full also decodes the payload (Avro): refuses a bad one in a mixed request whole', async () => {
    const { client } = fixture;
    await client.admin.createTopic('orders-full', { partitions: 1, config: { 'schema.validation': 'full' } });
    const { id } = await client.schemas.register('orders-full-value', { schema: ORDER_SCHEMA });
    expect(await send(client, 'orders-full', [{ value: order(1, id) }])).toEqual([0]);
    const truncated = order(2, id).subarray(0, 8);
    const error = await refusal(client, 'orders-full', [{ value: order(3, id) }, { value: order(4, id) }, { value: truncated }, { value: order(5, id) }]);
    expect(error.message).toMatch(new RegExp(`record 2 of the request: its value \\(schema id ${id}\\) does not decode: it ends before its Avro value does`));
    expect(error.recordIndex).toBe(2);
    const trailing = Buffer.concat([order(2, id), Buffer.from([1, 2])]);
    expect((await refusal(client, 'orders-full', [{ value: trailing }])).message).toMatch(/record 0 of the request: .* has 2 bytes after its Avro value/);
    expect(await endOffset(client, 'orders-full')).toBe(1);
  });

  it('under full checks JSON Schema and Protobuf payloads (with the message-index array)', async () => {
    const { client } = fixture;
    await client.admin.createTopic('json-full', { partitions: 1, config: { 'schema.validation': 'full' } });
    const { id: jsonId } = await client.schemas.register('json-full-value', {
      schemaType: 'JSON',
      schema: JSON.stringify({ type: 'object', properties: { n: { type: 'integer' } }, required: ['n'] }),
    });
    expect(await send(client, 'json-full', [{ value: framed(jsonId, Buffer.from('{"n":1}')) }])).toEqual([0]);
    expect((await refusal(client, 'json-full', [{ value: framed(jsonId, Buffer.from('{"n":"one"}')) }])).message).toMatch(/record 0 .* is not valid against the JSON Schema \(data\/n must be integer\)/);
    expect((await refusal(client, 'json-full', [{ value: framed(jsonId, Buffer.from('{"n":')) }])).message).toMatch(/record 0 .* is not JSON text/);

    await client.admin.createTopic('proto-full', { partitions: 1, config: { 'schema.validation': 'full' } });
    const proto = 'syntax = "proto3";\npackage shop;\nmessage First { string a = 1; }\nmessage Order { int64 id = 1; string item = 2; message Line { int32 qty = 1; } }\n';
    const { id: protoId } = await client.schemas.register('proto-full-value', { schemaType: 'PROTOBUF', schema: proto });
    // Order is message 1: indexes [1] -> count 1 (zigzag 2), index 1 (zigzag 2). Line inside it: [1, 0].
    const orderBytes = Buffer.from([0x08, 0x07, 0x12, 0x01, 0x78]); // id = 7, item = "x"
    const lineBytes = Buffer.from([0x08, 0x03]); // qty = 3
    expect(
      await send(client, 'proto-full', [
        { value: framed(protoId, Buffer.concat([Buffer.from([2, 2]), orderBytes])) },
        { value: framed(protoId, Buffer.concat([Buffer.from([4, 2, 0]), lineBytes])) },
        { value: framed(protoId, Buffer.concat([Buffer.from([0]), Buffer.from([0x0a, 0x01, 0x61])])) }, // First, a = "a"
      ]),
    ).toEqual([0, 1, 2]);
    expect((await refusal(client, 'proto-full', [{ value: framed(protoId, Buffer.concat([Buffer.from([2, 10]), orderBytes])) }])).message).toMatch(/names message index 5, which the schema does not define/);
    expect((await refusal(client, 'proto-full', [{ value: framed(protoId, Buffer.from([2, 2, 0x12, 0x09, 0x78])) }])).message).toMatch(/is not Protobuf of message shop.Order/);
  });

  it('lets null values (tombstones) through, and checks keys against <topic>-key only with schema.key.validation, altered live', async () => {
    const { client } = fixture;
    await client.admin.createTopic('keyed', { partitions: 1, config: { 'schema.validation': 'full' } });
    const { id } = await client.schemas.register('keyed-value', { schema: ORDER_SCHEMA });
    expect(await send(client, 'keyed', [{ key: 'plain key', value: order(1, id) }, { key: 'gone', value: null }])).toEqual([0, 1]);

    await client.admin.alterTopicConfig('keyed', { set: { 'schema.key.validation': 'true' } });
    const keyError = await refusal(client, 'keyed', [{ key: null, value: order(2, id) }, { key: 'plain key', value: order(3, id) }]);
    expect(keyError.message).toMatch(/record 1 of the request: its key does not start with the magic byte 0/);
    expect((await refusal(client, 'keyed', [{ key: framed(id, Buffer.from('x')), value: order(2, id) }])).message).toMatch(new RegExp(`its key names schema id ${id}, which is not a live version of subject 'keyed-key'`));
    const { id: keyId } = await client.schemas.register('keyed-key', { schema: '"string"' });
    const key = framed(keyId, avro.Type.forSchema('string').toBuffer('k-1'));
    expect(await send(client, 'keyed', [{ key, value: order(2, id) }, { key: null, value: order(3, id) }, { key, value: null }])).toEqual([2, 3, 4]);

    await client.admin.alterTopicConfig('keyed', { set: { 'schema.key.validation': 'false' } });
    expect(await send(client, 'keyed', [{ key: 'plain again', value: order(5, id) }])).toEqual([5]);
  });

  it('sees the registry change: a schema registered after the topic was validated becomes valid, a soft-deleted one stops being', async () => {
    const { client } = fixture;
    await client.admin.createTopic('evolving', { partitions: 1, config: { 'schema.validation': 'id' } });
    const { id: v1 } = await client.schemas.register('evolving-value', { schema: ORDER_SCHEMA });
    const { id: v2 } = await client.schemas.register('other-subject-value', { schema: ORDER_V2_SCHEMA });
    expect(await send(client, 'evolving', [{ value: order(1, v1) }])).toEqual([0]);
    // v2's id exists but is not under the subject yet: refused (and that answer is cached per subject).
    await refusal(client, 'evolving', [{ value: framed(v2, Buffer.from([2])) }]);
    expect(await client.schemas.register('evolving-value', { schema: ORDER_V2_SCHEMA })).toEqual({ id: v2, version: 2 });
    expect(await send(client, 'evolving', [{ value: framed(v2, Buffer.from([2])) }])).toEqual([1]);
    await client.schemas.deleteVersion('evolving-value', 1);
    expect((await refusal(client, 'evolving', [{ value: order(2, v1) }])).message).toMatch(/not a live version of subject 'evolving-value'/);
    expect(await endOffset(client, 'evolving')).toBe(2);
  });

  it('switches live between none, id and full through AlterTopicConfig, from the next produce request', async () => {
    const { client } = fixture;
    await client.admin.createTopic('switched', { partitions: 1 });
    const { id } = await client.schemas.register('switched-value', { schema: ORDER_SCHEMA });
    expect(await send(client, 'switched', [{ value: 'not framed' }])).toEqual([0]);
    await client.admin.alterTopicConfig('switched', { set: { 'schema.validation': 'id' } });
    await refusal(client, 'switched', [{ value: 'not framed' }]);
    expect(await send(client, 'switched', [{ value: framed(id, Buffer.from([0xff])) }])).toEqual([1]);
    await client.admin.alterTopicConfig('switched', { set: { 'schema.validation': 'full' } });
    await refusal(client, 'switched', [{ value: framed(id, Buffer.from([0xff])) }]);
    await client.admin.alterTopicConfig('switched', { delete: ['schema.validation'] });
    expect(await send(client, 'switched', [{ value: 'not framed' }])).toEqual([2]);
    await expect(client.admin.alterTopicConfig('switched', { set: { 'schema.validation': 'strict' } })).rejects.toMatchObject({ code: 'INVALID_CONFIG' });
  });

  it('under schema.subject.strategy record / topic-record, takes ids registered under the record name (Avro full name, Protobuf message, JSON title)', async () => {
    const { client } = fixture;
    const namespaced = JSON.stringify({ type: 'record', name: 'Order', namespace: 'shop', fields: [{ name: 'id', type: 'long' }, { name: 'item', type: 'string' }] });
    const shopOrder = (n: number, schemaId: number) => framed(schemaId, orderType.toBuffer({ id: n, item: `item-${n}` }));
    await client.admin.createTopic('by-record', { partitions: 1, config: { 'schema.validation': 'full', 'schema.subject.strategy': 'record' } });
    const { id } = await client.schemas.register('shop.Order', { schema: namespaced });
    expect(await send(client, 'by-record', [{ value: shopOrder(1, id) }])).toEqual([0]);
    // The topic's own subject does not count under this strategy.
    const { id: topicOnly } = await client.schemas.register('by-record-value', { schema: ORDER_SCHEMA });
    expect((await refusal(client, 'by-record', [{ value: order(2, topicOnly) }])).message).toMatch(new RegExp(`record 0 .* names schema id ${topicOnly}, which is not a live version of subject 'Order'`));
    const { id: primitive } = await client.schemas.register('anything', { schema: '"string"' });
    expect((await refusal(client, 'by-record', [{ value: framed(primitive, Buffer.from([2, 0x61])) }])).message).toMatch(/has no record name for schema.subject.strategy=record: the Avro schema is not a named type/);

    const proto = 'syntax = "proto3";\npackage shop;\nmessage First { string a = 1; }\nmessage Line { int32 qty = 1; }\n';
    const { id: protoId } = await client.schemas.register('shop.Line', { schemaType: 'PROTOBUF', schema: proto });
    expect(await send(client, 'by-record', [{ value: framed(protoId, Buffer.from([2, 2, 0x08, 0x03])) }])).toEqual([1]);
    expect((await refusal(client, 'by-record', [{ value: framed(protoId, Buffer.from([0, 0x0a, 0x01, 0x61])) }])).message).toMatch(new RegExp(`names schema id ${protoId}, which is not a live version of subject 'shop.First'`));
    const { id: jsonId } = await client.schemas.register('Reading', { schemaType: 'JSON', schema: JSON.stringify({ title: 'Reading', type: 'object' }) });
    expect(await send(client, 'by-record', [{ value: framed(jsonId, Buffer.from('{}')) }])).toEqual([2]);

    await client.admin.createTopic('by-topic-record', { partitions: 1, config: { 'schema.validation': 'id', 'schema.subject.strategy': 'topic-record' } });
    await refusal(client, 'by-topic-record', [{ value: shopOrder(3, id) }]);
    expect(await client.schemas.register('by-topic-record-shop.Order', { schema: namespaced })).toMatchObject({ id });
    expect(await send(client, 'by-topic-record', [{ value: shopOrder(3, id) }])).toEqual([0]);
    await client.admin.alterTopicConfig('by-topic-record', { set: { 'schema.subject.strategy': 'topic' } });
    expect((await refusal(client, 'by-topic-record', [{ value: shopOrder(4, id) }])).message).toMatch(/not a live version of subject 'by-topic-record-value'/);
  });

  it('checks records on a topic with dedupe.window.ms too, before any message id is remembered', async () => {
    const { client } = fixture;
    await client.admin.createTopic('deduped', { partitions: 1, config: { 'schema.validation': 'id', 'dedupe.window.ms': '60000' } });
    const { id } = await client.schemas.register('deduped-value', { schema: ORDER_SCHEMA });
    const producer = client.producer({ lingerMs: 0 });
    try {
      const error = await producer.sendBatch('deduped', [{ value: order(1, id), messageId: 'm-1' }, { value: 'not framed', messageId: 'm-2' }]).catch((e: unknown) => e);
      expect((error as Error).message).toMatch(/record 1 of the request: its value does not start with the magic byte 0/);
      expect(await endOffset(client, 'deduped')).toBe(0);
      // m-1 was not taken for written: sent again (valid), it is appended, not answered as a duplicate.
      const [result] = await producer.sendBatch('deduped', [{ value: order(1, id), messageId: 'm-1' }]);
      expect(result).toMatchObject({ offset: 0 });
      expect(result!.duplicate).toBeUndefined();
    } finally {
      await producer.close();
    }
  });

  it('checks records of gzip batches too', async () => {
    const { client } = fixture;
    await client.admin.createTopic('zipped', { partitions: 1, config: { 'schema.validation': 'full' } });
    const { id } = await client.schemas.register('zipped-value', { schema: ORDER_SCHEMA });
    const producer = client.producer({ lingerMs: 0, compression: 'gzip' });
    try {
      expect((await producer.sendBatch('zipped', [{ value: order(1, id) }, { value: order(2, id) }])).map((r) => r.offset)).toEqual([0, 1]);
      const error = await producer.sendBatch('zipped', [{ value: order(3, id) }, { value: Buffer.from('plain') }]).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RecordValidationFailedError);
      expect((error as Error).message).toMatch(/record 1 of the request: its value does not start with the magic byte 0/);
    } finally {
      await producer.close();
    }
    expect(await endOffset(client, 'zipped')).toBe(2);
  });

  it('keeps the behaviour across a restart: the config and the registry come back', async () => {
    const { client: before } = fixture;
    await before.admin.createTopic('durable-check', { partitions: 1, config: { 'schema.validation': 'full', 'schema.key.validation': 'true' } });
    const { id } = await before.schemas.register('durable-check-value', { schema: ORDER_SCHEMA });
    expect(await send(before, 'durable-check', [{ value: order(1, id) }])).toEqual([0]);
    await fixture.restart();
    const { client } = fixture;
    expect(await send(client, 'durable-check', [{ value: order(2, id) }])).toEqual([1]);
    expect((await refusal(client, 'durable-check', [{ value: framed(id, Buffer.from([0xff])) }])).message).toMatch(/does not decode/);
    expect((await refusal(client, 'durable-check', [{ key: 'a plain key', value: order(3, id) }])).message).toMatch(/its key does not start with the magic byte 0/);
    expect(await endOffset(client, 'durable-check')).toBe(2);
  });
});
