import avro from 'avsc';
import type { CodecOptions, ResolvedReference, SchemaCodec } from './schema-codec.js';

/**
 * Avro binary by avsc. References are named types (record, enum, fixed) defined by the referenced
 * schemas and used by full name: they are parsed first into one registry of names. With a reader
 * schema, payloads are decoded by Avro's schema resolution (avsc's `createResolver`: fields added
 * with defaults, removed fields skipped, promotions int -> long -> float -> double, aliases), so a
 * consumer reads every writer's version as the one shape it knows.
 */
/** Values encode into this much reused memory; a larger one gets a buffer of its own. */
const SCRATCH_BYTES = 64 * 1024;

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
  const scratch = Buffer.allocUnsafe(SCRATCH_BYTES);
  return {
    schemaType: 'AVRO',
    recordName: writer.name,
    encode(value) {
      // avsc's writers check every value they write (a type, a range, a missing field) and throw: one
      // pass, where isValid() first would be two (it halved the cost in bench/serde-bench.ts). isValid()
      // runs only on a failure, to say where.
      try {
        // Into a scratch buffer the caller copies from (half toBuffer()'s cost, which allocates twice).
        const end = writer.encode(value, scratch, 0);
        return end >= 0 ? scratch.subarray(0, end) : writer.toBuffer(value);
      } catch (error) {
        const paths: string[] = [];
        if (writer.isValid(value, { errorHook: (path: string[]) => paths.push(path.join('.') || '(the value itself)') })) throw error;
        throw new Error(`the value does not fit the Avro schema${writer.name ? ` ${writer.name}` : ''} at ${paths.slice(0, 5).join(', ')}`);
      }
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
