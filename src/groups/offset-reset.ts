import type { PartitionView } from './topics-view.js';

/** Where an operator moves a group's offsets: Kafka's --to-earliest, --to-latest, --to-offset, --to-datetime, --shift-by. */
export type ResetTarget = { point: 'earliest' | 'latest' } | { offset: number } | { timestampMs: number } | { shiftBy: number };

/**
 * The offset a reset moves one partition to, clamped into [logStartOffset, highWatermark] as Kafka's
 * tool does. A shift counts from the committed offset (`previousOffset`, -1 for none: then from the
 * log start); a timestamp past the last record is the high watermark.
 */
export async function resetOffsetFor(target: ResetTarget, previousOffset: number, log: PartitionView): Promise<number> {
  let newOffset: number;
  if ('shiftBy' in target) newOffset = (previousOffset >= 0 ? previousOffset : log.logStartOffset) + target.shiftBy;
  else if ('offset' in target) newOffset = target.offset;
  else if ('timestampMs' in target) newOffset = (await log.startForTimestamp(target.timestampMs)).offset;
  else newOffset = target.point === 'earliest' ? log.logStartOffset : log.highWatermark;
  return Math.min(Math.max(newOffset, log.logStartOffset), log.highWatermark);
}
