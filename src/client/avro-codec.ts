import avro from 'avsc';
import type { CodecOptions, ResolvedReference, SchemaCodec } from './schema-codec.js';

/**
 * Avro binary by avsc. References are named types (record, enum, fixed) defined by the referenced
 * schemas and used by full name: they are parsed first into one registry of names. With a reader
 * schema, payloads are decoded by Avro's schema resolution (avsc's `createResolver`: fields added
 * with defaults, removed fields skipped, promotions int -> long -> float -> double, aliases), so a
 * consumer reads every writer's version as the one shape it knows.
 */
export function avroCodec(schema: string, references: readonly ResolvedReference[], options: CodecOptions): SchemaCodec {
  const writer = typeOf(schema, references);
  let resolver: avro.Resolver | undefined;
  let reader = writer;
  if (options.readerSchema !== undefined) {
    reader = typeOf(options.readerSchema, references);
    try {
      resolver = reader.createResolver(writer);
    } catch (error) {
      throw new Error(`the reader schema cannot read what this schema wrote: ${(error as Error).message}`);
    }
  }
  return {
    schemaType: 'AVRO',
    recordName: writer.name,
    encode(value) {
      const paths: string[] = [];
      if (!writer.isValid(value, { errorHook: (path: string[]) => paths.push(path.join('.') || '(the value itself)') })) {
        throw new Error(`the value does not fit the Avro schema${writer.name ? ` ${writer.name}` : ''} at ${paths.slice(0, 5).join(', ')}`);
      }
      return writer.toBuffer(value);
    },
    decode(payload) {
      const bytes = Buffer.isBuffer(payload) ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.length);
      // fromBuffer refuses bytes left over after the value, as a truncated one.
      return resolver ? reader.fromBuffer(bytes, resolver) : writer.fromBuffer(bytes);
    },
  };
}

function typeOf(schema: string | object, references: readonly ResolvedReference[]): avro.Type {
  const registry: Record<string, avro.Type> = {};
  for (const reference of references) avro.Type.forSchema(parse(reference.schema) as avro.Schema, { registry });
  return avro.Type.forSchema(parse(schema) as avro.Schema, { registry });
}

function parse(schema: string | object): unknown {
  if (typeof schema !== 'string') return schema;
  try {
    return JSON.parse(schema);
  } catch {
    // A bare primitive name ("string") is valid Avro though not JSON text.
    return schema.trim();
  }
}
