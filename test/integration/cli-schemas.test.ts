import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useCliServer } from '../helpers/cli-server.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const V1 = JSON.stringify({ type: 'record', name: 'Order', fields: [{ name: 'id', type: 'string' }] });
// A new field with a default: BACKWARD compatible (a reader of v2 reads v1's records).
const V2 = JSON.stringify({ type: 'record', name: 'Order', fields: [{ name: 'id', type: 'string' }, { name: 'total', type: 'long', default: 0 }] });
// A new field without a default: a reader of it cannot read v2's records.
const BREAKING = JSON.stringify({ type: 'record', name: 'Order', fields: [{ name: 'id', type: 'string' }, { name: 'total', type: 'long' }, { name: 'currency', type: 'string' }] });

describe('strata schemas', () => {
  const cli = useCliServer();
  let dir: { path: string; remove: () => Promise<void> };
  const file = (name: string, text: string) => {
    const path = join(dir.path, name);
    writeFileSync(path, text);
    return path;
  };
  beforeAll(async () => {
    dir = await makeTempDir();
  });
  afterAll(async () => {
    await dir.remove();
  });

  it('registers, lists, gets, checks compatibility and deletes, as the registry answers', async () => {
    const registered = await cli.strata('schemas', 'register', 'orders-value', '--file', file('v1.avsc', V1), '--json');
    const { id } = JSON.parse(registered.stdout) as { id: number; version: number };
    expect(JSON.parse(registered.stdout)).toMatchObject({ subject: 'orders-value', version: 1 });
    // The same schema again: the same id and version.
    expect(JSON.parse((await cli.strata('schemas', 'register', 'orders-value', '--file', file('v1-again.avsc', V1), '--json')).stdout)).toMatchObject({ id, version: 1 });
    expect((await cli.strata('schemas', 'register', 'orders-value', '--file', file('v2.avsc', V2))).stdout).toBe(`orders-value: version 2, schema id ${id + 1}\n`);

    expect((await cli.strata('schemas', 'list')).stdout).toBe('orders-value\n');
    expect((await cli.strata('schemas', 'list', 'orders-value')).stdout).toBe('1\n2\n');
    const latest = JSON.parse((await cli.strata('schemas', 'get', 'orders-value', '--json')).stdout) as { version: number; schema: string; schemaType: string };
    expect(latest).toMatchObject({ version: 2, schemaType: 'AVRO' });
    expect(JSON.parse(latest.schema)).toEqual(JSON.parse(V2));
    expect((await cli.strata('schemas', 'get', 'orders-value', '--schema-version', '1')).stdout).toContain('"name":"id"');

    expect((await cli.strata('schemas', 'check-compatibility', 'orders-value', '--file', file('v2-copy.avsc', V2))).stdout).toBe('compatible\n');
    const breaking = await cli.strata('schemas', 'check-compatibility', 'orders-value', '--file', file('breaking.avsc', BREAKING)).catch((error: { code: number; stdout: string }) => error);
    expect(breaking).toMatchObject({ code: 1 });
    expect((breaking as { stdout: string }).stdout).toMatch(/^NOT compatible:/);
    const refused = await cli.strata('schemas', 'register', 'orders-value', '--file', file('breaking2.avsc', BREAKING)).catch((error: { code: number; stderr: string }) => error);
    expect(refused).toMatchObject({ code: 1 });
    expect((refused as { stderr: string }).stderr).toMatch(/INCOMPATIBLE_SCHEMA/);

    expect((await cli.strata('schemas', 'delete', 'orders-value', '--schema-version', '1')).stdout).toBe('orders-value: deleted version 1\n');
    expect((await cli.strata('schemas', 'list', 'orders-value')).stdout).toBe('2\n');
    expect((await cli.strata('schemas', 'list', 'orders-value', '--deleted')).stdout).toBe('1\n2\n');
  }, 120_000);

  it('refuses a bad type, a missing file and an unknown subject with one line and exit code 1', async () => {
    const badType = await cli.strata('schemas', 'register', 's', '--file', file('x.avsc', V1), '--type', 'XML').catch((error: { code: number; stderr: string }) => error);
    expect(badType).toMatchObject({ code: 1 });
    expect((badType as { stderr: string }).stderr).toMatch(/--type must be one of AVRO, JSON, PROTOBUF/);
    const missing = await cli.strata('schemas', 'register', 's', '--file', join(dir.path, 'nope.avsc')).catch((error: { code: number; stderr: string }) => error);
    expect((missing as { stderr: string }).stderr).toMatch(/cannot read the schema file .*ENOENT/);
    const unknown = await cli.strata('schemas', 'get', 'no-such-subject').catch((error: { code: number; stderr: string }) => error);
    expect(unknown).toMatchObject({ code: 1 });
    expect((unknown as { stderr: string }).stderr).toMatch(/SUBJECT_NOT_FOUND/);
  }, 60_000);
});
