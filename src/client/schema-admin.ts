import type { SchemaServiceClient } from '../generated/strata/v1/SchemaService.js';
import { DEFAULT_CALL_TIMEOUT_MS, call } from './admin.js';

export type SchemaType = 'AVRO' | 'JSON' | 'PROTOBUF';
export type SchemaCompatibility = 'NONE' | 'BACKWARD' | 'BACKWARD_TRANSITIVE' | 'FORWARD' | 'FORWARD_TRANSITIVE' | 'FULL' | 'FULL_TRANSITIVE';

export interface SchemaReferenceSpec {
  name: string;
  subject: string;
  version: number;
}

export interface SchemaSpec {
  /** AVRO by default. */
  schemaType?: SchemaType;
  schema: string;
  references?: SchemaReferenceSpec[];
}

export interface SchemaVersionInfo {
  subject: string;
  version: number;
  id: number;
  schemaType: SchemaType;
  schema: string;
  references: SchemaReferenceSpec[];
  isDeleted: boolean;
}

/** A version number, or `latest`. */
export type SchemaVersionSpec = number | 'latest';

/**
 * The server's schema registry over gRPC (SchemaService), one method per RPC: `client.schemas`. The
 * errors are StrataErrors by code (SUBJECT_NOT_FOUND, INCOMPATIBLE_SCHEMA, INVALID_SCHEMA, ...).
 * Confluent's serializers talk to the same registry over its REST API on the HTTP port.
 */
export class SchemaAdmin {
  constructor(
    private readonly stub: SchemaServiceClient,
    private readonly callTimeoutMs = DEFAULT_CALL_TIMEOUT_MS,
  ) {}

  /** The schema's id and version under `subject` (the existing ones if the subject already holds it). */
  async register(subject: string, schema: SchemaSpec): Promise<{ id: number; version: number }> {
    const { id, version } = await call(this.stub.registerSchema.bind(this.stub), { subject, schema: toProto(schema) }, this.callTimeoutMs);
    return { id, version };
  }

  async getById(id: number): Promise<{ schemaType: SchemaType; schema: string; references: SchemaReferenceSpec[]; versions: Array<{ subject: string; version: number }> }> {
    const response = await call(this.stub.getSchemaById.bind(this.stub), { id }, this.callTimeoutMs);
    return { ...fromProto(response.schema!), versions: response.versions.map(({ subject, version }) => ({ subject, version })) };
  }

  async getVersion(subject: string, version: SchemaVersionSpec = 'latest', options: { includeDeleted?: boolean } = {}): Promise<SchemaVersionInfo> {
    const response = await call(this.stub.getSchemaVersion.bind(this.stub), { subject, version: versionToProto(version), includeDeleted: options.includeDeleted ?? false }, this.callTimeoutMs);
    const found = response.version!;
    return { subject: found.subject, version: found.version, id: found.id, ...fromProto(found.schema!), isDeleted: found.isDeleted };
  }

  async listSubjects(options: { includeDeleted?: boolean } = {}): Promise<string[]> {
    return (await call(this.stub.listSubjects.bind(this.stub), { includeDeleted: options.includeDeleted ?? false }, this.callTimeoutMs)).subjects;
  }

  async listVersions(subject: string, options: { includeDeleted?: boolean } = {}): Promise<number[]> {
    return (await call(this.stub.listSchemaVersions.bind(this.stub), { subject, includeDeleted: options.includeDeleted ?? false }, this.callTimeoutMs)).versions;
  }

  /** Against `version` only, or (undefined) against the versions the subject's compatibility level names. Stores nothing. */
  async checkCompatibility(subject: string, schema: SchemaSpec, version?: SchemaVersionSpec): Promise<{ isCompatible: boolean; messages: string[] }> {
    const request = { subject, schema: toProto(schema), version: version === undefined ? 0 : version === 'latest' ? -1 : version };
    const { isCompatible, messages } = await call(this.stub.checkSchemaCompatibility.bind(this.stub), request, this.callTimeoutMs);
    return { isCompatible, messages };
  }

  /** Soft-deletes a version; with `permanent`, forgets one soft-deleted before. Returns the version. */
  async deleteVersion(subject: string, version: SchemaVersionSpec, options: { permanent?: boolean } = {}): Promise<number> {
    return (await call(this.stub.deleteSchemaVersion.bind(this.stub), { subject, version: versionToProto(version), permanent: options.permanent ?? false }, this.callTimeoutMs)).version;
  }

  /** Soft-deletes a subject's versions; with `permanent`, forgets a soft-deleted subject. Returns the versions. */
  async deleteSubject(subject: string, options: { permanent?: boolean } = {}): Promise<number[]> {
    return (await call(this.stub.deleteSubject.bind(this.stub), { subject, permanent: options.permanent ?? false }, this.callTimeoutMs)).versions;
  }

  /** The global level (no subject), or a subject's own (SUBJECT_NOT_FOUND without one, unless defaultToGlobal). */
  async getConfig(subject?: string, options: { defaultToGlobal?: boolean } = {}): Promise<SchemaCompatibility> {
    return (await call(this.stub.getSchemaConfig.bind(this.stub), { subject: subject ?? '', defaultToGlobal: options.defaultToGlobal ?? false }, this.callTimeoutMs)).compatibility as SchemaCompatibility;
  }

  async setConfig(compatibility: SchemaCompatibility, subject?: string): Promise<void> {
    await call(this.stub.setSchemaConfig.bind(this.stub), { subject: subject ?? '', compatibility }, this.callTimeoutMs);
  }
}

function versionToProto(version: SchemaVersionSpec): number {
  return version === 'latest' ? -1 : version;
}

function toProto(schema: SchemaSpec) {
  return { schemaType: schema.schemaType ?? 'AVRO', schema: schema.schema, references: schema.references ?? [] };
}

function fromProto(schema: { schemaType: string; schema: string; references: SchemaReferenceSpec[] }) {
  return { schemaType: schema.schemaType as SchemaType, schema: schema.schema, references: schema.references.map(({ name, subject, version }) => ({ name, subject, version })) };
}
