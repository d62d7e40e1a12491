import { partitionForKey } from './murmur2.js';

/** Chooses a partition for a record; `onBatchSealed` tells a sticky partitioner to move on. */
export interface Partitioner {
  partition(topic: string, key: Buffer | null, partitionCount: number): number;
  onBatchSealed?(topic: string, partition: number): void;
}

/**
 * Kafka's default: a keyed record goes to murmur2(key) mod the partition count; keyless records stick
 * to one random partition until its batch is sealed, then move to another (KIP-480), which fills
 * batches instead of spreading single records over every partition.
 */
export class DefaultPartitioner implements Partitioner {
  private readonly sticky = new Map<string, number>();

  constructor(private readonly random: () => number = Math.random) {}

  partition(topic: string, key: Buffer | null, partitionCount: number): number {
    if (key !== null) return partitionForKey(key, partitionCount);
    let current = this.sticky.get(topic);
    if (current === undefined || current >= partitionCount) {
      current = Math.floor(this.random() * partitionCount);
      this.sticky.set(topic, current);
    }
    return current;
  }

  onBatchSealed(topic: string, partition: number): void {
    const current = this.sticky.get(topic);
    if (current !== partition) return;
    this.sticky.delete(topic);
  }
}
