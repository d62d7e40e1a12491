import protobuf from 'protobufjs';
import { InvalidSchemaError } from '../core/errors.js';
import type { SchemaFormat } from './schema-format.js';

interface ParsedProtobuf {
  /** Every message type the schema and its references define, by full name (no leading dot). */
  readonly messages: ReadonlyMap<string, protobuf.Type>;
}

/**
 * Protobuf by protobufjs: the schema text (proto2 or proto3) and its references (imports, by the
 * import path as `name`) are parsed into one root and every type must resolve. Well-known imports
 * (google/protobuf/*.proto) resolve from protobufjs's bundled copies.
 *
 * Compatibility: Buf's wire rules, per message present in both (by full name), field by number.
 * Data written with `writer` can be read with `reader` unless:
 * - a message of the writer is gone from the reader;
 * - a field number of the writer is gone from the reader and the reader does not reserve it (a later
 *   field could reuse the number with another type);
 * - a field's type changed outside a wire-compatible group: {int32, uint32, int64, uint64, bool},
 *   {sint32, sint64}, {fixed32, sfixed32}, {fixed64, sfixed64}, {string, bytes}; a message or enum
 *   field must keep its type's full name;
 * - a field's label changed: repeated <-> singular, map <-> not, proto2 required <-> not.
 * Not checked: enum values, oneof membership, packed encoding, json names, options, services.
 */
export const protobufFormat: SchemaFormat<ParsedProtobuf> = {
  type: 'PROTOBUF',

  parse(schema, references) {
    const root = new protobuf.Root();
    const imports = new Set<string>();
    try {
      for (const reference of references) addImports(protobuf.parse(reference.schema, root, { keepCase: true }), imports);
      addImports(protobuf.parse(schema, root, { keepCase: true }), imports);
      for (const path of imports) {
        const bundled = protobuf.common.get(path);
        if (bundled && !references.some((reference) => reference.name === path)) root.addJSON(bundled.nested ?? {});
      }
      root.resolveAll();
    } catch (error) {
      throw new InvalidSchemaError(`invalid Protobuf schema: ${(error as Error).message}`);
    }
    const messages = new Map<string, protobuf.Type>();
    collectMessages(root, messages);
    if (messages.size === 0) throw new InvalidSchemaError('invalid Protobuf schema: it defines no message');
    return { messages };
  },

  canonical(schema) {
    return schema.trim();
  },

  incompatibilities(reader, writer) {
    const out: string[] = [];
    for (const [name, writerType] of writer.messages) {
      const readerType = reader.messages.get(name);
      if (!readerType) {
        out.push(`message ${name} removed`);
        continue;
      }
      for (const writerField of writerType.fieldsArray) {
        const readerField = readerType.fieldsById[writerField.id];
        if (!readerField) {
          if (!isReservedNumber(readerType, writerField.id)) out.push(`${name}: field ${writerField.id} ('${writerField.name}') removed without reserving its number`);
          continue;
        }
        const where = `${name}: field ${writerField.id} ('${writerField.name}')`;
        const readerKey = typeKey(readerField);
        const writerKey = typeKey(writerField);
        if (readerKey !== writerKey && wireGroup(readerKey) === undefined) out.push(`${where} type changed from ${writerKey} to ${readerKey}`);
        else if (readerKey !== writerKey && wireGroup(readerKey) !== wireGroup(writerKey)) out.push(`${where} type changed from ${writerKey} to ${readerKey} (not wire compatible)`);
        if (labelOf(readerField) !== labelOf(writerField)) out.push(`${where} label changed from ${labelOf(writerField)} to ${labelOf(readerField)}`);
      }
    }
    return out;
  },
};

const WIRE_GROUPS: readonly (readonly string[])[] = [['int32', 'uint32', 'int64', 'uint64', 'bool'], ['sint32', 'sint64'], ['fixed32', 'sfixed32'], ['fixed64', 'sfixed64'], ['string', 'bytes']];

function wireGroup(typeKey: string): number | undefined {
  const index = WIRE_GROUPS.findIndex((group) => group.includes(typeKey));
  return index < 0 ? undefined : index;
}

function typeKey(field: protobuf.Field): string {
  const resolved = field.resolvedType;
  const base = resolved ? resolved.fullName.replace(/^\./, '') : field.type;
  return field instanceof protobuf.MapField ? `map<${field.keyType}, ${base}>` : base;
}

function labelOf(field: protobuf.Field): string {
  if (field instanceof protobuf.MapField) return 'map';
  if (field.repeated) return 'repeated';
  return field.required ? 'required' : 'singular';
}

/**
 * protobufjs's parser stores `reserved 2;` and `reserved 2 to 4;` as inclusive ranges ([2, 2], [2, 4])
 * while its isReservedId() treats the end as exclusive, so it misses a single reserved number.
 */
function isReservedNumber(type: protobuf.Type, id: number): boolean {
  return (type.reserved ?? []).some((range) => typeof range !== 'string' && range[0]! <= id && id <= range[1]!);
}

function addImports(result: protobuf.IParserResult, imports: Set<string>): void {
  for (const path of [...(result.imports ?? []), ...(result.weakImports ?? [])]) imports.add(path);
}

function collectMessages(namespace: protobuf.NamespaceBase, out: Map<string, protobuf.Type>): void {
  for (const nested of namespace.nestedArray) {
    if (nested instanceof protobuf.Type) out.set(nested.fullName.replace(/^\./, ''), nested);
    if (nested instanceof protobuf.Namespace || nested instanceof protobuf.Type) collectMessages(nested, out);
  }
}
