import { AssertionError } from '../core/assert.js';
import type { Clock, TimerHandle } from '../core/clock.js';
import { InvalidArgumentError, BatchTooLargeError } from '../core/errors.js';
import { FREE_BATCH_BUFFERS_BYTES, MAX_PRODUCE_REQUEST_BYTES, MAX_PRODUCER_NAME_LENGTH, MAX_PRODUCER_REQUESTS_IN_FLIGHT_PER_PARTITION } from '../core/limits.js';
import { RecordBatchBuilder } from '../format/record-batch-builder.js';
import type { AckLevel } from '../generated/strata/v1/AckLevel.js';
import { DefaultPartitioner, type Partitioner } from './partitioner.js';
import { BatchBufferPool } from './batch-buffer-pool.js';
import { ProducePipeline, type RecordMetadata, type RecordSink } from './produce-pipeline.js';
import { checkRecord, closedError, firstInvalidPartition, headersWithMessageId, outsideTopic, type ProducerRecord, recordSizeBytes, timestampOf } from './producer-records.js';
import { BatchSinks, ManySend, SingleSend } from './send-sinks.js';
import { TopicMetadataCache } from './topic-metadata-cache.js';
import { ConnectionDeadline } from './connection-deadline.js';
import type { ClientChannel } from './client-channel.js';
import { ProducerIdentity } from './producer-identity.js';
import type { StrataClientError } from './client-error.js';

export type { ProducerRecord, RecordMetadata };

export interface ProducerOptions {
  /** How long a batch waits for more records before it is sent. Default 5 (Kafka 4's linger.ms). */
  lingerMs?: number;
  /**
   * A batch's size in bytes, its 61-byte header included (Kafka's batch.size): records are encoded
   * into it as they are sent, and it is sent once the next record would not fit (a record larger than
   * this gets a batch of its own). Default 16384.
   */
  batchBytes?: number;
  /** 'default': the topic's (durable under flush=always). Default 'default'. */
  acks?: 'default' | 'none' | 'written' | 'durable';
  /** Requests of one partition in flight at once (1..8); order holds through retries. Default 5. */
  maxInFlightPerPartition?: number;
  /**
   * When batches of a partition queue up, up to 4 never-sent ones travel in one request of at most
   * this many bytes (one batch always fits). Default 1 MiB, the server's default request limit.
   */
  maxRequestBytes?: number;
  /**
   * How long a record may take, retries included, before send() rejects. Default 120000. Records
   * waiting on a lost connection share one deadline: when the server has been unreachable this long
   * (since the first failed attempt to reconnect), they all fail together with SERVER_UNREACHABLE,
   * and until it is reached again sends fail at once instead of each waiting out its own timeout.
   */
  deliveryTimeoutMs?: number;
  /**
   * How long records wait for a first connection while the client has never reached its server,
   * before they all fail with SERVER_UNREACHABLE ("cannot reach host:port"): a wrong address or a
   * server that is not running shows in seconds (as kafkajs's connect() fails), while a server that
   * was reached once gets deliveryTimeoutMs to come back. Default 5000.
   */
  firstConnectTimeoutMs?: number;
  /**
   * How long a produce request may go unanswered before the stream is replaced and its batches are
   * retried (as Kafka's request.timeout.ms): a server that stops answering without the connection
   * breaking cannot hold sends forever. Default 30000.
   */
  requestTimeoutMs?: number;
  /** First retry backoff, doubling up to 1000 ms. Default 100. */
  retryBackoffMs?: number;
  /** send() waits while this many bytes are buffered or in flight. Default 32 MiB. */
  maxBufferedBytes?: number;
  /** The largest batch the producer builds; a single bigger record is refused. Default 1 MiB. */
  maxBatchBytes?: number;
  compression?: 'none' | 'gzip';
  partitioner?: Partitioner;
  /**
   * Like Kafka's transactional.id: a producer started with the name of a running one fences the older
   * one (its pending and later sends fail with PRODUCER_FENCED), so two instances of one service never
   * both write. Without it, the server hands out a fresh producer id.
   */
  producerName?: string;
  /** Where the producer says it was fenced (a pino logger fits); default: process.emitWarning. */
  logger?: { warn(fields: Record<string, unknown>, message: string): void };
}

