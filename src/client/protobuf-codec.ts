import protobuf from 'protobufjs';
import { encodeMessageIndexes, readMessageIndexes } from '../format/schema-framing.js';
import type { CodecOptions, ResolvedReference, SchemaCodec } from './schema-codec.js';

/** How decoded messages become plain objects: int64 as decimal strings (no precision lost), enums by name, every field present. */
const TO_OBJECT: protobuf.IConversionOptions = { longs: String, enums: String, defaults: true };

/**
 * Protobuf binary by protobufjs. The schema text and its references (imports, by import path as
 * `name`) are parsed into one root; field names are protobufjs's default lowerCamelCase (as
 * @kafkajs/confluent-schema-registry has them). Values are checked with `verify()` before encoding
 * (a field of the wrong type is refused, not coerced), then encoded as `messageName` (default the
 * file's first message), its path among the file's messages written as the message indexes.
 *
 * Decoding reads the message indexes to choose the type. @kafkajs/confluent-schema-registry 3.x
 * writes no indexes (and skips leading zero bytes when it reads): a payload whose indexes do not name
 * a message of the file, or whose message does not decode, is read once more as the file's first
 * message without indexes, so records from that client decode too. Decoded messages are plain objects
 * (TO_OBJECT).
 */
export function protobufCodec(schema: string, references: readonly ResolvedReference[], options: CodecOptions): SchemaCodec {
  const root = new protobuf.Root();
  const imports = new Set<string>();
  for (const reference of references) addImports(protobuf.parse(reference.schema, root), imports);
  addImports(protobuf.parse(schema, root), imports);
  for (const path of imports) {
    const bundled = protobuf.common.get(path);
    if (bundled && !references.some((reference) => reference.name === path)) root.addJSON(bundled.nested ?? {});
  }
  root.resolveAll();
  // The file's own messages, in declaration order, from a parse of the file alone.
  const own = protobuf.parse(schema, new protobuf.Root());
  const top = own.package ? (own.root.lookup(own.package) as protobuf.Namespace | null) : own.root;
  const paths = new Map<string, number[]>();
  if (top) collectPaths(top, [], paths);
  const first = [...paths.keys()][0];
  if (first === undefined) throw new Error('the Protobuf schema defines no message');
  const typeByPath = new Map<string, protobuf.Type>();
  for (const [name, path] of paths) typeByPath.set(path.join('.'), root.lookupType(name));
  const writerName = options.messageName === undefined ? first : qualified(options.messageName, own.package);
  const writerPath = paths.get(writerName);
  if (!writerPath) throw new Error(`the Protobuf schema defines no message '${options.messageName}' (it has ${[...paths.keys()].join(', ')})`);
  const writer = root.lookupType(writerName);
  const writerIndexes = encodeMessageIndexes(writerPath);
  const firstType = typeByPath.get('0')!;
  return {
    schemaType: 'PROTOBUF',
    recordName: writerName,
    encode(value) {
      if (value === null || typeof value !== 'object') throw new Error(`a Protobuf value is an object, not ${value === null ? 'null' : typeof value}`);
      const problem = writer.verify(value as Record<string, unknown>);
      if (problem) throw new Error(`the value does not fit the Protobuf message ${writerName}: ${problem}`);
      const body = writer.encode(writer.fromObject(value as Record<string, unknown>)).finish();
      const out = Buffer.allocUnsafe(writerIndexes.length + body.length);
      out.set(writerIndexes, 0);
      out.set(body, writerIndexes.length);
      return out;
    },
    decode(payload) {
      const read = readMessageIndexes(payload, 0);
      const type = read && typeByPath.get(read.indexes.join('.'));
      if (read && type) {
        try {
          return type.toObject(type.decode(payload.subarray(read.next)), TO_OBJECT);
        } catch (error) {
          if (!isWithoutIndexes(payload)) throw error;
        }
      }
      return firstType.toObject(firstType.decode(payload), TO_OBJECT);
    },
  };
}

/** Whether the payload could be a message without indexes: a message never starts with byte 0 (field number 0 does not exist). */
function isWithoutIndexes(payload: Uint8Array): boolean {
  return payload.length > 0 && payload[0] !== 0;
}

function qualified(name: string, pkg: string | undefined): string {
  const bare = name.replace(/^\./, '');
  return pkg && !bare.startsWith(`${pkg}.`) ? `${pkg}.${bare}` : bare;
}

function collectPaths(namespace: protobuf.NamespaceBase, prefix: number[], out: Map<string, number[]>): void {
  let index = 0;
  for (const nested of namespace.nestedArray) {
    if (!(nested instanceof protobuf.Type)) continue;
    const path = [...prefix, index++];
    out.set(nested.fullName.replace(/^\./, ''), path);
    collectPaths(nested, path, out);
  }
}

function addImports(result: protobuf.IParserResult, imports: Set<string>): void {
  for (const path of [...(result.imports ?? []), ...(result.weakImports ?? [])]) imports.add(path);
}
