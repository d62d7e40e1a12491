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
 * - a field's label changed: repeated <-> singular, map <-> not, proto2 required <-> not;
 * - oneofs (Buf's FIELD_SAME_ONEOF, Confluent's ONEOF_FIELD_REMOVED, FIELD_MOVED_TO_EXISTING_ONEOF and
 *   MULTIPLE_FIELDS_MOVED_TO_ONEOF): a field of a oneof removed or moved out of it, or into another;
 *   a field moved into a oneof the writer already had; two or more fields moved into one new oneof
 *   (data that set both would lose one). One field moved into a new oneof of its own is fine. proto3
 *   `optional` fields' synthetic oneofs do not count.
 * Not checked: enum values (an unknown value survives on the wire, and Confluent lets enum constants
 * be removed), packed encoding, json names, options, services.
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
      out.push(...oneofIncompatibilities(name, readerType, writerType));
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

/** The field's oneof, unless it is the synthetic one protobufjs makes for a proto3 `optional` field. */
function oneofOf(field: protobuf.Field): string | undefined {
  const oneof = field.partOf;
  if (!oneof) return undefined;
  const isSynthetic = oneof.oneof.length === 1 && oneof.name === `_${field.name}`;
  return isSynthetic ? undefined : oneof.name;
}

function oneofIncompatibilities(name: string, readerType: protobuf.Type, writerType: protobuf.Type): string[] {
  const out: string[] = [];
  const writerOneofs = new Set(writerType.fieldsArray.map(oneofOf).filter((o): o is string => o !== undefined));
  const movedIntoNew = new Map<string, number[]>();
  for (const writerField of writerType.fieldsArray) {
    const where = `${name}: field ${writerField.id} ('${writerField.name}')`;
    const writerOneof = oneofOf(writerField);
    const readerField = readerType.fieldsById[writerField.id];
    const readerOneof = readerField ? oneofOf(readerField) : undefined;
    if (writerOneof !== undefined) {
      if (!readerField) out.push(`${where} removed from oneof ${writerOneof}`);
      else if (readerOneof !== writerOneof) out.push(`${where} moved out of oneof ${writerOneof}${readerOneof ? ` into ${readerOneof}` : ''}`);
      continue;
    }
    if (readerOneof === undefined) continue;
    if (writerOneofs.has(readerOneof)) out.push(`${where} moved into the existing oneof ${readerOneof}`);
    else movedIntoNew.set(readerOneof, [...(movedIntoNew.get(readerOneof) ?? []), writerField.id]);
  }
  for (const [oneof, ids] of movedIntoNew) {
    if (ids.length > 1) out.push(`${name}: fields ${ids.join(', ')} moved into the new oneof ${oneof} (a writer may have set more than one)`);
  }
  return out;
}
