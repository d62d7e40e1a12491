import { encodeRecordBatch } from '../../src/format/record-batch-codec.js';
import { patchBaseOffset } from '../../src/format/record-batch.js';
import type { PartitionView, TopicLogsView } from '../../src/groups/topics-view.js';
import { PartitionNotFoundError, TopicNotFoundError } from '../../src/core/errors.js';

/** An in-memory partition: offsets [logStartOffset, highWatermark), the record at `offset` stamped `timestampMs(offset)`. */
export class FakePartition implements PartitionView {
  readCount = 0;
  constructor(
    public logStartOffset: number,
    public highWatermark: number,
    readonly timestampMs: (offset: number) => number = (offset) => 1_000 * offset,
  ) {}

  async startForTimestamp(timestampMs: number): Promise<{ offset: number; found: boolean }> {
    for (let offset = this.logStartOffset; offset < this.highWatermark; offset++) if (this.timestampMs(offset) >= timestampMs) return { offset, found: true };
    return { offset: this.highWatermark, found: false };
  }

  /** One batch holding the one record at `offset`, as a log returns the batch that holds it. */
  async read(offset: number): Promise<{ batches: Buffer }> {
    this.readCount++;
    if (offset >= this.highWatermark) return { batches: Buffer.alloc(0) };
    const batches = encodeRecordBatch([{ value: `record ${offset}`, timestampMs: this.timestampMs(offset) }]);
    patchBaseOffset(batches, 0, offset);
    return { batches };
  }
}

/** Topics by name, each a list of FakePartitions; a topic removed from `topics` is gone (as deleted). */
export class FakeTopicLogs implements TopicLogsView {
  readonly topics = new Map<string, FakePartition[]>();

  // Arrow functions: the coordinator passes partitionCount on unbound.
  readonly partitionCount = (topic: string): number | undefined => this.topics.get(topic)?.length;

  partition(topic: string, partition: number): FakePartition {
    const partitions = this.topics.get(topic);
    if (!partitions) throw new TopicNotFoundError(topic);
    const found = partitions[partition];
    if (!found) throw new PartitionNotFoundError(topic, partition, partitions.length);
    return found;
  }
}
