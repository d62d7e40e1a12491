import { InvalidSchemaError, InvalidSchemaVersionError, SubjectNotFoundError } from '../core/errors.js';
import type { Schema__Output } from '../generated/strata/v1/Schema.js';
import type { SchemaServiceHandlers } from '../generated/strata/v1/SchemaService.js';
import type { SubjectVersion } from '../generated/strata/v1/SubjectVersion.js';
import { parseCompatibilityLevel } from '../schemas/compatibility-level.js';
import { isSchemaType, SCHEMA_TYPES } from '../schemas/schema-format.js';
import type { RegisteredSchema, SchemaInput, SchemaRegistry, VersionSelector } from '../schemas/schema-registry.js';
import { unary } from './unary.js';

/** The SchemaService: the registry's operations over gRPC, with the same errors as the REST API's (by Strata code). */
export function createSchemaService(registry: SchemaRegistry): SchemaServiceHandlers {
  return {
    RegisterSchema: unary(async (request) => registry.register(request.subject, schemaFromProto(request.schema))),
    GetSchemaById: unary(async (request) => ({
      schema: schemaToProto(registry.getById(request.id)),
      versions: registry.versionsOfId(request.id).map(({ subject, version }) => ({ subject, version, id: request.id })),
    })),
    GetSchemaVersion: unary(async (request) => ({
      version: versionToProto(registry.getVersion(request.subject, versionFromProto(request.version), { includeDeleted: request.includeDeleted })),
    })),
    ListSubjects: unary(async (request) => ({ subjects: registry.listSubjects({ includeDeleted: request.includeDeleted }) })),
    ListSchemaVersions: unary(async (request) => ({ versions: registry.listVersions(request.subject, { includeDeleted: request.includeDeleted }) })),
    CheckSchemaCompatibility: unary(async (request) => {
      const { isCompatible, messages } = registry.checkCompatibility(request.subject, schemaFromProto(request.schema), request.version === 0 ? undefined : versionFromProto(request.version));
      return { isCompatible, messages };
    }),
    DeleteSchemaVersion: unary(async (request) => ({ version: await registry.deleteVersion(request.subject, versionFromProto(request.version), { permanent: request.permanent }) })),
    DeleteSubject: unary(async (request) => ({ versions: await registry.deleteSubject(request.subject, { permanent: request.permanent }) })),
    GetSchemaConfig: unary(async (request) => {
      const level = registry.getConfig(request.subject === '' ? undefined : request.subject, { defaultToGlobal: request.defaultToGlobal });
      if (level === undefined) throw new SubjectNotFoundError(`subject '${request.subject}' has no compatibility level of its own`);
      return { compatibility: level };
    }),
    SetSchemaConfig: unary(async (request) => {
      const level = parseCompatibilityLevel(request.compatibility);
      await registry.setConfig(request.subject === '' ? undefined : request.subject, level);
      return { compatibility: level };
    }),
  };
}

function versionFromProto(version: number): VersionSelector {
  if (version === 0 || version === -1) return 'latest';
  if (!Number.isSafeInteger(version) || version < 1) throw new InvalidSchemaVersionError(`${version} is not a version: a positive integer, or 0 for the latest`);
  return version;
}

function schemaFromProto(schema: Schema__Output | null | undefined): SchemaInput {
  if (!schema) throw new InvalidSchemaError('the request has no schema');
  const schemaType = schema.schemaType === '' ? 'AVRO' : schema.schemaType;
  if (!isSchemaType(schemaType)) throw new InvalidSchemaError(`schema_type must be one of ${SCHEMA_TYPES.join(', ')}, got '${schema.schemaType}'`);
  return { schemaType, schema: schema.schema, references: schema.references.map((r) => ({ name: r.name, subject: r.subject, version: r.version })) };
}

function schemaToProto(schema: SchemaInput): Schema__Output {
  return { schemaType: schema.schemaType, schema: schema.schema, references: schema.references };
}

function versionToProto(registered: RegisteredSchema): SubjectVersion {
  return { subject: registered.subject, version: registered.version, id: registered.id, schema: schemaToProto(registered), isDeleted: registered.isDeleted };
}
