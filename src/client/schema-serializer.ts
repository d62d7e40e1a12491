import { RecordSerializationError, StrataError } from '../core/errors.js';
import type { SchemaReferenceSpec, SchemaType } from './schema-admin.js';
import { loadCodec, resolveReferences } from './load-codec.js';
import { SCHEMA_TYPE_OF_FORMAT, isSameSchema, schemaText, type SchemaCodec, type SchemaFormatName, type SchemaRegistryClient } from './schema-codec.js';
import { frameWithSchemaId } from '../format/schema-framing.js';

/** Where a key or value is going: what a serializer and a subject name strategy are told. */
export interface SerializationContext {
  topic: string;
  isKey: boolean;
}

/**
 * Turns a producer's key or value into bytes. Returns the bytes at once when it can (the common case,
 * once its schema is known) and a promise only when it must ask first (a registry call on first use):
 * the producer then holds the record, and every later one, until it resolves, so order is kept.
 */
export interface Serializer<T> {
  serialize(value: T, context: SerializationContext): Uint8Array | Promise<Uint8Array>;
}

/** The subject a schema is registered under, for a record of `topic` whose schema names `recordName`. */
export type SubjectNameStrategy = (context: SerializationContext & { recordName: string | undefined }) => string;

/** Confluent's default: `<topic>-key` / `<topic>-value`, one schema history per topic. */
export const TopicNameStrategy: SubjectNameStrategy = ({ topic, isKey }) => `${topic}-${isKey ? 'key' : 'value'}`;

/** The record's full name (Avro named type, JSON Schema `title`, Protobuf message): one history per type, across topics. */
export const RecordNameStrategy: SubjectNameStrategy = ({ recordName }) => {
  if (recordName === undefined) throw new Error('RecordNameStrategy needs a named schema (an Avro record, enum or fixed; a JSON Schema with a title; a Protobuf message)');
  return recordName;
};

/** `<topic>-<record full name>`: one history per type per topic (several types on one topic). */
export const TopicRecordNameStrategy: SubjectNameStrategy = (context) => `${context.topic}-${RecordNameStrategy(context)}`;

export interface SchemaSerializerOptions {
  /** Where schemas are registered and looked up: `client.schemas`. */
  registry: SchemaRegistryClient;
  /** The schema's format; may be left out with schemaId (the registry says it). */
  format?: SchemaFormatName;
  /** The schema values are written with (text, or an object for Avro and JSON Schema). Optional with useLatestVersion. */
  schema?: string | object;
  /** Schemas this one references, as registered (name, subject, version). */
  references?: SchemaReferenceSpec[];
  /** Default TopicNameStrategy. */
  subjectNameStrategy?: SubjectNameStrategy;
  /** Register the schema under its subject on first use (the registry returns the existing id if it is there). Default true, as Confluent's. */
  autoRegister?: boolean;
  /**
   * Write with the subject's latest version instead of `schema` (Confluent's use.latest.version):
   * nothing is registered, and the latest version is read once per subject for the serializer's life.
   */
  useLatestVersion?: boolean;
  /**
   * Write with this registered schema id, whatever the subject (Confluent's use.schema.id): the
   * schema is fetched by id once, nothing is registered, no subject is named.
   */
  schemaId?: number;
  /** Protobuf: the message values are (default the schema's first message). */
  messageName?: string;
  /** Subjects whose id and schema are kept at once. Default 1000. */
  maxCachedSubjects?: number;
}

const DEFAULT_MAX_CACHED_SUBJECTS = 1000;

/** A subject's writer: its id and codec, ready to frame values synchronously. */
interface SubjectWriter {
  readonly schemaId: number;
  readonly codec: SchemaCodec;
}

/**
 * A producer's serializer for values (or keys) written with a registered schema, in Confluent's
 * framing (format/schema-framing.ts): Avro, JSON Schema or Protobuf. The first value of each subject costs a
 * registry call (register, or look up, or read the latest version); after that, serialize() encodes
 * synchronously. Values that do not fit the schema fail with RecordSerializationError (non-retriable).
 */
export function schemaSerializer<T = unknown>(options: SchemaSerializerOptions): Serializer<T> {
  return new SchemaSerializer<T>(options);
}

