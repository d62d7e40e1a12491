import type { Clock } from '../core/clock.js';
import { InvalidArgumentError, TopicNotFoundError } from '../core/errors.js';
import { refuseInternalTopic } from '../core/internal-topics.js';
import { MAX_DEDUPE_IDS_PER_PARTITION, RESTORE_CONCURRENCY, RESTORE_READ_BYTES } from '../core/limits.js';
import type { Logger } from '../core/logger.js';
import type { LogManager } from '../storage/log-manager.js';
import type { AckLevel, AppendResult, PartitionLog, ReadResult } from '../storage/partition-log.js';
import type { TopicConfig } from '../storage/topic-config.js';
import { type BatchHeader, readBatchHeader } from '../format/record-batch.js';
import { ProducerSequences } from './producer-sequences.js';
import { type DuplicateRecord, produceWithDedupe } from './dedupe-produce.js';
import { MessageIdIndex } from './message-id-index.js';
import { restoreMessageIds } from './message-id-restore.js';
import type { InitProducerRequest, ProducerIdentity, ProducerIdRegistry } from './producer-id-registry.js';
import { waitForData } from './wait-for-data.js';

export interface RestoredProducerState {
  partitionCount: number;
  producerCount: number;
  bytesRead: number;
  /** Partitions whose tail could not be read (their producers start over). */
  failedPartitionCount: number;
}

/** The producer sequences held in the last `tailBytes` of a partition's log. */
async function readProducerState(log: PartitionLog, tailBytes: number): Promise<{ sequences: ProducerSequences; bytesRead: number }> {
  const sequences = new ProducerSequences();
  let bytesRead = 0;
  let offset = log.tailStartOffset(tailBytes);
  // Each read returns at least one whole batch, so this ends; the bound only guards the loop.
  for (let round = 0; offset < log.highWatermark && round < 1_000_000; round++) {
    const { batches, nextOffset } = await log.read(offset, RESTORE_READ_BYTES);
    if (batches.length === 0) break;
    for (let position = 0; position < batches.length; ) {
      const header = readBatchHeader(batches, position);
      sequences.restore(header, 'durable');
      position += header.sizeBytes;
    }
    bytesRead += batches.length;
    offset = nextOffset;
  }
  return { sequences, bytesRead };
}

export type { AckLevel };

export type StartPosition = { offset: number } | { point: 'earliest' | 'latest' } | { timestampMs: number };

/** The offset a reader of `log` starts at; latest is the high watermark, a timestamp past the end is too. */
export async function startOffsetIn(log: PartitionLog, start: StartPosition): Promise<number> {
  if ('offset' in start) return start.offset;
  if ('point' in start) return start.point === 'earliest' ? log.logStartOffset : log.highWatermark;
  return (await log.startForTimestamp(start.timestampMs)).offset;
}

export interface FetchOptions {
  maxBytes: number;
  /** Answer as soon as this many bytes are there (at least one batch). */
  minBytes: number;
  /** How long to wait for minBytes once there is some data (or, with waitForFirstData false, at all). */
  maxWaitMs: number;
  /** True for a subscription: with nothing to send, wait for data with no time limit. */
  waitForFirstData: boolean;
  signal?: AbortSignal;
}

export interface ProduceResult extends AppendResult {
  /**
   * Nothing was written: a retry of batches already in the log (offsets: the original ones), or, on a
   * topic with `dedupe.window.ms`, every record a duplicate by message id (offsets -1).
   */
  isDuplicate: boolean;
  /** Records of the request not written as duplicates by message id, with their originals' offsets. */
  duplicateRecords?: DuplicateRecord[];
}

export type { DuplicateRecord };

/**
 * A check of a produce request's records the broker runs before it admits the request, after the
 * batches are validated and the producer is found not fenced, and before its sequences are recorded:
 * it throws to refuse the request whole (nothing appended). Synchronous, on the caller's turn. The
 * server's schema validation (server/record-schema-check.ts) is one; the broker knows nothing of schemas.
 */
export interface ProduceRecordCheck {
  check(topic: string, config: RecordCheckConfig, batches: Buffer, headers: readonly BatchHeader[]): void;
}

