import type { Logger } from '../core/logger.js';
import { PartitionLog } from './partition-log.js';
import type { PartitionSlot } from './topic-description.js';
import { describeIoError, isOutOfSpaceError } from './write-state.js';

/** Closes the open partitions among `slots`; a close that fails is ignored (the caller is already failing). */
export async function closeSlots(slots: readonly PartitionSlot[]): Promise<void> {
  await Promise.allSettled(slots.map((slot) => (slot instanceof PartitionLog ? slot.close() : undefined)));
}

/**
 * Closes every partition of `topics`, one at a time, each failure logged; true when all of them
 * closed cleanly (no failed or damaged one), which is when the log manager may leave its
 * clean-shutdown marker.
 */
export async function closeEverySlot(topics: Iterable<{ readonly partitions: readonly PartitionSlot[] }>, logger: Logger): Promise<boolean> {
  let isEveryPartitionHealthy = true;
  for (const topic of topics) {
    for (const slot of topic.partitions) {
      if (!(slot instanceof PartitionLog)) {
        isEveryPartitionHealthy = false;
        continue;
      }
      // A failed partition still holds open files: close it too (after a failure, close writes nothing).
      if (slot.isFailed) isEveryPartitionHealthy = false;
      try {
        await slot.close();
      } catch (error) {
        // Close the others anyway, and leave no marker: the next open recovers this one.
        isEveryPartitionHealthy = false;
        if (isOutOfSpaceError(error)) {
          logger.warn({ topic: slot.topic, partition: slot.partition, reason: describeIoError(error) }, 'disk full: a partition closed without its index files, the next start recovers it');
        } else {
          logger.error({ err: error, topic: slot.topic, partition: slot.partition }, 'a partition failed to close');
        }
      }
    }
  }
  return isEveryPartitionHealthy;
}
