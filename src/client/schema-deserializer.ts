import { MissingSchemaFramingError, RecordDeserializationError, SchemaNotFoundError, StrataError, UnknownSchemaIdError, type SerdeRecordLocation } from '../core/errors.js';
import { loadCodec, resolveReferences } from './load-codec.js';
import type { CodecOptions, SchemaCodec, SchemaRegistryClient } from './schema-codec.js';
import { SCHEMA_FRAME_HEADER_BYTES, schemaIdOf } from '../format/schema-framing.js';
import { LruMap } from '../core/lru-map.js';

/** The schema id framed bytes name, for callers outside the client that may not reach format/ (the CLI). */
export { schemaIdOf };

/** Where a consumed key or value came from: what a deserializer is told, and its errors name. */
export interface DeserializationContext {
  topic: string;
  partition: number;
  offset: number;
  isKey: boolean;
}

/**
 * Turns a consumed key or value back into a value. Returns it at once when it can (its schema
 * cached) and a promise only when it must ask first (the schema of an id not seen yet).
 */
export interface Deserializer<T> {
  deserialize(bytes: Buffer, context: DeserializationContext): T | Promise<T>;
}

export interface SchemaDeserializerOptions {
  /** Where schemas are fetched by id: `client.schemas`. */
  registry: SchemaRegistryClient;
  /** Avro: read every writer's schema into this one (Avro schema resolution); default each record as written. */
  readerSchema?: string | object;
  /** JSON Schema: validate decoded values against their schema too. Default false (Confluent's default). */
  validate?: boolean;
  /** Schema ids whose decoder is kept at once (least recently used goes first). Default 1000. */
  maxCachedSchemas?: number;
}

const DEFAULT_MAX_CACHED_SCHEMAS = 1000;

/**
 * A consumer's deserializer of keys or values in Confluent's framing (magic byte 0, 4-byte schema id):
 * the schema is fetched by id from the registry on the first record that names it, then kept (a
 * bounded LRU of ids, so a topic written with many schema versions cannot grow it without end).
 * Any format the registry holds decodes (the id says which). Failures are typed, non-retriable and
 * name the record (topic, partition, offset, key or value): MissingSchemaFramingError,
 * UnknownSchemaIdError, RecordDeserializationError.
 */
export function schemaDeserializer<T = unknown>(options: SchemaDeserializerOptions): Deserializer<T> {
  return new SchemaDeserializer<T>(options);
}

class SchemaDeserializer<T> implements Deserializer<T> {
  private readonly registry: SchemaRegistryClient;
  private readonly codecOptions: CodecOptions;
  /** Least recently used first. */
  private readonly codecs: LruMap<number, SchemaCodec>;
  private readonly loading = new Map<number, Promise<SchemaCodec>>();

  constructor(options: SchemaDeserializerOptions) {
    if (!options || typeof options.registry?.getById !== 'function') throw new RecordDeserializationError('schemaDeserializer needs { registry: client.schemas }');
    this.registry = options.registry;
    const maxCachedSchemas = options.maxCachedSchemas ?? DEFAULT_MAX_CACHED_SCHEMAS;
    if (!Number.isInteger(maxCachedSchemas) || maxCachedSchemas < 1) throw new RecordDeserializationError('maxCachedSchemas must be a positive integer');
    this.codecs = new LruMap(maxCachedSchemas);
    this.codecOptions = {
      ...(options.readerSchema !== undefined ? { readerSchema: options.readerSchema } : {}),
      ...(options.validate ? { validateOnDecode: true } : {}),
    };
  }

  deserialize(bytes: Buffer, context: DeserializationContext): T | Promise<T> {
    const schemaId = schemaIdOf(bytes);
    if (schemaId === undefined) {
      const why = bytes.length === 0 ? 'it is empty' : bytes[0] !== 0 ? `its first byte is ${bytes[0]}, not the magic byte 0` : `it has ${bytes.length} bytes, fewer than the framing's ${SCHEMA_FRAME_HEADER_BYTES}`;
      throw new MissingSchemaFramingError(`${describe(context)} has no schema framing: ${why}`, location(context));
    }
    const codec = this.codecs.get(schemaId);
    if (codec) {
      return this.decode(codec, schemaId, bytes, context);
    }
    return this.load(schemaId, context).then((loaded) => this.decode(loaded, schemaId, bytes, context));
  }

  private decode(codec: SchemaCodec, schemaId: number, bytes: Buffer, context: DeserializationContext): T {
    try {
      return codec.decode(bytes.subarray(SCHEMA_FRAME_HEADER_BYTES)) as T;
    } catch (error) {
      throw new RecordDeserializationError(`${describe(context)} does not decode with schema id ${schemaId} (${codec.schemaType}): ${(error as Error).message}`, location(context, schemaId), { cause: error });
    }
  }

  private load(schemaId: number, context: DeserializationContext): Promise<SchemaCodec> {
    let loading = this.loading.get(schemaId);
    if (!loading) {
      loading = this.fetch(schemaId, context).then(
        (codec) => {
          this.loading.delete(schemaId);
          this.codecs.set(schemaId, codec);
          return codec;
        },
        (error: unknown) => {
          this.loading.delete(schemaId);
          throw error;
        },
      );
      this.loading.set(schemaId, loading);
    }
    return loading;
  }

  private async fetch(schemaId: number, context: DeserializationContext): Promise<SchemaCodec> {
    let found: Awaited<ReturnType<SchemaRegistryClient['getById']>>;
    try {
      found = await this.registry.getById(schemaId);
    } catch (error) {
      if (error instanceof SchemaNotFoundError) throw new UnknownSchemaIdError(`${describe(context)} names schema id ${schemaId}, which the registry does not have`, location(context, schemaId), { cause: error });
      throw error;
    }
    try {
      const references = await resolveReferences(this.registry, found.references);
      return await loadCodec(found.schemaType, found.schema, references, this.codecOptions);
    } catch (error) {
      // A registry that cannot be reached is its error (retriable); a schema this client cannot use is the record's.
      if (error instanceof StrataError && error.retriable) throw error;
      throw new RecordDeserializationError(`${describe(context)} names schema id ${schemaId} (${found.schemaType}), which cannot be used to decode: ${(error as Error).message}`, location(context, schemaId), { cause: error });
    }
  }
}

function describe({ topic, partition, offset, isKey }: DeserializationContext): string {
  return `the ${isKey ? 'key' : 'value'} of the record at ${topic}/${partition} offset ${offset}`;
}

function location({ topic, partition, offset, isKey }: DeserializationContext, schemaId?: number): SerdeRecordLocation {
  return { topic, partition, offset, isKey, ...(schemaId !== undefined ? { schemaId } : {}) };
}
