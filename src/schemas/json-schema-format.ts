import { Ajv, type AnySchema } from 'ajv';
import { InvalidSchemaError } from '../core/errors.js';
import { canonicalJson, type SchemaFormat } from './schema-format.js';

type JsonSchema = boolean | { readonly [keyword: string]: unknown };

interface ParsedJsonSchema {
  readonly schema: JsonSchema;
}

/**
 * JSON Schema, parsed and checked by ajv (draft-07, Confluent's default): a schema ajv cannot compile
 * is invalid; a reference is another schema added under its `name` (the URL a `$ref` uses).
 *
 * Compatibility: a subset of Confluent's JSON Schema rules, checked structurally from the root through
 * `properties`, `additionalProperties` and `items` (a single schema). Data written with `writer` can be
 * read with `reader` unless:
 * - `type`: the reader allows fewer types (an absent `type` is every type; integer -> number widens);
 * - `enum` / `const`: the reader drops a value the writer allowed, or adds a constraint the writer lacked;
 * - bounds: the reader narrows `maximum`, `minimum`, `exclusiveMaximum`, `exclusiveMinimum`,
 *   `maxLength`, `minLength`, `maxItems`, `minItems`, `maxProperties`, `minProperties`, or changes `pattern`;
 * - `required`: the reader requires a property the writer did not require;
 * - a property the writer has is gone from a reader whose content model is closed
 *   (`additionalProperties: false`), or is checked against the reader's `additionalProperties` schema;
 * - a property the reader adds to a writer whose content model is open: the writer may have written
 *   anything under that name, so the reader's schema of it must accept anything the writer's
 *   `additionalProperties` allows (Confluent's PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL);
 * - the reader closes (or narrows) `additionalProperties` the writer left open.
 * Not analysed: `oneOf`, `anyOf`, `allOf`, `not`, `if`/`then`/`else`, `patternProperties`,
 * `dependencies`, tuple `items`, `format`. Where reader and writer differ in one of these, or in a
 * `$ref`, the change is reported as incompatible (conservative: never a false "compatible").
 */
export const jsonSchemaFormat: SchemaFormat<ParsedJsonSchema> = {
  type: 'JSON',

  parse(schema, references) {
    const ajv = new Ajv({ strict: false, allErrors: false, validateFormats: false });
    try {
      for (const reference of references) ajv.addSchema(parseJson(reference.schema, `reference '${reference.name}'`) as AnySchema, reference.name);
    } catch (error) {
      if (error instanceof InvalidSchemaError) throw error;
      throw new InvalidSchemaError(`invalid JSON Schema reference: ${(error as Error).message}`);
    }
    const parsed = parseJson(schema, 'schema');
    if (typeof parsed !== 'boolean' && (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))) {
      throw new InvalidSchemaError('invalid JSON Schema: a schema is an object or a boolean');
    }
    try {
      ajv.compile(parsed as AnySchema);
    } catch (error) {
      throw new InvalidSchemaError(`invalid JSON Schema: ${(error as Error).message}`);
    }
    return { schema: parsed as JsonSchema };
  },

  canonical(schema) {
    try {
      return canonicalJson(JSON.parse(schema));
    } catch {
      return schema.trim();
    }
  },

  incompatibilities(reader, writer) {
    const out: string[] = [];
    compare(reader.schema, writer.schema, '#', out);
    return out;
  },
};

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new InvalidSchemaError(`invalid JSON Schema ${what}: not JSON (${(error as Error).message})`);
  }
}

const NOT_ANALYSED = ['oneOf', 'anyOf', 'allOf', 'not', 'if', 'then', 'else', 'patternProperties', 'dependencies', 'dependentSchemas', 'dependentRequired', '$ref', 'format'];
/** Upper bounds: the reader must not set one lower (or set one the writer lacked). */
const UPPER_BOUNDS = ['maximum', 'exclusiveMaximum', 'maxLength', 'maxItems', 'maxProperties'];
const LOWER_BOUNDS = ['minimum', 'exclusiveMinimum', 'minLength', 'minItems', 'minProperties'];

