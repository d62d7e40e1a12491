import { Ajv, type AnySchema, type ValidateFunction } from 'ajv';
import type { CodecOptions, ResolvedReference, SchemaCodec } from './schema-codec.js';

/**
 * JSON text checked by ajv against a JSON Schema (draft-07, as the registry parses it); references
 * are schemas added under their `name`, the URL a `$ref` uses. Encoding always validates (Confluent's
 * serializer with `json.fail.invalid.schema`); decoding only with `validateOnDecode`, since the
 * producer's side already checked and a consumer usually wants the data it was given.
 */
export function jsonSchemaCodec(schema: string, references: readonly ResolvedReference[], options: CodecOptions): SchemaCodec {
  const ajv = new Ajv({ strict: false, allErrors: false, validateFormats: false });
  for (const reference of references) ajv.addSchema(JSON.parse(reference.schema) as AnySchema, reference.name);
  const parsed = JSON.parse(schema) as AnySchema;
  const validate: ValidateFunction = ajv.compile(parsed);
  const title = typeof parsed === 'object' && typeof parsed.title === 'string' ? parsed.title : undefined;
  const check = (value: unknown): void => {
    if (!validate(value)) throw new Error(`the value does not fit the JSON Schema${title ? ` ${title}` : ''}: ${ajv.errorsText(validate.errors, { dataVar: 'value' })}`);
  };
  return {
    schemaType: 'JSON',
    recordName: title,
    encode(value) {
      check(value);
      const text = JSON.stringify(value);
      if (text === undefined) throw new Error(`the value is not JSON (${typeof value})`);
      return Buffer.from(text, 'utf8');
    },
    decode(payload) {
      const value: unknown = JSON.parse(Buffer.from(payload.buffer, payload.byteOffset, payload.length).toString('utf8'));
      if (options.validateOnDecode) check(value);
      return value;
    },
  };
}
