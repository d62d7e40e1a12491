import { describe, expect, it } from 'vitest';
import { IncompatibleSchemaError, InvalidConfigError, InvalidSchemaError, SchemaNotFoundError, SchemaNotSoftDeletedError, SchemaReferencedError, SchemaVersionNotFoundError, SubjectNotFoundError } from '../../src/core/errors.js';
import { useInProcessServer } from '../helpers/in-process-server.js';
import { rejection } from '../helpers/rejection.js';

const v1 = 'syntax = "proto3";\npackage shop;\nmessage Item {\n  int64 id = 1;\n  string name = 2;\n}\n';
const v2 = 'syntax = "proto3";\npackage shop;\nmessage Item {\n  int64 id = 1;\n  string name = 2;\n  double price = 3;\n}\n';
const removedName = 'syntax = "proto3";\npackage shop;\nmessage Item {\n  int64 id = 1;\n}\n';

describe('SchemaService over gRPC (client.schemas)', () => {
  const strata = useInProcessServer();

  it('registers, reads back by id and version, lists, checks compatibility and sets levels', async () => {
    const schemas = strata.client.schemas;
    const first = await schemas.register('items-value', { schemaType: 'PROTOBUF', schema: v1 });
    expect(first.version).toBe(1);
    expect(await schemas.register('items-value', { schemaType: 'PROTOBUF', schema: v1 })).toEqual(first);
    const second = await schemas.register('items-value', { schemaType: 'PROTOBUF', schema: v2 });
    expect(second).toEqual({ id: first.id + 1, version: 2 });
    expect(await schemas.getById(first.id)).toEqual({ schemaType: 'PROTOBUF', schema: v1, references: [], versions: [{ subject: 'items-value', version: 1 }] });
    expect(await schemas.getVersion('items-value')).toMatchObject({ subject: 'items-value', version: 2, id: second.id, schema: v2, isDeleted: false });
    expect(await schemas.listSubjects()).toContain('items-value');
    expect(await schemas.listVersions('items-value')).toEqual([1, 2]);

    const check = await schemas.checkCompatibility('items-value', { schemaType: 'PROTOBUF', schema: removedName });
    expect(check.isCompatible).toBe(false);
    expect(check.messages.join(' ')).toMatch(/field 2 \('name'\) removed without reserving/);
    expect(await rejection(schemas.register('items-value', { schemaType: 'PROTOBUF', schema: removedName }))).toBeInstanceOf(IncompatibleSchemaError);
    expect(await schemas.listVersions('items-value')).toEqual([1, 2]);

    expect(await schemas.getConfig()).toBe('BACKWARD');
    expect(await rejection(schemas.getConfig('items-value'))).toBeInstanceOf(SubjectNotFoundError);
    expect(await schemas.getConfig('items-value', { defaultToGlobal: true })).toBe('BACKWARD');
    await schemas.setConfig('NONE', 'items-value');
    expect(await schemas.getConfig('items-value')).toBe('NONE');
    expect((await schemas.register('items-value', { schemaType: 'PROTOBUF', schema: removedName })).version).toBe(3);
    expect(await rejection(schemas.setConfig('SIDEWAYS' as never))).toBeInstanceOf(InvalidConfigError);
  });

  it('references: a schema naming another registers once it exists, and the referenced version cannot be deleted under it', async () => {
    const schemas = strata.client.schemas;
    const address = JSON.stringify({ type: 'record', name: 'Address', namespace: 'shop', fields: [{ name: 'city', type: 'string' }] });
    const person = JSON.stringify({ type: 'record', name: 'Person', namespace: 'shop', fields: [{ name: 'home', type: 'shop.Address' }] });
    const references = [{ name: 'shop.Address', subject: 'address-value', version: 1 }];
    expect(await rejection(schemas.register('person-value', { schema: person, references }))).toBeInstanceOf(InvalidSchemaError);
    await schemas.register('address-value', { schema: address });
    const registered = await schemas.register('person-value', { schema: person, references });
    expect((await schemas.getById(registered.id)).references).toEqual(references);
    expect(await rejection(schemas.deleteVersion('address-value', 1))).toBeInstanceOf(SchemaReferencedError);
    await schemas.deleteSubject('person-value');
    expect(await schemas.deleteVersion('address-value', 1)).toBe(1);
  });

  it('deletes: soft first, then permanent; unknown subjects, versions and ids are typed errors', async () => {
    const schemas = strata.client.schemas;
    await schemas.register('gone-value', { schema: '"string"' });
    expect(await rejection(schemas.deleteSubject('gone-value', { permanent: true }))).toBeInstanceOf(SchemaNotSoftDeletedError);
    expect(await schemas.deleteSubject('gone-value')).toEqual([1]);
    expect(await rejection(schemas.listVersions('gone-value'))).toBeInstanceOf(SubjectNotFoundError);
    expect(await schemas.listVersions('gone-value', { includeDeleted: true })).toEqual([1]);
    expect(await schemas.deleteSubject('gone-value', { permanent: true })).toEqual([1]);
    expect(await schemas.listSubjects({ includeDeleted: true })).not.toContain('gone-value');
    expect(await rejection(schemas.getVersion('items-value', 99))).toBeInstanceOf(SchemaVersionNotFoundError);
    expect(await rejection(schemas.getById(987_654))).toBeInstanceOf(SchemaNotFoundError);
    expect(await rejection(schemas.register('bad-value', { schemaType: 'JSON', schema: '{"type": 12}' }))).toBeInstanceOf(InvalidSchemaError);
  });
});