const emitWarning: NonNullable<ProducerOptions['logger']> = { warn: (fields, message) => process.emitWarning(`${message} ${JSON.stringify(fields)}`, 'StrataProducerWarning') };


/** A partition's batch being filled: its records are encoded into `builder` as they come. */
interface OpenBatch {
  builder: RecordBatchBuilder;
  sinks: BatchSinks;
  sizeBytes: number;
  /** On the monotonic clock: the batch's delivery deadline counts from here. */
  createdAtMs: number;
  timer: TimerHandle | undefined;
}

/** The first buffer of a partition's first batch (it doubles up to batchBytes as records come). */
const INITIAL_BATCH_BYTES = 1024;

const ACKS: Record<NonNullable<ProducerOptions['acks']>, AckLevel> = {
  default: 'ACK_LEVEL_UNSPECIFIED',
  none: 'ACK_LEVEL_NONE',
  written: 'ACK_LEVEL_WRITTEN',
  durable: 'ACK_LEVEL_DURABLE',
};

/**
 * Batches records per partition and sends them through one Produce stream. A keyed record always
 * goes to the same partition (Kafka's murmur2), and records of one partition keep their send order,
 * retries included. Memory is bounded by maxBufferedBytes: send() waits for room.
 */
export class Producer {
  private readonly options: Required<Omit<ProducerOptions, 'partitioner' | 'producerName' | 'logger'>> & { partitioner: Partitioner };
  private readonly pipeline: ProducePipeline;
  private readonly openBatches = new Map<string, Map<number, OpenBatch>>();
  /** The size of each partition's last sealed batch: a busy partition's next batch starts at full size. */
  private readonly lastBatchBytes = new Map<string, Map<number, number>>();
  private readonly topics: TopicMetadataCache;
  private waitingSends = 0;
  private waitChain: Promise<void> = Promise.resolve();
  private bufferedBytes = 0;
  private readonly roomWaiters: Array<{ sizeBytes: number; resolve: () => void }> = [];
  private isClosed = false;
  private readonly batchBuffers: BatchBufferPool;
  private readonly connection: ConnectionDeadline;
  /** The producer id and epoch, from the server (InitProducer) before the first batch. */
  private readonly identity: ProducerIdentity;
  private readonly clock: Clock;
  private lastThrottle = { throttleTimeMs: 0, throttledCount: 0 };

