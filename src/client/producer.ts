import { randomInt } from 'node:crypto';
import { InvalidArgumentError, BatchTooLargeError } from '../core/errors.js';
import type { RecordInput } from '../format/record-batch-codec.js';
import type { AckLevel } from '../generated/strata/v1/AckLevel.js';
import { StrataClientError } from './client-error.js';
import { DefaultPartitioner, type Partitioner } from './partitioner.js';
import { ProducePipeline, type RecordMetadata, type SealedBatch } from './produce-pipeline.js';
import type { StrataClient } from './strata-client.js';

export type { RecordMetadata };

export interface ProducerOptions {
  /** How long a batch waits for more records before it is sent. Default 5 (Kafka 4's linger.ms). */
  lingerMs?: number;
  /** A batch is sent once its records reach this many bytes. Default 16384 (Kafka's batch.size). */
  batchBytes?: number;
  /** 'default': the topic's (durable under flush=always). Default 'default'. */
  acks?: 'default' | 'none' | 'written' | 'durable';
  /** Batches of one partition in flight at once; order holds through retries. Default 5. */
  maxInFlightPerPartition?: number;
  /** How long a record may take, retries included, before send() rejects. Default 120000. */
  deliveryTimeoutMs?: number;
  /** First retry backoff, doubling up to 1000 ms. Default 100. */
  retryBackoffMs?: number;
  /** send() waits while this many bytes are buffered or in flight. Default 32 MiB. */
  maxBufferedBytes?: number;
  /** The largest batch the producer builds; a single bigger record is refused. Default 1 MiB. */
  maxBatchBytes?: number;
  compression?: 'none' | 'gzip';
  partitioner?: Partitioner;
}

export interface ProducerRecord {
  key?: Buffer | string | null;
  value: Buffer | string | null;
  headers?: Record<string, string | Buffer>;
  timestampMs?: number;
  /** Overrides the partitioner. */
  partition?: number;
}

interface OpenBatch {
  records: RecordInput[];
  resolvers: SealedBatch['resolvers'];
  sizeBytes: number;
  createdAtMs: number;
  timer: NodeJS.Timeout | undefined;
}

const ACKS: Record<NonNullable<ProducerOptions['acks']>, AckLevel> = {
  default: 'ACK_LEVEL_UNSPECIFIED',
  none: 'ACK_LEVEL_NONE',
  written: 'ACK_LEVEL_WRITTEN',
  durable: 'ACK_LEVEL_DURABLE',
};
/** Per-record bytes on top of key, value and headers in a batch (varints, attributes, deltas). */
const RECORD_OVERHEAD_BYTES = 20;

/**
 * Batches records per partition and sends them through one Produce stream. A keyed record always
 * goes to the same partition (Kafka's murmur2), and records of one partition keep their send order,
 * retries included. Memory is bounded by maxBufferedBytes: send() waits for room.
 */
export class Producer {
  private readonly options: Required<Omit<ProducerOptions, 'partitioner'>> & { partitioner: Partitioner };
  private readonly pipeline: ProducePipeline;
  private readonly openBatches = new Map<string, OpenBatch>();
  private readonly partitionCounts = new Map<string, Promise<number>>();
  private bufferedBytes = 0;
  private readonly roomWaiters: Array<{ sizeBytes: number; resolve: () => void }> = [];
  private isClosed = false;
  private readonly admitting = new Set<Promise<unknown>>();

  constructor(
    private readonly client: StrataClient,
    options: ProducerOptions,
  ) {
    this.options = {
      lingerMs: options.lingerMs ?? 5,
      batchBytes: options.batchBytes ?? 16_384,
      acks: options.acks ?? 'default',
      maxInFlightPerPartition: options.maxInFlightPerPartition ?? 5,
      deliveryTimeoutMs: options.deliveryTimeoutMs ?? 120_000,
      retryBackoffMs: options.retryBackoffMs ?? 100,
      maxBufferedBytes: options.maxBufferedBytes ?? 32 * 1024 * 1024,
      maxBatchBytes: options.maxBatchBytes ?? 1024 * 1024,
      compression: options.compression ?? 'none',
      partitioner: options.partitioner ?? new DefaultPartitioner(),
    };
    const o = this.options;
    if (!(o.lingerMs >= 0) || !(o.batchBytes > 0) || !(o.maxInFlightPerPartition >= 1) || !(o.deliveryTimeoutMs > 0)) {
      throw new InvalidArgumentError('lingerMs >= 0, batchBytes > 0, maxInFlightPerPartition >= 1 and deliveryTimeoutMs > 0 are required');
    }
    if (o.batchBytes > o.maxBatchBytes || o.maxBatchBytes > o.maxBufferedBytes) {
      throw new InvalidArgumentError('batchBytes <= maxBatchBytes <= maxBufferedBytes is required');
    }
    this.pipeline = new ProducePipeline(client.stubs.produce, {
      producerId: randomInt(1, 2 ** 47),
      ackLevel: ACKS[o.acks],
      maxInFlightPerPartition: o.maxInFlightPerPartition,
      retryBackoffMs: o.retryBackoffMs,
      maxRetryBackoffMs: 1_000,
      compression: o.compression,
      onSettled: (sizeBytes) => this.release(sizeBytes),
    });
  }

  /** Queues one record; resolves with its partition and offset once acknowledged. */
  async send(topic: string, record: ProducerRecord): Promise<RecordMetadata> {
    if (this.isClosed) throw new StrataClientError('PRODUCER_CLOSED', 'the producer is closed', 9, false);
    const admitted: Promise<{ acknowledged: Promise<RecordMetadata> }> = this.admit(topic, record).finally(() => this.admitting.delete(admitted));
    this.admitting.add(admitted);
    const { acknowledged } = await admitted;
    return acknowledged;
  }

