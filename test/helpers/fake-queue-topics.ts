import { OffsetOutOfRangeError, PartitionNotFoundError, StorageFailedError, TopicNotFoundError } from '../../src/core/errors.js';
import { type RecordHeader, encodeRecordBatch, patchBaseOffset } from '../../src/format/index.js';
import type { DeadLetter, DeadLetterWriter, QueuePartitionView, QueueTopicsView } from '../../src/queues/queue-coordinator-api.js';

export interface FakeRecord {
  key?: string | Buffer | null;
  value?: string | Buffer | null;
  headers?: RecordHeader[];
  timestampMs?: number;
}

interface StoredBatch {
  baseOffset: number;
  lastOffset: number;
  bytes: Buffer;
}

/** An in-memory partition of real encoded batches (one per append), with retention by hand (`deleteBefore`). */
export class FakeQueueLog implements QueuePartitionView {
  logStartOffset = 0;
  highWatermark = 0;
  readCount = 0;
  private batches: StoredBatch[] = [];
  private readonly listeners = new Set<(highWatermark: number) => void>();

  append(records: readonly FakeRecord[], timestampMs = 1_000_000): number {
    const baseOffset = this.highWatermark;
    const bytes = encodeRecordBatch(records.map((r) => ({ key: r.key ?? null, value: r.value ?? null, headers: r.headers ?? [], timestampMs: r.timestampMs ?? timestampMs })));
    patchBaseOffset(bytes, 0, baseOffset);
    this.batches.push({ baseOffset, lastOffset: baseOffset + records.length - 1, bytes });
    this.highWatermark += records.length;
    for (const listener of this.listeners) listener(this.highWatermark);
    return baseOffset;
  }

  /** Retention: batches wholly below `offset` go, and the log start moves to the first batch left. */
  deleteBefore(offset: number): void {
    this.batches = this.batches.filter((b) => b.lastOffset >= offset);
    this.logStartOffset = this.batches[0]?.baseOffset ?? this.highWatermark;
  }

  async read(offset: number, maxBytes: number): Promise<{ batches: Buffer }> {
    this.readCount++;
    await Promise.resolve();
    if (offset < this.logStartOffset || offset > this.highWatermark) throw new OffsetOutOfRangeError(offset, this.logStartOffset, this.highWatermark);
    const parts: Buffer[] = [];
    let bytes = 0;
    let low = 0;
    let high = this.batches.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      if (this.batches[mid]!.lastOffset < offset) low = mid + 1;
      else high = mid;
    }
    for (const batch of this.batches.slice(low)) {
      if (parts.length > 0 && bytes + batch.bytes.length > maxBytes) break;
      parts.push(batch.bytes);
      bytes += batch.bytes.length;
    }
    return { batches: parts.length === 1 ? parts[0]! : Buffer.concat(parts) };
  }

  async startForTimestamp(timestampMs: number): Promise<{ offset: number; found: boolean }> {
    const { batches } = await this.read(this.logStartOffset, Number.MAX_SAFE_INTEGER);
    const { decodeRecordBatch, iterateBatches } = await import('../../src/format/index.js');
    for (const { position } of iterateBatches(batches)) {
      for (const record of decodeRecordBatch(batches, position).records) if (record.timestampMs >= timestampMs) return { offset: record.offset, found: true };
    }
    return { offset: this.highWatermark, found: false };
  }

  onHighWatermark(listener: (highWatermark: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  listenerCount(): number {
    return this.listeners.size;
  }
}

export class FakeQueueTopics implements QueueTopicsView {
  readonly topics = new Map<string, FakeQueueLog[]>();

  create(topic: string, partitionCount: number): FakeQueueLog[] {
    const logs = Array.from({ length: partitionCount }, () => new FakeQueueLog());
    this.topics.set(topic, logs);
    return logs;
  }

  readonly partitionCount = (topic: string): number | undefined => this.topics.get(topic)?.length;

  partition(topic: string, partition: number): FakeQueueLog {
    const logs = this.topics.get(topic);
    if (!logs) throw new TopicNotFoundError(topic);
    const log = logs[partition];
    if (!log) throw new PartitionNotFoundError(topic, partition, logs.length);
    return log;
  }
}

/** Dead letters into FakeQueueTopics (the topic created on demand), each one counted; `failWith` makes appends fail. */
export class FakeDeadLetterWriter implements DeadLetterWriter {
  readonly letters: Array<{ topic: string; letter: DeadLetter }> = [];
  failWith: Error | undefined;
  /** While set, appends wait for it (a slow dead-letter topic). */
  gate: Promise<void> | undefined;

  constructor(private readonly topics: FakeQueueTopics) {}

  async append(deadLetterTopic: string, sourcePartitionCount: number, letters: readonly DeadLetter[]): Promise<void> {
    await Promise.resolve();
    if (this.gate) await this.gate;
    if (this.failWith) throw this.failWith;
    const logs = this.topics.topics.get(deadLetterTopic) ?? this.topics.create(deadLetterTopic, sourcePartitionCount);
    for (const letter of letters) {
      logs[letter.sourcePartition % logs.length]!.append([{ key: letter.key, value: letter.value, headers: letter.headers, timestampMs: letter.timestampMs }]);
      this.letters.push({ topic: deadLetterTopic, letter });
    }
  }
}

export function header(letter: DeadLetter, key: string): string | undefined {
  return letter.headers.find((h) => h.key === key)?.value?.toString('utf8');
}

export const storageFailure = (): StorageFailedError => new StorageFailedError('injected journal failure');
