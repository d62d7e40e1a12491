import type { Producer, ProducerRecord, RecordMetadata } from './producer.js';
import type { Serializer } from './schema-serializer.js';

/** A record as a producer with serializers takes it: key and value are the serializers' input. */
export type SerializedProducerRecord<K, V> = Omit<ProducerRecord, 'key' | 'value'> & { key?: K | null; value: V | null };

export interface ProducerSerializers<K, V> {
  keySerializer?: Serializer<K>;
  valueSerializer?: Serializer<V>;
}

/** A record's serialized form, or the promise of it (a serializer's first registry call). */
type Prepared = ProducerRecord | Promise<ProducerRecord>;

/**
 * A Producer whose keys and values go through serializers first (`client.producer({ valueSerializer })`);
 * null keys and values (tombstones) pass as they are. Everything else is the Producer's: batching,
 * partitioning of the serialized key, bounds, retries.
 *
 * Order: a serializer answers synchronously once it knows its schema, and the record goes to the
 * producer in the same call, as without serializers. While any record waits for a serializer's
 * promise (a registry call), every later record waits behind it and they reach the producer in the
 * order they were sent, so per-key (per-partition) order holds. Records waiting here are held as the
 * producer holds records waiting for a topic's metadata: their send() is pending until they are
 * placed, and then the producer's maxBufferedBytes applies. A record whose serializer fails fails
 * alone (RecordSerializationError), before anything of it is queued.
 */
export class SerializingProducer<K, V> {
  /** Records waiting for a serializer's promise, or behind one that is. */
  private waitingCount = 0;
  private waitChain: Promise<unknown> = Promise.resolve();

  constructor(
    /** The producer the serialized records go to (flush, close and metrics are its). */
    readonly producer: Producer,
    private readonly serializers: ProducerSerializers<K, V>,
  ) {}

  send(topic: string, record: SerializedProducerRecord<K, V>): Promise<RecordMetadata> {
    if (this.waitingCount === 0) {
      let prepared: Prepared;
      try {
        prepared = this.prepare(topic, record);
      } catch (error) {
        return Promise.reject(error as Error);
      }
      if (!(prepared instanceof Promise)) return this.producer.send(topic, prepared);
      return this.after(prepared, (serialized) => this.producer.send(topic, serialized));
    }
    return this.after(this.waitChain.then(() => this.prepare(topic, record)), (serialized) => this.producer.send(topic, serialized));
  }

  /** sendBatch() of Producer, each record serialized first; one failing to serialize refuses the whole call, as a bad record does. */
  sendBatch(topic: string, records: ReadonlyArray<SerializedProducerRecord<K, V>>): Promise<RecordMetadata[]> {
    const prepareAll = (): ProducerRecord[] | Promise<ProducerRecord[]> => {
      const prepared = records.map((record) => this.prepare(topic, record));
      return prepared.some((one) => one instanceof Promise) ? Promise.all(prepared) : (prepared as ProducerRecord[]);
    };
    if (this.waitingCount === 0) {
      let prepared: ProducerRecord[] | Promise<ProducerRecord[]>;
      try {
        prepared = prepareAll();
      } catch (error) {
        return Promise.reject(error as Error);
      }
      if (!(prepared instanceof Promise)) return this.producer.sendBatch(topic, prepared);
      return this.after(prepared, (serialized) => this.producer.sendBatch(topic, serialized));
    }
    return this.after(this.waitChain.then(prepareAll), (serialized) => this.producer.sendBatch(topic, serialized));
  }

  /** Waits for records still waiting for a serializer, then flushes the producer. */
  async flush(): Promise<void> {
    while (this.waitingCount > 0) await this.waitChain;
    await this.producer.flush();
  }

  async close(): Promise<void> {
    while (this.waitingCount > 0) await this.waitChain;
    await this.producer.close();
  }

  /**
   * Hands `serialized` to the producer once it resolves, in turn: the chain moves on once the
   * producer has the record (placed or queued), not once it is acknowledged.
   */
  private after<R, A>(serialized: Promise<R>, place: (records: R) => Promise<A>): Promise<A> {
    this.waitingCount++;
    // Boxed, so that the chain waits for the placing, not for the acknowledgement it promises.
    const placed = serialized.then((records) => ({ acknowledged: place(records) }));
    this.waitChain = placed.then(
      () => this.waitingCount--,
      () => this.waitingCount--,
    );
    return placed.then((box) => box.acknowledged);
  }

  private prepare(topic: string, record: SerializedProducerRecord<K, V>): Prepared {
    if (record === null || typeof record !== 'object') return record as unknown as ProducerRecord;
    const { keySerializer, valueSerializer } = this.serializers;
    const key = keySerializer && record.key !== null && record.key !== undefined ? keySerializer.serialize(record.key, { topic, isKey: true }) : (record.key as ProducerRecord['key']);
    const value = valueSerializer && record.value !== null ? valueSerializer.serialize(record.value, { topic, isKey: false }) : (record.value as ProducerRecord['value']);
    if (key instanceof Promise || value instanceof Promise) {
      return Promise.all([key, value]).then(([k, v]) => ({ ...record, key: asBytes(k), value: asBytes(v) }) as ProducerRecord);
    }
    return { ...record, key: asBytes(key), value: asBytes(value) } as ProducerRecord;
  }
}

function asBytes<B>(bytes: B): B | Buffer {
  return bytes instanceof Uint8Array && !Buffer.isBuffer(bytes) ? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length) : bytes;
}
