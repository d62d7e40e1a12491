/** One group that reads a partition, and how far it has consumed it. */
export interface ConsumptionReader {
  readonly kind: 'consumer' | 'queue';
  readonly groupId: string;
  /**
   * Exclusive: every record below it is committed past (consumer group) or acknowledged or
   * dead-lettered (queue group: its partition queue's start offset). A group that reads the topic
   * and has no progress in this partition yet is at 0 (nothing consumed). May lie below the log start.
   */
  readonly consumedBeforeOffset: number;
}

/**
 * The port through which storage learns how far groups have consumed a partition (retention after
 * acknowledgement, counting what time/size retention removes unconsumed, max.unconsumed.* overflow).
 * Storage may not see groups (module direction: storage <- groups): the composition root
 * (server/bootstrap.ts) implements it from the committed offsets and the queue groups' state.
 *
 * Contract: `readersOf` is synchronous and cheap enough to call once per partition per retention
 * run; the produce path calls it through a per-partition cache (partition-overflow.ts). It never
 * throws: a group whose progress is unknown (its state is damaged or failed) is a reader at 0, so
 * it keeps everything after-ack retention would delete.
 */
export interface ConsumptionProgress {
  readersOf(topic: string, partition: number): readonly ConsumptionReader[];
}

/** Before the composition root sets the real one: nobody reads anything. */
export const NO_CONSUMPTION_PROGRESS: ConsumptionProgress = Object.freeze({ readersOf: () => [] });

/**
 * Where the unconsumed records of a partition begin: the slowest reader's consumedBeforeOffset, at
 * least the log start; the log start when no group reads the topic.
 */
export function unconsumedStartOffset(readers: readonly ConsumptionReader[], logStartOffset: number): number {
  let slowest = Number.POSITIVE_INFINITY;
  for (const reader of readers) slowest = Math.min(slowest, reader.consumedBeforeOffset);
  return readers.length === 0 ? logStartOffset : Math.max(logStartOffset, slowest);
}
