import protobuf from 'protobufjs';
import { readVarint, varintCursor } from '../format/varint.js';
import { avroFormat } from './avro-format.js';
import type { ResolvedReference, SchemaType } from './schema-format.js';

/** Confluent's limit on a Protobuf message-index array is the nesting depth; ours, against hostile input. */
const MAX_MESSAGE_INDEXES = 100;

/**
 * The record name of a payload (`buf[payloadStart, payloadEnd)`, the bytes after Confluent's 5-byte framing) written with one schema,
 * as Confluent's RecordNameStrategy and TopicRecordNameStrategy take it: `{ name }`, or `{ problem }`
 * in words for an error message.
 */
export type RecordNamer = (buf: Buffer, payloadStart: number, payloadEnd: number) => { name: string; problem?: undefined } | { name?: undefined; problem: string };

/**
 * Compiles the record naming of one registered schema, as Confluent's serializers name records:
 * - AVRO: the full name of the schema's named type (record, enum, fixed); a primitive, array, map or
 *   union has none;
 * - JSON: the schema's `title`;
 * - PROTOBUF: the full name of the message the payload's message-index array names (messagePath).
 * Throws InvalidSchemaError when the schema itself does not parse.
 */
export function compileRecordNamer(schemaType: SchemaType, schema: string, references: readonly ResolvedReference[]): RecordNamer {
  switch (schemaType) {
    case 'AVRO': {
      const name = avroFormat.parse(schema, references).name;
      return constantName(name, 'the Avro schema is not a named type (record, enum or fixed), so it has no record name');
    }
    case 'JSON': {
      const title = (JSON.parse(schema) as { title?: unknown }).title;
      return constantName(typeof title === 'string' && title !== '' ? title : undefined, 'the JSON Schema has no title, so it has no record name');
    }
    case 'PROTOBUF': {
      const topLevel = protobufTopLevelMessages(schema);
      return (buf, payloadStart, payloadEnd) => {
        const found = protobufMessageAt(buf.subarray(payloadStart, payloadEnd), topLevel);
        return 'problem' in found ? { problem: `the payload ${found.problem}` } : { name: found.type.fullName.replace(/^\./, '') };
      };
    }
  }
}

function constantName(name: string | undefined, problem: string): RecordNamer {
  const answer = name === undefined ? { problem } : { name };
  return () => answer;
}

/** The top-level messages of a Protobuf schema file alone (unresolved), in declaration order: what message indexes count. */
export function protobufTopLevelMessages(schema: string): protobuf.Type[] {
  const own = protobuf.parse(schema, new protobuf.Root(), { keepCase: true });
  const scope = own.package ? own.root.lookup(own.package) : own.root;
  return scope instanceof protobuf.Namespace ? messageTypesOf(scope) : [];
}

/**
 * The message a Confluent Protobuf payload names, and where its binary starts: the message-index
 * array (zigzag varints: a count, then one index per nesting level into the messages in declaration
 * order; a count of 0, a lone 0 byte, means the first top-level message).
 */
export function protobufMessageAt(payload: Buffer, topLevel: readonly protobuf.Type[]): { type: protobuf.Type; position: number } | { problem: string } {
  try {
    let pos = 0;
    const count = readVarint(payload, pos);
    pos = varintCursor.nextPosition;
    if (count < 0 || count > MAX_MESSAGE_INDEXES) return { problem: `has a message-index count of ${count}` };
    let level: readonly protobuf.Type[] = topLevel;
    let type: protobuf.Type | undefined = count === 0 ? topLevel[0] : undefined;
    let path = '';
    for (let i = 0; i < count; i++) {
      const index = readVarint(payload, pos);
      pos = varintCursor.nextPosition;
      path += `${i > 0 ? '.' : ''}${index}`;
      type = level[index];
      if (!type) return { problem: `names message index ${path}, which the schema does not define` };
      level = messageTypesOf(type);
    }
    if (!type) return { problem: 'names no message (the schema defines none at the top level)' };
    return { type, position: pos };
  } catch (error) {
    return { problem: `has a bad message-index array (${(error as Error).message})` };
  }
}

function messageTypesOf(namespace: protobuf.NamespaceBase): protobuf.Type[] {
  return namespace.nestedArray.filter((nested): nested is protobuf.Type => nested instanceof protobuf.Type);
}
