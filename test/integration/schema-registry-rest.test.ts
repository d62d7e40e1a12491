import { COMPATIBILITY, SchemaRegistry as ConfluentClient, SchemaType } from '@kafkajs/confluent-schema-registry';
import { describe, expect, it } from 'vitest';
import { MAX_SCHEMA_BYTES } from '../../src/core/limits.js';
import { httpCall } from '../helpers/http-call.js';
import { useInProcessServer } from '../helpers/in-process-server.js';

const CT = 'application/vnd.schemaregistry.v1+json';

const userV1 = { type: 'record', name: 'User', namespace: 'strata.test', fields: [{ name: 'name', type: 'string' }] };
const userV2 = { ...userV1, fields: [...userV1.fields, { name: 'age', type: 'int', default: 0 }] };
const userBreaking = { ...userV1, fields: [{ name: 'name', type: 'int' }] };

const orderJson = { $schema: 'http://json-schema.org/draft-07/schema#', type: 'object', properties: { id: { type: 'integer' }, note: { type: 'string' } }, required: ['id'], additionalProperties: false };
const orderProto = 'syntax = "proto3";\npackage strata.test;\nmessage Order {\n  int64 id = 1;\n  string note = 2;\n}\n';

/** A call to the registry's REST API as Confluent's clients send it; the answer's JSON. */
async function rest(port: number, method: string, path: string, body?: unknown): Promise<{ status: number; json: any; contentType: string | undefined }> {
  const answer = await httpCall(port, method, path, body === undefined ? undefined : JSON.stringify(body), { 'content-type': CT, accept: CT });
  let json: unknown;
  try {
    json = JSON.parse(answer.body);
  } catch {
    json = answer.body;
  }
  return { status: answer.status, json, contentType: answer.headers['content-type'] as string | undefined };
}

