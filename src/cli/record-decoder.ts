import type { ConsumedRecord } from '../client/consume.js';
import type { SchemaRegistryClient } from '../client/schema-codec.js';
import { schemaDeserializer, schemaIdOf } from '../client/schema-deserializer.js';
import { RecordDeserializationError, UnknownSchemaIdError } from '../core/errors.js';
import { toText, type OutputEncoding } from './record-format.js';

/** One side (key or value) of a record as `--decode` prints it. */
interface DecodedSide {
  /** The decoded value; the bytes as text (in --encoding) when they have no framing or do not decode. */
  value: unknown;
  schemaId: number | null;
  error?: string;
}

/**
 * `consume --decode`: each record as one JSON line whose key and value are decoded through the schema
 * registry by the id in their Confluent framing (schemas fetched once per id). A key or value without
 * framing prints as text, as without --decode, with a null schema id (a one-time note on stderr says
 * so for values); one that names an unknown id or does not decode prints as text with the reason in
 * `keyError` / `valueError`, and the consumer goes on. A registry that cannot be reached stops it.
 */
export class RecordDecoder {
  private readonly deserializer;
  private hasNotedUnframed = false;

  constructor(
    registry: SchemaRegistryClient,
    private readonly encoding: OutputEncoding,
    private readonly note: (text: string) => void,
  ) {
    this.deserializer = schemaDeserializer({ registry });
  }

  /** The record's JSON line (no newline). */
  async line(record: ConsumedRecord, extra: object = {}): Promise<string> {
    const [key, value] = await Promise.all([this.side(record, true), this.side(record, false)]);
    if (value.schemaId === null && record.value !== null && !this.hasNotedUnframed) {
      this.hasNotedUnframed = true;
      this.note(`note: ${record.topic}/${record.partition} offset ${record.offset} and maybe others have a value without schema framing (magic byte 0 and a schema id): printed as text, with valueSchemaId null`);
    }
    const timestamp = new Date(record.timestampMs);
    const line = {
      topic: record.topic,
      partition: record.partition,
      offset: record.offset,
      timestamp: Number.isNaN(timestamp.getTime()) ? null : timestamp.toISOString(),
      timestampMs: record.timestampMs,
      key: key.value,
      keySchemaId: key.schemaId,
      ...(key.error !== undefined ? { keyError: key.error } : {}),
      value: value.value,
      valueSchemaId: value.schemaId,
      ...(value.error !== undefined ? { valueError: value.error } : {}),
      headers: record.headers.map((h) => ({ key: h.key, value: toText(h.value, this.encoding) })),
      ...extra,
    };
    return JSON.stringify(line, bytesAsBase64);
  }

  private async side(record: ConsumedRecord, isKey: boolean): Promise<DecodedSide> {
    const bytes = isKey ? record.key : record.value;
    if (bytes === null) return { value: null, schemaId: null };
    const schemaId = schemaIdOf(bytes);
    if (schemaId === undefined) return { value: toText(bytes, this.encoding), schemaId: null };
    try {
      return { value: await this.deserializer.deserialize(bytes, { topic: record.topic, partition: record.partition, offset: record.offset, isKey }), schemaId };
    } catch (error) {
      if (!(error instanceof UnknownSchemaIdError || error instanceof RecordDeserializationError)) throw error;
      return { value: toText(bytes, this.encoding), schemaId, error: error.message };
    }
  }
}

/** Bytes inside a decoded value (Avro bytes and fixed, Protobuf bytes) as base64 strings, not {type, data} objects. */
function bytesAsBase64(this: unknown, key: string, value: unknown): unknown {
  const original = (this as Record<string, unknown>)[key];
  return Buffer.isBuffer(original) ? original.toString('base64') : value;
}
