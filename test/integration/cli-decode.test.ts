import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StrataClient } from '../../src/client/strata-client.js';
import { schemaSerializer } from '../../src/client/schema-serializer.js';
import { frameWithSchemaId } from '../../src/format/schema-framing.js';
import { useCliServer } from '../helpers/cli-server.js';
import { STRATA_BIN } from '../helpers/server-process.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const user = { type: 'record', name: 'User', namespace: 'strata.cli', fields: [{ name: 'name', type: 'string' }, { name: 'avatar', type: 'bytes' }] };
const order = { title: 'Order', type: 'object', properties: { id: { type: 'integer' } }, required: ['id'], additionalProperties: false };
const orderProto = 'syntax = "proto3";\npackage strata.cli;\nmessage Order {\n  int64 id = 1;\n  string note = 2;\n}\n';

type Failure = { code: number; stdout: string; stderr: string };
const lines = (stdout: string) => stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);

describe('strata consume --decode and produce --value-schema', () => {
  const cli = useCliServer();
  let dir: { path: string; remove: () => Promise<void> };
  let client: StrataClient;
  const file = (name: string, text: string) => {
    const path = join(dir.path, name);
    writeFileSync(path, text);
    return path;
  };
  /** The CLI with `input` on its standard input. */
  const strataWithInput = (input: string, ...args: string[]) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [STRATA_BIN, ...args], { env: { ...process.env, STRATA_SERVER: cli.server.address } });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr }));
      child.stdin.end(input);
    });
  beforeAll(async () => {
    dir = await makeTempDir();
    client = new StrataClient({ address: cli.server.address });
  });
  afterAll(async () => {
    client.close();
    await dir.remove();
  });

  it('prints keys and values decoded (Avro, JSON Schema, Protobuf; framed keys too), unframed ones as text with a note, undecodable ones with the reason', async () => {
    await client.admin.createTopic('decoded', { partitions: 1 });
    // Three formats under one subject: only with compatibility NONE.
    await client.schemas.setConfig('NONE', 'decoded-value');
    const keyed = client.producer({
      keySerializer: schemaSerializer({ registry: client.schemas, format: 'avro', schema: '"string"' }),
      valueSerializer: schemaSerializer({ registry: client.schemas, format: 'avro', schema: user }),
      lingerMs: 0,
    });
    await keyed.send('decoded', { key: 'k1', value: { name: 'ada', avatar: Buffer.from([1, 2, 3]) } });
    await keyed.close();
    const json = client.producer({ valueSerializer: schemaSerializer({ registry: client.schemas, format: 'json', schema: order }), lingerMs: 0 });
    await json.send('decoded', { key: 'plain-key', value: { id: 7 } });
    await json.close();
    const proto = client.producer({ valueSerializer: schemaSerializer({ registry: client.schemas, format: 'protobuf', schema: orderProto }), lingerMs: 0 });
    await proto.send('decoded', { value: { id: Number.MAX_SAFE_INTEGER, note: 'big' } });
    await proto.close();
    const raw = client.producer({ lingerMs: 0 });
    await raw.sendBatch('decoded', [{ value: 'not framed' }, { value: frameWithSchemaId(424_242, Buffer.from('x')) }, { value: null }]);
    await raw.close();
    const valueId = (await client.schemas.getVersion('decoded-value', 1)).id;
    const keyId = (await client.schemas.getVersion('decoded-key', 1)).id;

    const { stdout, stderr } = await cli.strata('consume', 'decoded', '--from-beginning', '--decode');
    const printed = lines(stdout);
    expect(printed.map(({ offset, key, keySchemaId, value, valueSchemaId }) => ({ offset, key, keySchemaId, value, valueSchemaId }))).toEqual([
      { offset: 0, key: 'k1', keySchemaId: keyId, value: { name: 'ada', avatar: 'AQID' }, valueSchemaId: valueId },
      { offset: 1, key: 'plain-key', keySchemaId: null, value: { id: 7 }, valueSchemaId: expect.any(Number) },
      // int64 as a decimal string (as Protobuf's JSON mapping prints it).
      { offset: 2, key: null, keySchemaId: null, value: { id: '9007199254740991', note: 'big' }, valueSchemaId: expect.any(Number) },
      { offset: 3, key: null, keySchemaId: null, value: 'not framed', valueSchemaId: null },
      { offset: 4, key: null, keySchemaId: null, value: '\u0000\u0000\u0006y2x', valueSchemaId: 424_242 },
      { offset: 5, key: null, keySchemaId: null, value: null, valueSchemaId: null },
    ]);
    expect(printed[4]!.valueError).toMatch(/schema id 424242, which the registry does not have/);
    expect(printed[0]).toMatchObject({ topic: 'decoded', partition: 0, headers: [] });
    expect(stderr).toMatch(/decoded\/0 offset 3 .*without schema framing/);
    // Without --decode, as before: the bytes as text.
    expect((await cli.strata('consume', 'decoded', '--offset', '3', '--max-messages', '1')).stdout).toBe('not framed\n');
    expect(await cli.strata('consume', 'decoded', '--decode', '--print-keys').catch((error: Failure) => error)).toMatchObject({ code: 1, stderr: expect.stringMatching(/--decode prints JSON lines/) });
  }, 120_000);

  it('encodes JSON lines with --value-schema (registered under <topic>-value) or --value-schema-id, and refuses a line that does not fit', async () => {
    await client.admin.createTopic('typed', { partitions: 1 });
    const schemaFile = file('user.avsc', JSON.stringify({ ...user, fields: [user.fields[0]] }));
    const produced = await strataWithInput('{"name": "ada"}\n{"name": "bob"}\n', 'produce', 'typed', '--value-schema', schemaFile);
    expect(produced.stderr).toBe('produced 2 records to typed\n');
    expect(produced.code).toBe(0);
    const { id } = await client.schemas.getVersion('typed-value', 'latest');
    // By id: a JSON Schema registered elsewhere, any subject.
    const jsonId = (await client.schemas.register('anything', { schemaType: 'JSON', schema: JSON.stringify(order) })).id;
    await cli.strata('produce', 'typed', '--value-schema-id', String(jsonId), '--value', '{"id": 3}');
    const printed = lines((await cli.strata('consume', 'typed', '--from-beginning', '--decode')).stdout);
    expect(printed.map(({ value, valueSchemaId }) => ({ value, valueSchemaId }))).toEqual([
      { value: { name: 'ada' }, valueSchemaId: id },
      { value: { name: 'bob' }, valueSchemaId: id },
      { value: { id: 3 }, valueSchemaId: jsonId },
    ]);

    const misfit = await strataWithInput('{"name": 5}\n', 'produce', 'typed', '--value-schema', schemaFile);
    expect(misfit.code).toBe(1);
    expect(misfit.stderr).toMatch(/RECORD_SERIALIZATION_FAILED/);
    const notJson = await cli.strata('produce', 'typed', '--value-schema', schemaFile, '--value', 'ada').catch((error: Failure) => error);
    expect(notJson).toMatchObject({ code: 1, stderr: expect.stringMatching(/record 1 is not JSON/) });
    const unknownId = await cli.strata('produce', 'typed', '--value-schema-id', '999999', '--value', '{}').catch((error: Failure) => error);
    expect(unknownId).toMatchObject({ code: 1, stderr: expect.stringMatching(/schema id 999999 is not in the registry/) });
    // Nothing of the refused ones was written.
    expect((await client.admin.listOffsets('typed', 'latest'))[0]!.offset).toBe(3);
  }, 120_000);

  it('queue consume --decode prints decoded values with the delivery fields', async () => {
    await client.admin.createTopic('tasks', { partitions: 1 });
    const producer = client.producer({ valueSerializer: schemaSerializer({ registry: client.schemas, format: 'json', schema: order }), lingerMs: 0 });
    await producer.send('tasks', { value: { id: 11 } });
    await producer.close();
    const { stdout } = await cli.strata('queue', 'consume', 'tasks', '--group', 'workers', '--max-messages', '1', '--decode');
    expect(lines(stdout)).toEqual([expect.objectContaining({ offset: 0, value: { id: 11 }, deliveryCount: 1 })]);
  }, 120_000);
});