  /**
   * Everything before a record joins its batch: validation, room in the buffer, the topic's partition
   * count. Resolves with the acknowledgement promise, so flush() can wait for every send to be in a batch.
   */
  private async admit(topic: string, record: ProducerRecord): Promise<{ acknowledged: Promise<RecordMetadata> }> {
    const input: RecordInput = {
      key: record.key ?? null,
      value: record.value,
      ...(record.headers ? { headers: record.headers } : {}),
      timestampMs: record.timestampMs ?? Date.now(),
    };
    const sizeBytes = recordSizeBytes(input);
    if (sizeBytes > this.options.maxBatchBytes) throw new BatchTooLargeError(sizeBytes, this.options.maxBatchBytes);
    // Order: a send that must wait for room or metadata keeps its place behind earlier ones.
    const partitionCount = this.partitionCounts.get(topic) ?? this.loadPartitionCount(topic);
    if (this.roomWaiters.length > 0 || this.bufferedBytes + sizeBytes > this.options.maxBufferedBytes) await this.waitForRoom(sizeBytes);
    else this.bufferedBytes += sizeBytes;
    const count = await partitionCount;
    const key = input.key === null || input.key === undefined ? null : Buffer.from(input.key);
    const partition = record.partition ?? this.options.partitioner.partition(topic, key, count);
    if (!Number.isInteger(partition) || partition < 0 || partition >= count) {
      this.release(sizeBytes);
      throw new InvalidArgumentError(`partition ${partition} is outside 0..${count - 1} of topic '${topic}'`);
    }
    const acknowledged = new Promise<RecordMetadata>((resolve, reject) => this.append(topic, partition, input, sizeBytes, { resolve, reject }));
    // In an object: awaiting admit() must not also wait for the acknowledgement.
    return { acknowledged };
  }

  /** Sends every open batch now and waits until all records sent so far are acknowledged or failed. */
  async flush(): Promise<void> {
    // Sends still waiting for room or metadata join their batches first.
    while (this.admitting.size > 0) await Promise.allSettled([...this.admitting]);
    for (const key of [...this.openBatches.keys()]) this.seal(key);
    await this.pipeline.whenIdle();
  }

  async close(): Promise<void> {
    this.isClosed = true;
    await this.flush();
    this.pipeline.close();
  }

  private loadPartitionCount(topic: string): Promise<number> {
    const loading = this.client.admin.describeTopic(topic).then((d) => d.partitionCount);
    this.partitionCounts.set(topic, loading);
    loading.catch(() => this.partitionCounts.delete(topic));
    return loading;
  }

  private append(topic: string, partition: number, input: RecordInput, sizeBytes: number, resolver: SealedBatch['resolvers'][number]): void {
    const key = `${partition}\u0000${topic}`;
    let batch = this.openBatches.get(key);
    if (batch && batch.sizeBytes + sizeBytes > this.options.maxBatchBytes) {
      this.seal(key);
      batch = undefined;
    }
    if (!batch) {
      batch = { records: [], resolvers: [], sizeBytes: 0, createdAtMs: Date.now(), timer: undefined };
      this.openBatches.set(key, batch);
      const open = batch;
      if (this.options.lingerMs === 0) setImmediate(() => this.openBatches.get(key) === open && this.seal(key));
      else open.timer = setTimeout(() => this.seal(key), this.options.lingerMs);
    }
    batch.records.push(input);
    batch.resolvers.push(resolver);
    batch.sizeBytes += sizeBytes;
    if (batch.sizeBytes >= this.options.batchBytes) this.seal(key);
  }

  private seal(key: string): void {
    const batch = this.openBatches.get(key);
    if (!batch) return;
    this.openBatches.delete(key);
    if (batch.timer) clearTimeout(batch.timer);
    const separator = key.indexOf('\u0000');
    const partition = Number(key.slice(0, separator));
    const topic = key.slice(separator + 1);
    this.options.partitioner.onBatchSealed?.(topic, partition);
    this.pipeline.seal(topic, partition, batch.records, batch.resolvers, batch.sizeBytes, batch.createdAtMs + this.options.deliveryTimeoutMs);
  }

  private waitForRoom(sizeBytes: number): Promise<void> {
    return new Promise((resolve) => {
      this.roomWaiters.push({ sizeBytes, resolve });
      // Nothing in flight can free room while records sit in open batches: send them.
      for (const key of [...this.openBatches.keys()]) this.seal(key);
    });
  }

  private release(sizeBytes: number): void {
    this.bufferedBytes -= sizeBytes;
    while (this.roomWaiters.length > 0) {
      const next = this.roomWaiters[0]!;
      if (this.bufferedBytes + next.sizeBytes > this.options.maxBufferedBytes && this.bufferedBytes > 0) break;
      this.roomWaiters.shift();
      this.bufferedBytes += next.sizeBytes;
      next.resolve();
    }
  }
}

function recordSizeBytes(record: RecordInput): number {
  let size = RECORD_OVERHEAD_BYTES;
  if (record.key !== null && record.key !== undefined) size += Buffer.byteLength(record.key);
  if (record.value !== null) size += Buffer.byteLength(record.value);
  if (record.headers && !Array.isArray(record.headers)) {
    for (const [name, value] of Object.entries(record.headers)) size += Buffer.byteLength(name) + Buffer.byteLength(value) + 4;
  }
  return size;
}