describe('schema registry: Confluent REST API on the HTTP port', () => {
  const strata = useInProcessServer();
  const port = () => strata.server.httpPort!;
  const confluent = () => new ConfluentClient({ host: `http://127.0.0.1:${port()}` });

  it('a Confluent client registers Avro, JSON Schema and Protobuf schemas and encodes/decodes with them', async () => {
    const client = confluent();
    const avro = await client.register({ type: SchemaType.AVRO, schema: JSON.stringify(userV1) }, { subject: 'users-value' });
    const json = await client.register({ type: SchemaType.JSON, schema: JSON.stringify(orderJson) }, { subject: 'orders-json-value' });
    const proto = await client.register({ type: SchemaType.PROTOBUF, schema: orderProto }, { subject: 'orders-proto-value' });
    expect(new Set([avro.id, json.id, proto.id]).size).toBe(3);

    // A fresh client (empty cache) fetches each schema by id from Strata to decode.
    const reader = confluent();
    const user = { name: 'ada' };
    expect(await reader.decode(await client.encode(avro.id, user))).toEqual(user);
    const order = { id: 7, note: 'fast' };
    expect(await reader.decode(await client.encode(json.id, order))).toEqual(order);
    const encodedProto = await client.encode(proto.id, { id: 7, note: 'fast' });
    const decodedProto = (await reader.decode(encodedProto)) as { id: unknown; note: string };
    expect(Number(decodedProto.id)).toBe(7);
    expect(decodedProto.note).toBe('fast');
    // Confluent framing: magic byte 0, then the id big-endian.
    expect(encodedProto[0]).toBe(0);
    expect(encodedProto.readUInt32BE(1)).toBe(proto.id);

    // The client set the subject's level on first registration; it reads it back from Strata.
    expect((await rest(port(), 'GET', '/config/users-value')).json).toEqual({ compatibilityLevel: COMPATIBILITY.BACKWARD });
    expect(await client.getLatestSchemaId('users-value')).toBe(avro.id);
  });

  it('registering the same schema twice returns its id; a compatible change a new version; the same schema under another subject the same id', async () => {
    const client = confluent();
    const first = await client.register({ type: SchemaType.AVRO, schema: JSON.stringify(userV1) }, { subject: 'people-value' });
    const reordered = JSON.stringify({ fields: userV1.fields, namespace: userV1.namespace, name: userV1.name, type: userV1.type }, null, 2);
    const again = await client.register({ type: SchemaType.AVRO, schema: reordered }, { subject: 'people-value' });
    expect(again.id).toBe(first.id);
    const v2 = await client.register({ type: SchemaType.AVRO, schema: JSON.stringify(userV2) }, { subject: 'people-value' });
    expect(v2.id).toBeGreaterThan(first.id);
    expect((await rest(port(), 'GET', '/subjects/people-value/versions')).json).toEqual([1, 2]);
    const latest = await rest(port(), 'GET', '/subjects/people-value/versions/latest');
    expect(latest.contentType).toBe(CT);
    expect(latest.json).toMatchObject({ subject: 'people-value', version: 2, id: v2.id });
    expect(JSON.parse(latest.json.schema)).toEqual(userV2);
    expect((await rest(port(), 'GET', '/subjects/people-value/versions/1/schema')).json).toEqual(userV1);
    const byId = await rest(port(), 'GET', `/schemas/ids/${first.id}/versions`);
    expect(byId.json).toEqual(expect.arrayContaining([{ subject: 'people-value', version: 1 }, { subject: 'users-value', version: 1 }]));
    const lookedUp = await rest(port(), 'POST', '/subjects/people-value', { schema: JSON.stringify(userV2) });
    expect(lookedUp.json).toMatchObject({ subject: 'people-value', version: 2, id: v2.id });
    expect((await rest(port(), 'GET', '/schemas/types')).json).toEqual(['AVRO', 'JSON', 'PROTOBUF']);
    // A reference: a record type of another subject, named by its full name.
    const address = { type: 'record', name: 'Address', namespace: 'strata.test', fields: [{ name: 'city', type: 'string' }] };
    const person = { type: 'record', name: 'Person', namespace: 'strata.test', fields: [{ name: 'home', type: 'strata.test.Address' }] };
    await rest(port(), 'POST', '/subjects/address-value/versions', { schema: JSON.stringify(address) });
    const references = [{ name: 'strata.test.Address', subject: 'address-value', version: 1 }];
    const personId = (await rest(port(), 'POST', '/subjects/person-value/versions', { schema: JSON.stringify(person), references })).json.id;
    expect((await rest(port(), 'GET', `/schemas/ids/${personId}`)).json).toEqual({ schema: JSON.stringify(person), references });
    expect((await rest(port(), 'GET', '/subjects/address-value/versions/1/referencedby')).json).toEqual([personId]);
  });

  it('an incompatible change is 409 and stores nothing; the compatibility endpoint says why with verbose=true', async () => {
    const before = (await rest(port(), 'GET', '/subjects/people-value/versions')).json;
    const refused = await rest(port(), 'POST', '/subjects/people-value/versions', { schema: JSON.stringify(userBreaking) });
    expect(refused.status).toBe(409);
    expect(refused.json.error_code).toBe(409);
    expect(refused.contentType).toBe(CT);
    expect((await rest(port(), 'GET', '/subjects/people-value/versions')).json).toEqual(before);
    const check = await rest(port(), 'POST', '/compatibility/subjects/people-value/versions/latest?verbose=true', { schema: JSON.stringify(userBreaking) });
    expect(check.json.is_compatible).toBe(false);
    expect(check.json.messages.length).toBeGreaterThan(0);
    const good = await rest(port(), 'POST', '/compatibility/subjects/people-value/versions/latest', { schema: JSON.stringify(userV2) });
    expect(good.json).toEqual({ is_compatible: true });
    // With the subject's level at NONE the same change registers.
    expect((await rest(port(), 'PUT', '/config/loose-value', { compatibility: 'NONE' })).json).toEqual({ compatibility: 'NONE' });
    await rest(port(), 'POST', '/subjects/loose-value/versions', { schema: JSON.stringify(userV1) });
    expect((await rest(port(), 'POST', '/subjects/loose-value/versions', { schema: JSON.stringify(userBreaking) })).status).toBe(200);
  });

  it('bad input gets Confluent error codes and stores nothing', async () => {
    const subjectsBefore = (await rest(port(), 'GET', '/subjects')).json;
    const cases: Array<[string, string, unknown, number, number]> = [
      ['POST', '/subjects/bad-value/versions', { schema: '{"type": "record", "name": "X", "fields": [{"name": "a", "type": "nope"}]}' }, 422, 42201],
      ['POST', '/subjects/bad-value/versions', { schema: '{ not json', schemaType: 'JSON' }, 422, 42201],
      ['POST', '/subjects/bad-value/versions', { schema: 'syntax = "proto3"; message {', schemaType: 'PROTOBUF' }, 422, 42201],
      ['POST', '/subjects/bad-value/versions', { schema: JSON.stringify({ type: 'object', properties: { a: { type: 'wrong' } } }), schemaType: 'JSON' }, 422, 42201],
      ['POST', '/subjects/bad-value/versions', { schema: '"string"', references: [{ name: 'x', subject: 'missing', version: 1 }] }, 422, 42201],
      ['POST', '/subjects/bad-value/versions', { schema: JSON.stringify({ type: 'string', doc: 'x'.repeat(MAX_SCHEMA_BYTES) }) }, 422, 42201],
      // A body past the HTTP port's 1 MiB: refused before it is parsed, in Confluent's shape too.
      ['POST', '/subjects/bad-value/versions', { schema: 'x'.repeat(1024 * 1024 + 1) }, 413, 413],
      ['POST', '/subjects/bad-value/versions', [1, 2], 422, 422],
      ['GET', '/subjects/no-such-subject/versions', undefined, 404, 40401],
      ['GET', '/subjects/people-value/versions/99', undefined, 404, 40402],
      ['GET', '/subjects/people-value/versions/abc', undefined, 422, 42202],
      ['GET', '/schemas/ids/999999', undefined, 404, 40403],
      ['POST', '/subjects/people-value', { schema: '"bytes"' }, 404, 40403],
      ['POST', '/subjects/no-such-subject', { schema: '"bytes"' }, 404, 40401],
      ['PUT', '/config', { compatibility: 'SIDEWAYS' }, 422, 42203],
      ['GET', '/config/never-configured', undefined, 404, 40408],
    ];
    for (const [method, path, body, status, errorCode] of cases) {
      const answer = await rest(port(), method, path, body);
      expect({ method, path, status: answer.status, errorCode: answer.json.error_code }).toEqual({ method, path, status, errorCode });
      expect(typeof answer.json.message).toBe('string');
    }
    expect((await rest(port(), 'GET', '/subjects')).json).toEqual(subjectsBefore);
    expect((await rest(port(), 'GET', '/config')).json).toEqual({ compatibilityLevel: 'BACKWARD' });
  });

  it('soft delete hides a version, hard delete needs a soft one first, and the registry survives a restart with the same ids', async () => {
    const client = confluent();
    const kept = await client.register({ type: SchemaType.AVRO, schema: JSON.stringify(userV1) }, { subject: 'restart-value' });
    // A schema only this version holds: its id goes with the hard delete, and is never given again.
    const onlyHere = { ...userV1, fields: [...userV1.fields, { name: 'nickname', type: 'string', default: '' }] };
    const forgotten = await client.register({ type: SchemaType.AVRO, schema: JSON.stringify(onlyHere) }, { subject: 'restart-value' });
    const hard = await rest(port(), 'DELETE', '/subjects/restart-value/versions/2?permanent=true');
    expect([hard.status, hard.json.error_code]).toEqual([404, 40407]);
    expect((await rest(port(), 'DELETE', '/subjects/restart-value/versions/2')).json).toBe(2);
    const softAgain = await rest(port(), 'DELETE', '/subjects/restart-value/versions/2');
    expect([softAgain.status, softAgain.json.error_code], 'a second soft delete: Confluent\'s "soft deleted already"').toEqual([404, 40406]);
    expect((await rest(port(), 'GET', '/subjects/restart-value/versions')).json).toEqual([1]);
    expect((await rest(port(), 'GET', '/subjects/restart-value/versions?deleted=true')).json).toEqual([1, 2]);
    expect((await rest(port(), 'DELETE', '/subjects/restart-value/versions/2?permanent=true')).json).toBe(2);
    expect((await rest(port(), 'GET', '/subjects/restart-value/versions?deleted=true')).json).toEqual([1]);
    expect((await rest(port(), 'GET', `/schemas/ids/${forgotten.id}`)).json.error_code).toBe(40403);
    const subjectHard = await rest(port(), 'DELETE', '/subjects/users-value?permanent=true');
    expect([subjectHard.status, subjectHard.json.error_code]).toEqual([404, 40405]);
    expect((await rest(port(), 'DELETE', '/subjects/users-value')).json).toEqual([1]);
    const subjectAgain = await rest(port(), 'DELETE', '/subjects/users-value');
    expect([subjectAgain.status, subjectAgain.json.error_code]).toEqual([404, 40404]);
    expect((await rest(port(), 'GET', '/subjects')).json).not.toContain('users-value');
    await rest(port(), 'PUT', '/config', { compatibility: 'FULL' });

    const before = {
      subjects: (await rest(port(), 'GET', '/subjects?deleted=true')).json,
      people: (await rest(port(), 'GET', '/subjects/people-value/versions/2')).json,
    };
    await strata.restart();
    expect((await rest(port(), 'GET', '/subjects?deleted=true')).json).toEqual(before.subjects);
    expect((await rest(port(), 'GET', '/subjects/people-value/versions/2')).json).toEqual(before.people);
    expect((await rest(port(), 'GET', `/schemas/ids/${kept.id}`)).json).toEqual({ schema: JSON.stringify(userV1) });
    expect((await rest(port(), 'GET', '/config')).json).toEqual({ compatibilityLevel: 'FULL' });
    // A new schema after the restart takes a new id, never one given before.
    const fresh = (await rest(port(), 'POST', '/subjects/fresh-value/versions', { schema: '"double"' })).json;
    expect(fresh.id).toBeGreaterThan(forgotten.id);
    const again = (await rest(port(), 'POST', '/subjects/restart-value/versions', { schema: JSON.stringify(onlyHere) })).json;
    expect(again.id).toBeGreaterThan(fresh.id);
  });
});