  constructor(client: ClientChannel, options: ProducerOptions) {
    this.clock = client.clock;
    this.options = {
      lingerMs: options.lingerMs ?? 5,
      batchBytes: options.batchBytes ?? 16_384,
      acks: options.acks ?? 'default',
      maxInFlightPerPartition: options.maxInFlightPerPartition ?? 5,
      maxRequestBytes: options.maxRequestBytes ?? 1024 * 1024,
      deliveryTimeoutMs: options.deliveryTimeoutMs ?? 120_000,
      firstConnectTimeoutMs: options.firstConnectTimeoutMs ?? 5_000,
      requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
      retryBackoffMs: options.retryBackoffMs ?? 100,
      maxBufferedBytes: options.maxBufferedBytes ?? 32 * 1024 * 1024,
      maxBatchBytes: options.maxBatchBytes ?? 1024 * 1024,
      compression: options.compression ?? 'none',
      partitioner: options.partitioner ?? new DefaultPartitioner(),
    };
    const o = this.options;
    if (!(o.lingerMs >= 0) || !(o.batchBytes > 0) || !(o.deliveryTimeoutMs > 0) || !(o.firstConnectTimeoutMs > 0) || !(o.requestTimeoutMs > 0) || !(o.maxRequestBytes > 0 && o.maxRequestBytes <= MAX_PRODUCE_REQUEST_BYTES)) {
      throw new InvalidArgumentError(`lingerMs >= 0, batchBytes > 0, deliveryTimeoutMs > 0, firstConnectTimeoutMs > 0, requestTimeoutMs > 0 and 0 < maxRequestBytes <= ${MAX_PRODUCE_REQUEST_BYTES} are required`);
    }
    // The server recognises a retry only among a producer's last PRODUCER_RECENT_BATCHES batches.
    if (!Number.isInteger(o.maxInFlightPerPartition) || o.maxInFlightPerPartition < 1 || o.maxInFlightPerPartition > MAX_PRODUCER_REQUESTS_IN_FLIGHT_PER_PARTITION) {
      throw new InvalidArgumentError(`maxInFlightPerPartition must be an integer in 1..${MAX_PRODUCER_REQUESTS_IN_FLIGHT_PER_PARTITION}`);
    }
    // An empty name is no name on the wire (the producer would silently go unfenced); a long one the server refuses at the first send.
    if (options.producerName !== undefined && (typeof options.producerName !== 'string' || options.producerName.length === 0 || options.producerName.length > MAX_PRODUCER_NAME_LENGTH)) {
      throw new InvalidArgumentError(`producerName has 1 to ${MAX_PRODUCER_NAME_LENGTH} characters, got ${JSON.stringify(options.producerName)}`);
    }
    if (!Object.hasOwn(ACKS, o.acks)) throw new InvalidArgumentError(`acks must be one of ${Object.keys(ACKS).join(', ')}, got '${String(o.acks)}'`);
    if (o.batchBytes > o.maxBatchBytes || o.maxBatchBytes > o.maxBufferedBytes) {
      throw new InvalidArgumentError('batchBytes <= maxBatchBytes <= maxBufferedBytes is required');
    }
    this.batchBuffers = new BatchBufferPool(o.batchBytes, FREE_BATCH_BUFFERS_BYTES);
    this.connection = new ConnectionDeadline(client.connection, {
      deliveryTimeoutMs: o.deliveryTimeoutMs,
      firstConnectTimeoutMs: o.firstConnectTimeoutMs,
      clock: client.clock,
      // A client that never connected cannot have written anything.
      onUnreachable: (error) => this.pipeline.failWaiting(error, { mayBeWritten: client.connection.hasBeenReady }),
    });
    this.topics = new TopicMetadataCache(client, { deliveryTimeoutMs: o.deliveryTimeoutMs, retryBackoffMs: o.retryBackoffMs, isClosed: () => this.isClosed, reachability: this.connection });
    const logger = options.logger ?? emitWarning;
    this.identity = new ProducerIdentity(client.stubs.produce, {
      ...(options.producerName !== undefined ? { name: options.producerName } : {}),
      callTimeoutMs: client.callTimeoutMs,
      reachability: this.connection,
      onFenced: (error: StrataClientError) => {
        logger.warn({ producerName: options.producerName, producerId: this.identity.current?.producerId, epoch: this.identity.current?.epoch, error: error.message }, 'producer fenced: a newer instance took its name; every pending and later send fails with PRODUCER_FENCED');
        // Batches in flight may have been appended before the newer instance took over.
        this.pipeline.failWaiting(error, { mayBeWritten: true });
      },
    });
    this.pipeline = new ProducePipeline(client.stubs.produce, {
      // Every generation is the server's: the first (InitProducer, asked once: a partition's first
      // batch after that takes it at once) and each next epoch.
      newGeneration: ({ current }) => (current ? this.identity.next(current) : (this.identity.current ?? this.identity.load())),
      clock: client.clock,
      ackLevel: ACKS[o.acks],
      maxInFlightPerPartition: o.maxInFlightPerPartition,
      maxRequestBytes: o.maxRequestBytes,
      retryBackoffMs: o.retryBackoffMs,
      requestTimeoutMs: o.requestTimeoutMs,
      maxRetryBackoffMs: 1_000,
      onSettled: (sizeBytes, encoded) => {
        this.batchBuffers.recycle(encoded);
        this.release(sizeBytes);
      },
      givenUpError: () => this.connection.checkGivenUp() ?? this.identity.fenced,
      onStreamFailure: (error) => this.connection.noteFailure(error),
      // AlterTopicConfig may have lowered the limit: later batches are built to the new one.
      onBatchTooLarge: (topic) => this.topics.refresh(topic),
      onProducerFenced: (error) => this.identity.noteFenced(error),
      onThrottled: (throttleTimeMs) => (this.lastThrottle = { throttleTimeMs, throttledCount: this.lastThrottle.throttledCount + 1 }),
    });
  }