class SchemaSerializer<T> implements Serializer<T> {
  private readonly registry: SchemaRegistryClient;
  private readonly strategy: SubjectNameStrategy;
  private readonly isAutoRegister: boolean;
  private readonly maxCachedSubjects: number;
  private readonly schemaType: SchemaType | undefined;
  private readonly text: string | undefined;
  /** The codec of `schema` (its record name is what the strategies need), built on first use. */
  private ownCodec: SchemaCodec | undefined;
  private ownCodecLoading: Promise<SchemaCodec> | undefined;
  /** With schemaId: its writer, once fetched. */
  private fixedWriter: SubjectWriter | undefined;
  /** The strategy's answer per topic (it is asked once per topic and side: a strategy must be a function of them). */
  private readonly keySubjects = new Map<string, string>();
  private readonly valueSubjects = new Map<string, string>();
  /** Oldest first: the first entry goes when the cache is full. */
  private readonly writers = new Map<string, SubjectWriter>();
  private readonly loading = new Map<string, Promise<SubjectWriter>>();

  constructor(private readonly options: SchemaSerializerOptions) {
    if (!options || typeof options.registry?.register !== 'function') throw new RecordSerializationError('schemaSerializer needs { registry: client.schemas }');
    if ((options.format !== undefined || options.schemaId === undefined) && !Object.hasOwn(SCHEMA_TYPE_OF_FORMAT, options.format ?? '')) throw new RecordSerializationError(`format must be one of ${Object.keys(SCHEMA_TYPE_OF_FORMAT).join(', ')}, got '${String(options.format)}'`);
    if (options.schemaId !== undefined && (!Number.isInteger(options.schemaId) || options.schemaId < 0 || options.schemaId > 0xffff_ffff || options.schema !== undefined || options.useLatestVersion)) {
      throw new RecordSerializationError('schemaId is an id of the registry (0 to 2^32 - 1), given without schema and useLatestVersion');
    }
    if (options.schema === undefined && !options.useLatestVersion && options.schemaId === undefined) throw new RecordSerializationError('schemaSerializer needs a schema (or useLatestVersion: true, or a schemaId)');
    this.registry = options.registry;
    this.strategy = options.subjectNameStrategy ?? TopicNameStrategy;
    this.isAutoRegister = options.autoRegister ?? true;
    this.maxCachedSubjects = options.maxCachedSubjects ?? DEFAULT_MAX_CACHED_SUBJECTS;
    if (!Number.isInteger(this.maxCachedSubjects) || this.maxCachedSubjects < 1) throw new RecordSerializationError('maxCachedSubjects must be a positive integer');
    this.schemaType = options.format === undefined ? undefined : SCHEMA_TYPE_OF_FORMAT[options.format];
    this.text = options.schema === undefined ? undefined : schemaText(options.schema);
  }

  serialize(value: T, context: SerializationContext): Uint8Array | Promise<Uint8Array> {
    if (this.options.schemaId !== undefined) {
      const subject = `schema id ${this.options.schemaId}`;
      if (this.fixedWriter) return this.encode(this.fixedWriter, value, context, subject);
      return this.loadWriter(subject, context).then((writer) => this.encode((this.fixedWriter = writer), value, context, subject));
    }
    if (this.text !== undefined && !this.ownCodec) return this.loadOwnCodec().then(() => this.serialize(value, context));
    const subjects = context.isKey ? this.keySubjects : this.valueSubjects;
    let subject = subjects.get(context.topic);
    if (subject === undefined) {
      try {
        subject = this.strategy({ topic: context.topic, isKey: context.isKey, recordName: this.ownCodec?.recordName });
      } catch (error) {
        throw this.failure(context, undefined, `no subject for it: ${(error as Error).message}`, error);
      }
      if (subjects.size >= this.maxCachedSubjects) subjects.clear();
      subjects.set(context.topic, subject);
    }
    const writer = this.writers.get(subject);
    if (writer) return this.encode(writer, value, context, subject);
    return this.loadWriter(subject, context).then((loaded) => this.encode(loaded, value, context, subject));
  }

  private encode(writer: SubjectWriter, value: T, context: SerializationContext, subject: string): Uint8Array {
    let payload: Uint8Array;
    try {
      payload = writer.codec.encode(value);
    } catch (error) {
      throw this.failure(context, writer.schemaId, `${(error as Error).message} (schema id ${writer.schemaId}, subject '${subject}')`, error);
    }
    return frameWithSchemaId(writer.schemaId, payload);
  }

