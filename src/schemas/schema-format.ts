/** The schema types a registry takes, by Confluent's names (`schemaType`; absent means AVRO). */
export const SCHEMA_TYPES = ['AVRO', 'JSON', 'PROTOBUF'] as const;
export type SchemaType = (typeof SCHEMA_TYPES)[number];

export function isSchemaType(value: unknown): value is SchemaType {
  return typeof value === 'string' && (SCHEMA_TYPES as readonly string[]).includes(value);
}

/** A reference from a schema to another registered one, as Confluent's: `name` is how the schema names it (an Avro full name, a JSON `$ref` URL, a Protobuf import path). */
export interface SchemaReference {
  name: string;
  subject: string;
  version: number;
}

/** A referenced schema's text, resolved from the registry, with its own references resolved before it. */
export interface ResolvedReference {
  name: string;
  schema: string;
}

/**
 * One format's rules. `parse` throws InvalidSchemaError; `incompatibilities(reader, writer)` lists why
 * data written with `writer` cannot be read with `reader` (empty: it can).
 */
export interface SchemaFormat<Parsed> {
  readonly type: SchemaType;
  /** `references` are in dependency order (a reference's own references before it). */
  parse(schema: string, references: readonly ResolvedReference[]): Parsed;
  /** The text by which two registrations are "the same schema" (whitespace and key order of JSON do not count). */
  canonical(schema: string): string;
  incompatibilities(reader: Parsed, writer: Parsed): string[];
}

/** JSON with object keys sorted (arrays keep their order), so key order and whitespace do not make two schemas different. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.keys(value).sort().map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value);
}