  /**
   * Rate quota: the last throttle time the server reported (ms; 0 before any) and how many answers
   * reported one. After each, the producer sent nothing for that long (its records wait in the buffer).
   */
  get throttle(): { readonly lastThrottleTimeMs: number; readonly throttledCount: number } {
    return { lastThrottleTimeMs: this.lastThrottle.throttleTimeMs, throttledCount: this.lastThrottle.throttledCount };
  }

  /**
   * Queues one record; resolves with its partition and offset once acknowledged. The common case
   * (metadata known, room in the buffer) places the record synchronously; otherwise the send waits
   * its turn behind every earlier send that had to wait, so the order of sends is kept.
   */
  send(topic: string, record: ProducerRecord): Promise<RecordMetadata> {
    if (this.isClosed) return Promise.reject(closedError());
    let key: Buffer | null;
    let sizeBytes: number;
    try {
      key = checkRecord(record);
      sizeBytes = recordSizeBytes(key, record);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    if (sizeBytes > this.options.maxBatchBytes) return Promise.reject(new BatchTooLargeError(sizeBytes, this.options.maxBatchBytes));
    const timestampMs = timestampOf(record, this.clock.nowMs());
    const partitionCount = this.topics.partitionCount(topic);
    const isKnownPartition = record.partition === undefined || (partitionCount !== undefined && record.partition < partitionCount);
    if (this.identity.fenced) return Promise.reject(this.identity.fenced);
    if (partitionCount !== undefined && isKnownPartition && this.waitingSends === 0 && this.bufferedBytes + sizeBytes <= this.options.maxBufferedBytes) {
      this.bufferedBytes += sizeBytes;
      const sink = new SingleSend();
      this.place(topic, partitionCount, record, key, timestampMs, sizeBytes, sink, 0);
      return sink.promise;
    }
    const sink = new SingleSend();
    this.placeAfterWaiting(topic, [record], [key], timestampMs, [sizeBytes], sink);
    return sink.promise;
  }

  /**
   * Queues many records of one topic (kafkajs's `send({topic, messages})`); resolves with the
   * metadata of each, in the order given, once all are acknowledged. Each record is partitioned as
   * send() would, and the records keep their order within each partition. Rejects with the first
   * failure; records that went to other partitions may then be in the log (as with separate sends).
   * A record too large, or an explicit partition out of range, refuses the whole call before
   * anything is queued. One promise per call instead of one per record: the cheap way to send much.
   */
  sendBatch(topic: string, records: readonly ProducerRecord[]): Promise<RecordMetadata[]> {
    if (this.isClosed) return Promise.reject(closedError());
    if (this.identity.fenced) return Promise.reject(this.identity.fenced);
    if (records.length === 0) return Promise.resolve([]);
    // Everything is checked before anything is queued: a bad record refuses the whole call.
    const keys: Array<Buffer | null> = new Array(records.length);
    const sizes: number[] = new Array(records.length);
    let totalBytes = 0;
    for (let i = 0; i < records.length; i++) {
      const record = records[i]!;
      try {
        keys[i] = checkRecord(record);
        sizes[i] = recordSizeBytes(keys[i]!, record);
      } catch (error) {
        return Promise.reject(error as Error);
      }
      if (sizes[i]! > this.options.maxBatchBytes) return Promise.reject(new BatchTooLargeError(sizes[i]!, this.options.maxBatchBytes));
      totalBytes += sizes[i]!;
    }
    // Records without a timestamp share one reading of the clock: they were sent at the same moment.
    const nowMs = this.clock.nowMs();
    return new Promise<RecordMetadata[]>((resolve, reject) => {
      const sink = new ManySend(records.length, resolve, reject);
      const partitionCount = this.topics.partitionCount(topic);
      // A partition past the known count may have been added since: the slow path asks the server.
      if (partitionCount !== undefined && firstInvalidPartition(records, partitionCount) === undefined && this.waitingSends === 0 && this.bufferedBytes + totalBytes <= this.options.maxBufferedBytes) {
        this.bufferedBytes += totalBytes;
        for (let i = 0; i < records.length; i++) this.place(topic, partitionCount, records[i]!, keys[i]!, nowMs, sizes[i]!, sink, i);
        return;
      }
      this.placeAfterWaiting(topic, records, keys, nowMs, sizes, sink);
    });
  }

  /**
   * The slow path: waits its turn behind every earlier waiting call (so the order of calls is
   * kept), for the topic's partition count, and for buffer room record by record.
   */
  private placeAfterWaiting(topic: string, callerRecords: readonly ProducerRecord[], keys: Array<Buffer | null>, nowMs: number, sizes: number[], sink: RecordSink): void {
    // The records as they are now: the caller may reuse its array and objects once the call returns.
    const records: ProducerRecord[] = callerRecords.map((record) => ({ value: record.value, headers: record.headers, timestampMs: timestampOf(record, nowMs), partition: record.partition, messageId: record.messageId }));
    this.waitingSends++;
    const turn = this.waitChain.then(async () => {
      let partitionCount = await this.topics.loadPartitionCount(topic);
      if (firstInvalidPartition(records, partitionCount) !== undefined) partitionCount = await this.topics.loadPartitionCount(topic, true);
      const invalid = firstInvalidPartition(records, partitionCount);
      if (invalid !== undefined) throw outsideTopic(invalid, topic, partitionCount);
      for (let i = 0; i < records.length; i++) {
        await this.reserveRoom(sizes[i]!);
        this.place(topic, partitionCount, records[i]!, keys[i]!, nowMs, sizes[i]!, sink, i);
      }
    });
    this.waitChain = turn.then(
      () => undefined,
      () => undefined,
    );
    turn.then(
      () => this.waitingSends--,
      (error: unknown) => {
        this.waitingSends--;
        sink.onFailed(error as Error);
      },
    );
  }

  /**
   * Chooses the partition and encodes the record into its open batch; the buffer room is already
   * taken. `nowMs` is the record's timestamp when it has none of its own.
   */
  private place(topic: string, partitionCount: number, record: ProducerRecord, key: Buffer | null, nowMs: number, sizeBytes: number, sink: RecordSink, index: number): void {
    let partition: number;
    try {
      partition = record.partition ?? this.options.partitioner.partition(topic, key, partitionCount);
    } catch (error) {
      // A custom partitioner that throws fails this record alone and gives its room back.
      this.release(sizeBytes);
      sink.onFailed(error as Error);
      return;
    }
    if (!Number.isInteger(partition) || partition < 0 || partition >= partitionCount) {
      this.release(sizeBytes);
      sink.onFailed(outsideTopic(partition, topic, partitionCount));
      return;
    }
    try {
      this.append(topic, partition, record, key, timestampOf(record, nowMs), sizeBytes, sink, index);
    } catch (error) {
      if (error instanceof AssertionError) throw error;
      // The batch format refused the record (a single record past the hard batch limit): it fails alone.
      this.release(sizeBytes);
      sink.onFailed(error as Error);
    }
  }

  /** Sends every open batch now and waits until all records sent so far are acknowledged or failed. */
  async flush(): Promise<void> {
    // Sends still waiting for room or metadata join their batches first.
    while (this.waitingSends > 0) await this.waitChain;
    this.sealAll();
    await this.pipeline.whenIdle();
  }

  async close(): Promise<void> {
    this.isClosed = true;
    await this.flush();
    this.pipeline.close();
    this.connection.close();
  }

  private append(topic: string, partition: number, record: ProducerRecord, key: Buffer | null, timestampMs: number, sizeBytes: number, sink: RecordSink, index: number): void {
    // topic -> partition -> open batch; no per-record key strings on this hot path.
    let byPartition = this.openBatches.get(topic);
    if (!byPartition) this.openBatches.set(topic, (byPartition = new Map()));
    let batch = byPartition.get(partition) ?? this.openBatch(topic, partition, byPartition);
    const headers = headersWithMessageId(record);
    if (!batch.builder.tryAppend(timestampMs, key, record.value, headers)) {
      this.seal(topic, partition);
      batch = this.openBatch(topic, partition, byPartition);
      // An empty batch takes any record up to the hard batch limit (or throws).
      batch.builder.tryAppend(timestampMs, key, record.value, headers);
    }
    batch.sinks.add(sink, index);
    batch.sizeBytes += sizeBytes;
    // Full when another record like this one would not fit: send it now rather than after the linger.
    if (batch.builder.remainingBytes < sizeBytes) this.seal(topic, partition);
  }

  private openBatch(topic: string, partition: number, byPartition: Map<number, OpenBatch>): OpenBatch {
    // A quiet partition's batch starts small and grows, so it does not hold batchBytes per partition.
    const lastBytes = this.lastBatchBytes.get(topic)?.get(partition) ?? 0;
    // A record the topic would refuse fails here, alone: sent, its batch could pass what the server
    // receives and end the whole stream (RESOURCE_EXHAUSTED), and every retry of it again.
    const maxBatchBytes = this.topics.maxBatchBytes(topic);
    const builder = new RecordBatchBuilder(this.options.batchBytes, { compression: this.options.compression, initialBytes: Math.max(INITIAL_BATCH_BYTES, 2 * lastBytes), allocate: this.batchBuffers.allocate, release: this.batchBuffers.recycle, maxBatchBytes });
    const open: OpenBatch = { builder, sinks: new BatchSinks(), sizeBytes: 0, createdAtMs: this.clock.monotonicMs(), timer: undefined };
    byPartition.set(partition, open);
    if (this.options.lingerMs === 0) setImmediate(() => byPartition.get(partition) === open && this.seal(topic, partition));
    // Records are waiting in it: the linger holds the process as a plain timer would.
    else open.timer = this.clock.setTimeout(() => this.seal(topic, partition), this.options.lingerMs, { keepsProcessAlive: true });
    return open;
  }

  private seal(topic: string, partition: number): void {
    const batch = this.openBatches.get(topic)?.get(partition);
    if (!batch) return;
    this.openBatches.get(topic)!.delete(partition);
    batch.timer?.cancel();
    let lastBytes = this.lastBatchBytes.get(topic);
    if (!lastBytes) this.lastBatchBytes.set(topic, (lastBytes = new Map()));
    lastBytes.set(partition, batch.builder.sizeBytes);
    // A record refused by the builder left its batch empty (its send failed): nothing to send.
    if (batch.builder.recordCount === 0) return;
    this.options.partitioner.onBatchSealed?.(topic, partition);
    try {
      this.pipeline.seal(topic, partition, batch.builder, batch.sinks, batch.sizeBytes, batch.createdAtMs + this.options.deliveryTimeoutMs);
    } catch (error) {
      // A broken invariant of the pipeline is a bug: it is not a failed batch.
      if (error instanceof AssertionError) throw error;
      // Building refused the batch (often on a linger timer, where a throw would end the process):
      // its records fail, nothing was sent, and their buffer room is free again.
      batch.sinks.fail(error as Error);
      this.release(batch.sizeBytes);
    }
  }

  private sealAll(): void {
    for (const [topic, byPartition] of this.openBatches) for (const partition of [...byPartition.keys()]) this.seal(topic, partition);
  }

  /** Takes `sizeBytes` of buffer room, waiting until acknowledgements free enough. */
  private reserveRoom(sizeBytes: number): Promise<void> {
    if (this.roomWaiters.length === 0 && this.bufferedBytes + sizeBytes <= this.options.maxBufferedBytes) {
      this.bufferedBytes += sizeBytes;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.roomWaiters.push({ sizeBytes, resolve });
      // Nothing in flight can free room while records sit in open batches: send them.
      this.sealAll();
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