  private loadOwnCodec(): Promise<SchemaCodec> {
    this.ownCodecLoading ??= (async () => {
      const references = await resolveReferences(this.registry, this.options.references ?? []);
      const codec = await loadCodec(this.schemaType!, this.text!, references, this.codecOptions());
      this.ownCodec = codec;
      return codec;
    })().catch((error: unknown) => {
      this.ownCodecLoading = undefined;
      throw error instanceof StrataError ? error : new RecordSerializationError(`the ${this.options.format} schema given to schemaSerializer does not parse: ${(error as Error).message}`, {}, { cause: error });
    });
    return this.ownCodecLoading;
  }

  private loadWriter(subject: string, context: SerializationContext): Promise<SubjectWriter> {
    let loading = this.loading.get(subject);
    if (!loading) {
      loading = this.findWriter(subject, context).then(
        (writer) => {
          this.loading.delete(subject);
          this.writers.set(subject, writer);
          if (this.writers.size > this.maxCachedSubjects) this.writers.delete(this.writers.keys().next().value!);
          return writer;
        },
        (error: unknown) => {
          // Not kept: the next value of the subject asks again (the registry may be back, the schema registered).
          this.loading.delete(subject);
          throw error;
        },
      );
      this.loading.set(subject, loading);
    }
    return loading;
  }

  private async findWriter(subject: string, context: SerializationContext): Promise<SubjectWriter> {
    try {
      if (this.options.schemaId !== undefined) {
        const found = await this.registry.getById(this.options.schemaId);
        if (this.schemaType !== undefined && found.schemaType !== this.schemaType) throw this.failure(context, this.options.schemaId, `schema id ${this.options.schemaId} is ${found.schemaType}, not ${this.schemaType}`);
        const references = await resolveReferences(this.registry, found.references);
        return { schemaId: this.options.schemaId, codec: await loadCodec(found.schemaType, found.schema, references, this.codecOptions()) };
      }
      if (this.options.useLatestVersion) {
        const latest = await this.registry.getVersion(subject, 'latest');
        if (latest.schemaType !== this.schemaType) throw this.failure(context, latest.id, `subject '${subject}' holds a ${latest.schemaType} schema, not ${this.schemaType}`);
        const references = await resolveReferences(this.registry, latest.references);
        return { schemaId: latest.id, codec: await loadCodec(latest.schemaType, latest.schema, references, this.codecOptions()) };
      }
      const spec = { schemaType: this.schemaType!, schema: this.text!, references: this.options.references ?? [] };
      if (this.isAutoRegister) return { schemaId: (await this.registry.register(subject, spec)).id, codec: this.ownCodec! };
      return { schemaId: await this.lookUp(subject, context), codec: this.ownCodec! };
    } catch (error) {
      // A registry that cannot be reached, or is shutting down, is the registry's error (retriable); a refusal is the record's.
      if (error instanceof StrataError && (error.retriable || error instanceof RecordSerializationError)) throw error;
      throw this.failure(context, undefined, `subject '${subject}': ${(error as Error).message}`, error);
    }
  }

  /** The id of `schema` among the subject's versions, newest first (autoRegister off registers nothing). */
  private async lookUp(subject: string, context: SerializationContext): Promise<number> {
    const versions = await this.registry.listVersions(subject);
    for (const version of [...versions].reverse()) {
      const found = await this.registry.getVersion(subject, version);
      if (found.schemaType === this.schemaType && isSameSchema(found.schema, this.text!)) return found.id;
    }
    throw this.failure(context, undefined, `the schema is not registered under subject '${subject}' and autoRegister is off`);
  }

  private codecOptions() {
    return this.options.messageName === undefined ? {} : { messageName: this.options.messageName };
  }

  private failure(context: SerializationContext, schemaId: number | undefined, why: string, cause?: unknown): RecordSerializationError {
    const what = context.isKey ? 'key' : 'value';
    if (cause instanceof StrataError && cause.code === 'SCHEMA_NOT_FOUND' && this.options.schemaId !== undefined) why = `schema id ${this.options.schemaId} is not in the registry`;
    return new RecordSerializationError(`a ${what} for topic '${context.topic}' cannot be serialized: ${why}`, { topic: context.topic, isKey: context.isKey, ...(schemaId !== undefined ? { schemaId } : {}) }, cause === undefined ? undefined : { cause });
  }
}