/** The keys of the topic's configuration a ProduceRecordCheck reads. */
export type RecordCheckConfig = Readonly<Pick<TopicConfig, 'schemaValidation' | 'schemaKeyValidation' | 'schemaSubjectStrategy' | 'maxBatchBytes'>>;

/**
 * What the services call: produce with producer sequence checks (and no client writes to internal
 * topics), long-poll reads, start positions.
 * Holds no storage logic of its own; the LogManager owns topics and partitions, and only this module
 * (this class and TopicAdmin) reaches it: the server sees the domain through them.
 */
export class Broker {
  private readonly sequences = new WeakMap<PartitionLog, ProducerSequences>();
  /** Message ids per partition of topics with `dedupe.window.ms` set (made on first use). */
  private readonly messageIds = new WeakMap<PartitionLog, MessageIdIndex>();
  private recordCheck: ProduceRecordCheck | undefined;

  constructor(
    private readonly logs: LogManager,
    private readonly clock: Clock,
    readonly logger: Logger,
    /** Hands out producer ids and fences older instances; without it, no batch is fenced. */
    private readonly producerIds?: ProducerIdRegistry,
  ) {}

  /** Sets the check every produce request's records pass before they are admitted (see ProduceRecordCheck). */
  setRecordCheck(check: ProduceRecordCheck | undefined): void {
    this.recordCheck = check;
  }

  /** Kafka's InitProducerId: see ProducerIdRegistry. */
  initProducer(request: InitProducerRequest): Promise<ProducerIdentity> {
    if (!this.producerIds) return Promise.reject(new InvalidArgumentError('this server hands out no producer ids'));
    return this.producerIds.initProducer(request);
  }

