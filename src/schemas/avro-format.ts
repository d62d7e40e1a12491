import avro from 'avsc';
import { InvalidSchemaError } from '../core/errors.js';
import { canonicalJson, type SchemaFormat } from './schema-format.js';

type AvroType = avro.Type;

/**
 * Avro by avsc. A reference is a named type (record, enum, fixed) the schema uses by its full name:
 * referenced schemas are parsed first into one registry of names, so the main schema resolves them.
 * Compatibility is avsc's reader/writer resolution (`createResolver`), which applies the Avro
 * specification's schema resolution rules (promotions int -> long -> float -> double, string <-> bytes,
 * fields added with defaults, enum symbols, unions, aliases): a resolver that cannot be built means the
 * reader cannot read what the writer wrote.
 */
export const avroFormat: SchemaFormat<AvroType> = {
  type: 'AVRO',

  parse(schema, references) {
    const registry: Record<string, AvroType> = {};
    for (const reference of references) forSchema(reference.schema, registry, `reference '${reference.name}'`);
    return forSchema(schema, registry, 'schema');
  },

  canonical(schema) {
    try {
      return canonicalJson(JSON.parse(schema));
    } catch {
      return schema.trim();
    }
  },

  incompatibilities(reader, writer) {
    try {
      reader.createResolver(writer);
      return [];
    } catch (error) {
      return [(error as Error).message];
    }
  },
};

function forSchema(text: string, registry: Record<string, AvroType>, what: string): AvroType {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    // A bare primitive name ("string") is valid Avro though not JSON text.
    json = text.trim();
  }
  try {
    return avro.Type.forSchema(json as avro.Schema, { registry });
  } catch (error) {
    throw new InvalidSchemaError(`invalid Avro ${what}: ${(error as Error).message}`);
  }
}
