import type { SchemaAdmin, SchemaType } from './schema-admin.js';

/** The registry calls the serializers make: `client.schemas` fits, and so does a test's counting wrapper. */
export type SchemaRegistryClient = Pick<SchemaAdmin, 'register' | 'getById' | 'getVersion' | 'listVersions'>;

/** The formats by the names the serializers take, and the registry's name of each. */
export type SchemaFormatName = 'avro' | 'json' | 'protobuf';
export const SCHEMA_TYPE_OF_FORMAT: Readonly<Record<SchemaFormatName, SchemaType>> = { avro: 'AVRO', json: 'JSON', protobuf: 'PROTOBUF' };

/** A referenced schema's text under the name the referencing schema uses for it. */
export interface ResolvedReference {
  name: string;
  schema: string;
}

/**
 * One schema, ready to encode values into payloads and decode payloads into values (the framing's
 * 5-byte header is the caller's; a Protobuf payload starts with its message indexes). Errors are
 * plain Errors saying what is wrong: the serializer and deserializer wrap them with the record's place.
 */
export interface SchemaCodec {
  readonly schemaType: SchemaType;
  /** The full name RecordNameStrategy uses: Avro's named type, JSON Schema's `title`, Protobuf's message. */
  readonly recordName: string | undefined;
  /** The payload: valid until the next encode() of this codec (the caller copies it into its framing at once). */
  encode(value: unknown): Uint8Array;
  decode(payload: Uint8Array): unknown;
}

export interface CodecOptions {
  /** Avro: decode into this schema (Avro's schema resolution from the writer's schema). */
  readerSchema?: string | object;
  /** JSON Schema: check decoded values against the schema too (encoded ones always are). */
  validateOnDecode?: boolean;
  /** Protobuf: the message type values are encoded as; default the file's first message. */
  messageName?: string;
}

/** A schema given as an object (Avro, JSON Schema) as the registry stores it: JSON text. */
export function schemaText(schema: string | object): string {
  return typeof schema === 'string' ? schema : JSON.stringify(schema);
}

/** Whether two schema texts say the same: JSON compared with object keys sorted, other text trimmed. */
export function isSameSchema(a: string, b: string): boolean {
  if (a.trim() === b.trim()) return true;
  try {
    return sortedJson(JSON.parse(a)) === sortedJson(JSON.parse(b));
  } catch {
    return false;
  }
}

function sortedJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(sortedJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.keys(value).sort().map((key) => `${JSON.stringify(key)}:${sortedJson((value as Record<string, unknown>)[key])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value);
}