  /**
   * Appends raw batches to one partition. Validation and the sequence check run before anything is
   * queued; `ackLevel` 'none' answers once the append is queued (failures are then only logged).
   * Internal topics (names starting with __) are the server's: a client's batch there is refused
   * with InternalTopicError, whatever its ack level, before the topic is looked up.
   */
  produce(topic: string, partition: number, records: Buffer, ackLevel: AckLevel | 'none' | undefined): Promise<ProduceResult> {
    try {
      refuseInternalTopic(topic, 'produce to');
      const log = this.logs.partition(topic, partition);
      let sequences = this.sequences.get(log);
      if (!sequences) this.sequences.set(log, (sequences = new ProducerSequences()));
      if (log.topicConfig.dedupeWindowMs > 0) return this.produceDeduplicated(log, sequences, records, ackLevel);
      // Turned off (by a config change): the ids are forgotten, and memory with them.
      this.messageIds.delete(log);
      let onAppended: ((result: AppendResult) => void) | undefined;
      let onFailed: (() => void) | undefined;
      let duplicate: AppendResult | undefined;
      const appended = log.append(records, {
        ...(ackLevel && ackLevel !== 'none' ? { ackLevel } : {}),
        admit: (headers) => {
          this.checkNotFenced(headers);
          this.recordCheck?.check(topic, log.topicConfig, records, headers);
          const admission = sequences.admit(headers);
          if (admission.kind === 'duplicate') return (duplicate = admission.result);
          if (admission.kind === 'append') ({ onAppended, onFailed } = admission);
          return undefined;
        },
      });
      const result = appended.then(
        (r) => {
          onAppended?.(r);
          return { ...r, isDuplicate: duplicate !== undefined };
        },
        (error: unknown) => {
          onFailed?.();
          throw error;
        },
      );
      if (ackLevel === 'none') {
        result.catch((error: unknown) => this.logger.warn({ err: error, topic, partition }, 'an unacknowledged produce failed'));
        return Promise.resolve({ baseOffset: -1, lastOffset: -1, durability: 'written', isDuplicate: false });
      }
      return result;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  private produceDeduplicated(log: PartitionLog, sequences: ProducerSequences, records: Buffer, ackLevel: AckLevel | 'none' | undefined): Promise<ProduceResult> {
    const result = produceWithDedupe(
      {
        log,
        index: this.messageIdIndex(log),
        sequences,
        clock: this.clock,
        checkNotFenced: (headers) => {
          this.checkNotFenced(headers);
          this.recordCheck?.check(log.topic, log.topicConfig, records, headers);
        },
      },
      records,
      ackLevel === 'none' ? undefined : ackLevel,
    );
    if (ackLevel !== 'none') return result;
    result.catch((error: unknown) => this.logger.warn({ err: error, topic: log.topic, partition: log.partition }, 'an unacknowledged produce failed'));
    return Promise.resolve({ baseOffset: -1, lastOffset: -1, durability: 'written', isDuplicate: false });
  }

  private messageIdIndex(log: PartitionLog): MessageIdIndex {
    let index = this.messageIds.get(log);
    if (!index) {
      index = new MessageIdIndex({ maxIdCount: MAX_DEDUPE_IDS_PER_PARTITION, logger: this.logger, topic: log.topic, partition: log.partition });
      this.messageIds.set(log, index);
    }
    return index;
  }

  /** A fenced producer is refused on every partition, before its sequence is looked at. */
  private checkNotFenced(headers: readonly BatchHeader[]): void {
    const first = headers[0];
    if (first !== undefined && first.producerId >= 0) this.producerIds?.checkNotFenced(first.producerId, first.producerEpoch);
  }

  /**
   * Rebuilds each partition's producer sequences from the batches in the last `tailBytes` of its log,
   * so that a producer retrying across a server restart gets its batch's original offsets instead of
   * a second copy. Call at startup, after recovery (everything in the log is durable then: recovery
   * fsyncs what it keeps, a clean shutdown flushed the rest) and before serving produce requests.
   * A partition whose tail cannot be read (a damaged batch) starts with no producer state, as before
   * this existed: its producers are told to start over, and reads of the damage fail as they would.
   */
  async restoreProducerState(tailBytes: number, options: { skipTopics?: readonly string[] } = {}): Promise<RestoredProducerState> {
    const restored: RestoredProducerState = { partitionCount: 0, producerCount: 0, bytesRead: 0, failedPartitionCount: 0 };
    if (tailBytes <= 0) return restored;
    const logs: PartitionLog[] = [];
    for (const topic of this.logs.listTopics()) {
      if (options.skipTopics?.includes(topic)) continue;
      for (let partition = 0; partition < (this.logs.partitionCount(topic) ?? 0); partition++) {
        try {
          logs.push(this.logs.partition(topic, partition));
        } catch {
          // A partition that failed to open (data loss) takes no produce requests anyway.
        }
      }
    }
    // A few partitions at a time: the reads overlap, and memory stays at a few reads' worth.
    let next = 0;
    const worker = async () => {
      while (next < logs.length) {
        const log = logs[next++]!;
        try {
          const { sequences, bytesRead } = await readProducerState(log, tailBytes);
          this.sequences.set(log, sequences);
          restored.partitionCount++;
          restored.producerCount += sequences.producerCount;
          restored.bytesRead += bytesRead;
        } catch (error) {
          restored.failedPartitionCount++;
          this.logger.warn({ err: error, topic: log.topic, partition: log.partition }, 'cannot rebuild producer state from the log tail: producers start over');
        }
      }
    };
    await Promise.all(Array.from({ length: RESTORE_CONCURRENCY }, worker));
    return restored;
  }

  /**
   * Rebuilds the message id index of every partition of the topics with `dedupe.window.ms` set from
   * the records of its window (message-id-restore.ts), so that duplicates are recognised across a
   * restart. Call at startup with restoreProducerState, before serving produce requests. A partition
   * whose records cannot be read keeps the ids read before the failure (logged): duplicates of the rest are not caught.
   */
  async restoreMessageIds(options: { skipTopics?: readonly string[] } = {}): Promise<{ partitionCount: number; idCount: number; bytesRead: number; failedPartitionCount: number }> {
    const restored = { partitionCount: 0, idCount: 0, bytesRead: 0, failedPartitionCount: 0 };
    const logs: PartitionLog[] = [];
    for (const topic of this.logs.listTopics()) {
      if (options.skipTopics?.includes(topic)) continue;
      for (let partition = 0; partition < (this.logs.partitionCount(topic) ?? 0); partition++) {
        try {
          const log = this.logs.partition(topic, partition);
          if (log.topicConfig.dedupeWindowMs > 0) logs.push(log);
        } catch {
          // A partition that failed to open (data loss) takes no produce requests anyway.
        }
      }
    }
    let next = 0;
    const worker = async () => {
      while (next < logs.length) {
        const log = logs[next++]!;
        const index = this.messageIdIndex(log);
        try {
          restored.bytesRead += await restoreMessageIds(log, index, this.clock);
          restored.partitionCount++;
          restored.idCount += index.size;
        } catch (error) {
          restored.failedPartitionCount++;
          this.logger.warn({ err: error, topic: log.topic, partition: log.partition }, 'cannot rebuild message ids from the log: duplicates of earlier records may not be recognised');
        }
      }
    };
    await Promise.all(Array.from({ length: RESTORE_CONCURRENCY }, worker));
    return restored;
  }

  /** The offset a reader starts at; latest is the high watermark, a timestamp past the end is too. */
  async resolveStart(topic: string, partition: number, start: StartPosition): Promise<number> {
    return startOffsetIn(this.logs.partition(topic, partition), start);
  }

  /** A topic's partition count; TopicNotFoundError when there is none. */
  partitionCount(topic: string): number {
    const count = this.logs.partitionCount(topic);
    if (count === undefined) throw new TopicNotFoundError(topic);
    return count;
  }

  /** Throws OffsetOutOfRangeError (with the valid range) unless a read may start at `offset`: [logStartOffset, logEndOffset]. */
  async checkStartOffset(topic: string, partition: number, offset: number): Promise<void> {
    const log = this.logs.partition(topic, partition);
    if (offset < log.logStartOffset || offset > log.logEndOffset) {
      await log.read(offset, 1); // throws OffsetOutOfRangeError with the valid range
    }
  }

  /** The partition's log closed (its topic deleted, or the server stopping): a reader waits on it no more. */
  isClosed(topic: string, partition: number): boolean {
    return this.logs.partition(topic, partition).isClosed;
  }

  /** Resolves once the partition holds data at or past `offset` for readers, it closes, or `signal` aborts. */
  waitForData(topic: string, partition: number, offset: number, signal: AbortSignal): Promise<void> {
    return waitForData(this.logs.partition(topic, partition), offset, this.clock, undefined, signal);
  }

  /**
   * A long-poll read: returns as soon as `minBytes` are there; with some data but fewer bytes, waits
   * up to `maxWaitMs` for more; with none, waits up to `maxWaitMs`, or for a subscription until data
   * arrives or `signal` aborts. Throws OffsetOutOfRangeError and the partition's errors.
   */
  async fetch(topic: string, partition: number, offset: number, options: FetchOptions): Promise<ReadResult> {
    if (!Number.isSafeInteger(options.maxBytes) || options.maxBytes <= 0) throw new InvalidArgumentError('maxBytes must be a positive integer');
    let deadlineMs = options.waitForFirstData ? undefined : this.clock.nowMs() + options.maxWaitMs;
    for (;;) {
      const log = this.logs.partition(topic, partition);
      const result = await log.read(offset, options.maxBytes);
      const nowMs = this.clock.nowMs();
      // Enough: minBytes are there, or maxBytes cut the read short (more waits in the log already).
      const hasEnough =
        result.batches.length >= Math.max(1, options.minBytes) ||
        result.batches.length >= options.maxBytes ||
        (result.batches.length > 0 && result.nextOffset < result.highWatermark);
      if (hasEnough || options.signal?.aborted || (deadlineMs !== undefined && nowMs >= deadlineMs)) return result;
      if (result.batches.length > 0 && deadlineMs === undefined) deadlineMs = nowMs + options.maxWaitMs;
      // With some data, wait for more than is there now; with none, for anything at all.
      const waitFrom = result.batches.length > 0 ? result.highWatermark : offset;
      await waitForData(log, waitFrom, this.clock, deadlineMs === undefined ? undefined : deadlineMs - nowMs, options.signal);
      if (log.isClosed) return result;
    }
  }
}
