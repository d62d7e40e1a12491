import { Ajv, type AnySchema, type ValidateFunction } from 'ajv';
import { avroFormat } from './avro-format.js';
import { protobufFormat } from './protobuf-format.js';
import { protobufMessageAt, protobufTopLevelMessages } from './record-names.js';
import type { ResolvedReference, SchemaType } from './schema-format.js';

/**
 * Whether a record's payload (the bytes after Confluent's 5-byte framing) decodes with one schema:
 * undefined when it does, else why not, in words for an error message.
 */
export type PayloadCheck = (payload: Buffer) => string | undefined;

/** Confluent framing: magic byte 0, then the schema id as a 4-byte big-endian int. */
export const SCHEMA_FRAMING_MAGIC_BYTE = 0;
export const SCHEMA_FRAMING_BYTES = 5;

/**
 * Compiles the check of one registered schema, as Confluent's deserializers read payloads:
 * - AVRO: Avro binary of the schema, every byte used (avsc);
 * - JSON: UTF-8 JSON text valid against the JSON Schema (ajv, draft-07, formats not checked, as the registry parses it);
 * - PROTOBUF: the message-index array (zigzag varints: a count, then one index per nesting level into
 *   the messages of the schema file in declaration order; a lone 0 byte means the first message),
 *   then that message's Protobuf binary (protobufjs; unknown fields are skipped, as any reader does).
 * Throws InvalidSchemaError when the schema itself does not compile.
 */
export function compilePayloadCheck(schemaType: SchemaType, schema: string, references: readonly ResolvedReference[]): PayloadCheck {
  switch (schemaType) {
    case 'AVRO':
      return avroCheck(schema, references);
    case 'JSON':
      return jsonCheck(schema, references);
    case 'PROTOBUF':
      return protobufCheck(schema, references);
  }
}

function avroCheck(schema: string, references: readonly ResolvedReference[]): PayloadCheck {
  const type = avroFormat.parse(schema, references);
  return (payload) => {
    try {
      const { offset } = type.decode(payload, 0);
      if (offset < 0) return 'ends before its Avro value does';
      if (offset !== payload.length) return `has ${payload.length - offset} bytes after its Avro value`;
      return undefined;
    } catch (error) {
      return `is not Avro of the schema (${(error as Error).message})`;
    }
  };
}

function jsonCheck(schema: string, references: readonly ResolvedReference[]): PayloadCheck {
  const ajv = new Ajv({ strict: false, allErrors: false, validateFormats: false });
  for (const reference of references) ajv.addSchema(JSON.parse(reference.schema) as AnySchema, reference.name);
  const validate: ValidateFunction = ajv.compile(JSON.parse(schema) as AnySchema);
  const decoder = new TextDecoder('utf-8', { fatal: true });
  return (payload) => {
    let value: unknown;
    try {
      value = JSON.parse(decoder.decode(payload));
    } catch (error) {
      return `is not JSON text (${(error as Error).message})`;
    }
    if (validate(value)) return undefined;
    return `is not valid against the JSON Schema (${ajv.errorsText(validate.errors, { separator: '; ' })})`;
  };
}

function protobufCheck(schema: string, references: readonly ResolvedReference[]): PayloadCheck {
  const { messages } = protobufFormat.parse(schema, references);
  // The schema file alone, unresolved: its own messages in declaration order, which the indexes count.
  const topLevel = protobufTopLevelMessages(schema);
  return (payload) => {
    const found = protobufMessageAt(payload, topLevel);
    if ('problem' in found) return found.problem;
    const resolved = messages.get(found.type.fullName.replace(/^\./, ''));
    if (!resolved) return `names message ${found.type.fullName}, which did not resolve`;
    try {
      // A plain Uint8Array, not a Buffer: protobufjs's Buffer reader does not check a string's length
      // against the end (it returned a short string for a field claiming 9 bytes with 1 left).
      resolved.decode(new Uint8Array(payload.buffer, payload.byteOffset + found.position, payload.length - found.position));
      return undefined;
    } catch (error) {
      return `is not Protobuf of message ${resolved.fullName.replace(/^\./, '')} (${(error as Error).message})`;
    }
  };
}