function compare(reader: JsonSchema, writer: JsonSchema, path: string, out: string[]): void {
  if (reader === true || writer === false) return;
  if (reader === false) return void out.push(`${path}: the reader accepts nothing`);
  const w: Record<string, unknown> = writer === true ? {} : writer;
  const r = reader;
  for (const keyword of NOT_ANALYSED) {
    if (r[keyword] !== undefined && canonicalJson(r[keyword]) !== canonicalJson(w[keyword])) out.push(`${path}: '${keyword}' changed (not analysed, so refused)`);
  }
  const readerTypes = typesOf(r.type);
  if (readerTypes) {
    const writerTypes = typesOf(w.type);
    if (!writerTypes) out.push(`${path}: type narrowed from any to ${readerTypes.join('|')}`);
    else for (const t of writerTypes) if (!readerTypes.includes(t) && !(t === 'integer' && readerTypes.includes('number'))) out.push(`${path}: type '${t}' is no longer allowed`);
  }
  if (Array.isArray(r.enum)) {
    if (!Array.isArray(w.enum)) out.push(`${path}: enum added`);
    else {
      const allowed = new Set(r.enum.map(canonicalJson));
      for (const value of w.enum) if (!allowed.has(canonicalJson(value))) out.push(`${path}: enum value ${canonicalJson(value)} removed`);
    }
  }
  if (r.const !== undefined && canonicalJson(r.const) !== canonicalJson(w.const)) out.push(`${path}: const changed`);
  for (const keyword of UPPER_BOUNDS) {
    if (typeof r[keyword] === 'number' && !(typeof w[keyword] === 'number' && (w[keyword] as number) <= (r[keyword] as number))) out.push(`${path}: ${keyword} narrowed`);
  }
  for (const keyword of LOWER_BOUNDS) {
    if (typeof r[keyword] === 'number' && (r[keyword] as number) > 0 && !(typeof w[keyword] === 'number' && (w[keyword] as number) >= (r[keyword] as number))) out.push(`${path}: ${keyword} narrowed`);
  }
  if (r.pattern !== undefined && r.pattern !== w.pattern) out.push(`${path}: pattern changed`);
  compareObjects(r, w, path, out);
  if (isSchema(r.items) && !Array.isArray(r.items)) compare(r.items, isSchema(w.items) && !Array.isArray(w.items) ? w.items : true, `${path}/items`, out);
}

function compareObjects(r: Record<string, unknown>, w: Record<string, unknown>, path: string, out: string[]): void {
  const writerRequired = new Set(Array.isArray(w.required) ? (w.required as string[]) : []);
  for (const name of Array.isArray(r.required) ? (r.required as string[]) : []) if (!writerRequired.has(name)) out.push(`${path}: required property '${name}' added`);
  const readerProperties = propertiesOf(r);
  const writerProperties = propertiesOf(w);
  const readerExtra = isSchema(r.additionalProperties) ? r.additionalProperties : true;
  const writerExtra = isSchema(w.additionalProperties) ? w.additionalProperties : true;
  for (const [name, writerProperty] of Object.entries(writerProperties)) {
    const readerProperty = readerProperties[name];
    if (readerProperty !== undefined) compare(readerProperty, writerProperty, `${path}/properties/${name}`, out);
    else if (readerExtra === false) out.push(`${path}: property '${name}' removed from a closed content model`);
    else compare(readerExtra, writerProperty, `${path}/properties/${name}`, out);
  }
  for (const [name, readerProperty] of Object.entries(readerProperties)) {
    if (writerProperties[name] === undefined && writerExtra !== false) {
      const before = out.length;
      compare(readerProperty, writerExtra, `${path}/properties/${name}`, out);
      if (out.length > before) out.splice(before, out.length - before, `${path}: property '${name}' added to an open content model (the writer may have written anything under it)`);
    }
  }
  if (readerExtra !== true) compare(readerExtra, writerExtra, `${path}/additionalProperties`, out);
}

function typesOf(type: unknown): string[] | undefined {
  if (typeof type === 'string') return [type];
  if (Array.isArray(type)) return type.filter((t): t is string => typeof t === 'string');
  return undefined;
}

function isSchema(value: unknown): value is JsonSchema {
  return typeof value === 'boolean' || (typeof value === 'object' && value !== null);
}

function propertiesOf(schema: Record<string, unknown>): Record<string, JsonSchema> {
  const properties = schema.properties;
  return typeof properties === 'object' && properties !== null ? (properties as Record<string, JsonSchema>) : {};
}
