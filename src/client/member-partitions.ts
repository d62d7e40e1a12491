import type { ConsumedRecord } from './consume.js';
import type { TopicPartition } from './group-consumer-options.js';

/** A partition's key in the maps below. */
export const partitionKey = (topic: string, partition: number) => `${partition}\u0000${topic}`;

/**
 * What a group member knows of the partitions it reads: which it owns, where each stands (handed
 * to the loop, processed, committed) and the record or batch in the loop's hands. Plain state with
 * no I/O: the GroupConsumer decides when positions move, the GroupOffsetCommitter writes them.
 */
export class MemberPartitions {
  /** Partitions this member reads now, with the next offset to hand out (fetch position). */
  readonly owned = new Map<string, TopicPartition>();
  /** Next offset after the last processed record, per partition: what a commit writes. */
  readonly processed = new Map<string, number>();
  readonly committed = new Map<string, number>();
  /** Next offset after the last record handed to the loop, per partition. */
  readonly handedNext = new Map<string, number>();
  /** Partitions being revoked: owned until their last commit, but nothing more of them is handed. */
  readonly revoking = new Set<string>();
  /** Where reading began on a partition with no committed offset ('latest', resolved once). */
  readonly startedAt = new Map<string, number>();
  /** Handed to the loop, not yet known processed: a batch, or one record with its partition's key. */
  private lastHanded: ConsumedRecord[] = [];
  private lastHandedOne: ConsumedRecord | undefined;
  private lastHandedKey = '';

  /** Where a fetcher of the partition resumes: after what was handed, else processed, else its start. */
  resumeOffset(k: string): number | undefined {
    return this.handedNext.get(k) ?? this.processed.get(k) ?? this.startedAt.get(k);
  }

  handOne(record: ConsumedRecord, k: string): void {
    this.lastHandedOne = record;
    this.lastHandedKey = k;
    this.handedNext.set(k, record.offset + 1);
  }

  hand(records: ConsumedRecord[]): void {
    this.lastHanded = records;
    for (const record of records) this.handedNext.set(partitionKey(record.topic, record.partition), record.offset + 1);
  }

  /** Where reading began on owned partition `k` that had no committed offset ('latest' resolved). */
  noteStart(k: string, offset: number): void {
    if (this.owned.has(k) && !this.startedAt.has(k)) this.startedAt.set(k, offset);
  }

  /**
   * Owned partition `k`'s position was outside its log and starts again at `offset`: the new position
   * is what a commit writes from now on, as Kafka's reset moves the position, and the record in hand
   * from before it must not move the commit back when the loop finishes it. False: not owned.
   */
  resetPosition(k: string, offset: number): boolean {
    if (!this.owned.has(k)) return false;
    this.handedNext.delete(k);
    this.processed.set(k, offset);
    this.dropInHand((handedKey) => handedKey === k);
    return true;
  }

  /** The record or batch in hand is processed: its partitions' commits move past it. */
  markProcessed(): void {
    const one = this.lastHandedOne;
    if (one) {
      this.lastHandedOne = undefined;
      if (this.owned.has(this.lastHandedKey)) this.processed.set(this.lastHandedKey, one.offset + 1);
    }
    const records = this.lastHanded;
    this.lastHanded = [];
    for (const record of records) {
      const k = partitionKey(record.topic, record.partition);
      if (this.owned.has(k)) this.processed.set(k, record.offset + 1);
    }
  }

  /** The records in hand of partitions `isDropped` picks will not count as processed. */
  dropInHand(isDropped: (k: string) => boolean): void {
    if (this.lastHandedOne && isDropped(this.lastHandedKey)) this.lastHandedOne = undefined;
    this.lastHanded = this.lastHanded.filter((r) => !isDropped(partitionKey(r.topic, r.partition)));
  }

  /** Forgets every position and what is in hand, keeping what is owned. */
  clearPositions(): void {
    this.lastHanded = [];
    this.lastHandedOne = undefined;
    this.processed.clear();
    this.committed.clear();
    this.handedNext.clear();
    this.startedAt.clear();
  }

  /** Forgets everything: nothing is owned any more. */
  clear(): void {
    this.clearPositions();
    this.owned.clear();
    this.revoking.clear();
  }

  /** Forgets the partitions of `keys` (revoked and committed). */
  forget(keys: Iterable<string>): void {
    for (const k of keys) {
      this.revoking.delete(k);
      this.owned.delete(k);
      this.processed.delete(k);
      this.committed.delete(k);
      this.handedNext.delete(k);
      this.startedAt.delete(k);
    }
  }
}
