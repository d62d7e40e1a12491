import { StrataError } from '../core/errors.js';
import type { ConsumedRecord } from './consumed-record.js';
import type { HandlerContext, RecordHandler } from './group-failure-policy.js';
import { NonRetriableError } from './non-retriable-error.js';
import type { Deserializer } from './schema-deserializer.js';

/** A consumed record whose key and value went through deserializers (null ones stay null). */
export type DeserializedRecord<K, V> = Omit<ConsumedRecord, 'key' | 'value'> & { key: K | null; value: V | null };

/** Consumer options: `{ keyDeserializer, valueDeserializer }`; a side without one stays bytes. */
export interface RecordDeserializers<K, V> {
  keyDeserializer?: Deserializer<K>;
  valueDeserializer?: Deserializer<V>;
}

export function hasDeserializers(options: object | undefined): options is RecordDeserializers<unknown, unknown> {
  const o = options as RecordDeserializers<unknown, unknown> | undefined;
  return o?.keyDeserializer !== undefined || o?.valueDeserializer !== undefined;
}

/**
 * The record with its key and value deserialized: synchronously once the deserializers know the
 * schemas, a promise when one must ask the registry first. A failure is the deserializer's typed
 * error naming the record's topic, partition and offset.
 */
export function decodeRecord<K, V>(record: ConsumedRecord, { keyDeserializer, valueDeserializer }: RecordDeserializers<K, V>): DeserializedRecord<K, V> | Promise<DeserializedRecord<K, V>> {
  const { topic, partition, offset } = record;
  const key = keyDeserializer && record.key !== null ? keyDeserializer.deserialize(record.key, { topic, partition, offset, isKey: true }) : record.key;
  const value = valueDeserializer && record.value !== null ? valueDeserializer.deserialize(record.value, { topic, partition, offset, isKey: false }) : record.value;
  if (key instanceof Promise || value instanceof Promise) {
    return Promise.all([key, value]).then(([k, v]) => ({ ...record, key: k as K | null, value: v as V | null }));
  }
  return { ...record, key: key as K | null, value: value as V | null };
}

/** `records` deserialized one by one, in order; leaving the loop ends the source too. */
export async function* decodeRecords<K, V>(records: AsyncIterable<ConsumedRecord>, deserializers: RecordDeserializers<K, V>): AsyncGenerator<DeserializedRecord<K, V>> {
  for await (const record of records) yield await decodeRecord(record, deserializers);
}

/** `batches` deserialized, each batch whole, in order (an await only where a schema must be fetched). */
export async function* decodeBatches<K, V>(batches: AsyncIterable<ConsumedRecord[]>, deserializers: RecordDeserializers<K, V>): AsyncGenerator<Array<DeserializedRecord<K, V>>> {
  for await (const batch of batches) {
    const decoded: Array<DeserializedRecord<K, V>> = new Array(batch.length);
    for (let i = 0; i < batch.length; i++) {
      const one = decodeRecord(batch[i]!, deserializers);
      decoded[i] = one instanceof Promise ? await one : one;
    }
    yield decoded;
  }
}

/**
 * A group member's process() handler that gets records deserialized. A record that does not
 * deserialize fails as a throwing handler would; under a failure policy (`isDeadLettering`) as a
 * NonRetriableError, so it goes to the dead-letter topic at once (the same bytes would fail every
 * retry), its typed error as the cause.
 */
export function decodingHandler<K, V>(handler: (record: DeserializedRecord<K, V>, context: HandlerContext) => void | Promise<void>, deserializers: RecordDeserializers<K, V>, isDeadLettering: boolean): RecordHandler {
  return async (record, context) => {
    let decoded: DeserializedRecord<K, V>;
    try {
      decoded = await decodeRecord(record, deserializers);
    } catch (error) {
      if (isDeadLettering && error instanceof StrataError && !error.retriable) throw new NonRetriableError(error.message, { cause: error });
      throw error;
    }
    return handler(decoded, context);
  };
}
