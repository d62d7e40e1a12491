import { MAX_SCHEMA_REFERENCE_DEPTH, MAX_SCHEMA_REFERENCES } from '../core/limits.js';
import type { SchemaReferenceSpec, SchemaType } from './schema-admin.js';
import type { CodecOptions, ResolvedReference, SchemaCodec, SchemaRegistryClient } from './schema-codec.js';

/**
 * Builds the codec of one schema. Each format's library (avsc, ajv, protobufjs) is imported on first
 * use of that format only: a client that never touches schemas, or one format, loads none (or one).
 */
export async function loadCodec(schemaType: SchemaType, schema: string, references: readonly ResolvedReference[], options: CodecOptions = {}): Promise<SchemaCodec> {
  switch (schemaType) {
    case 'AVRO':
      return (await import('./avro-codec.js')).avroCodec(schema, references, options);
    case 'JSON':
      return (await import('./json-schema-codec.js')).jsonSchemaCodec(schema, references, options);
    case 'PROTOBUF':
      return (await import('./protobuf-codec.js')).protobufCodec(schema, references, options);
    default:
      throw new Error(`schema type '${String(schemaType)}' is not one the client can encode`);
  }
}

/**
 * The texts of `references` and of theirs in turn, fetched from the registry, each after the ones it
 * references (the order Avro's named types must be defined in). Bounded as the registry bounds them.
 */
export async function resolveReferences(registry: SchemaRegistryClient, references: readonly SchemaReferenceSpec[]): Promise<ResolvedReference[]> {
  const out: ResolvedReference[] = [];
  const seen = new Set<string>();
  const visit = async (reference: SchemaReferenceSpec, depth: number): Promise<void> => {
    const key = `${reference.subject}\u0000${reference.version}\u0000${reference.name}`;
    if (seen.has(key)) return;
    if (depth > MAX_SCHEMA_REFERENCE_DEPTH || seen.size >= MAX_SCHEMA_REFERENCES * MAX_SCHEMA_REFERENCE_DEPTH) {
      throw new Error(`schema references nest deeper than ${MAX_SCHEMA_REFERENCE_DEPTH} levels or number more than the registry allows`);
    }
    seen.add(key);
    const found = await registry.getVersion(reference.subject, reference.version, { includeDeleted: true });
    for (const inner of found.references) await visit(inner, depth + 1);
    out.push({ name: reference.name, schema: found.schema });
  };
  for (const reference of references) await visit(reference, 1);
  return out;
}
