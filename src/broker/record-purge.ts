import { InvalidArgumentError, OffsetOutOfRangeError, TopicNotFoundError } from '../core/errors.js';
import { refuseInternalTopic } from '../core/internal-topics.js';
import type { LogManager } from '../storage/log-manager.js';

export interface PartitionPurgeRequest {
  partition: number;
  /** Exclusive: records below it go. 'all': every record readable now (up to the high watermark). */
  before: number | 'all';
}

export interface PartitionPurgeResult {
  partition: number;
  /** The log start offset before the purge (inclusive). */
  previousLogStartOffset: number;
  /** The log start offset after it (or that it would have, when only validated). */
  logStartOffset: number;
  /** Records readable before and not after: logStartOffset - previousLogStartOffset (offsets are contiguous). */
  purgedRecords: number;
  /** The high watermark when the partition was checked (exclusive). */
  highWatermark: number;
}

/**
 * Kafka's DeleteRecords over the log manager: moves the log start offset of each named partition of a
 * client topic forward (PartitionLog.advanceLogStart). Every partition is checked before any changes:
 * an internal topic (INTERNAL_TOPIC), an unknown topic or partition, a partition named twice, an
 * offset that is not a non-negative integer, or one past the high watermark (OFFSET_OUT_OF_RANGE with
 * the valid range) refuses the whole request unchanged. An offset at or below the log start changes
 * nothing (as in Kafka: the start never moves back). `validateOnly` answers the plan and stops there.
 * Between the check and the purge the high watermark only grows and the start only moves forward, so
 * a checked purge stays valid; only an I/O failure can stop it midway, after the partitions before
 * it were purged, and the same request again is then safe (it finishes the rest).
 */
export async function purgeRecords(
  logs: LogManager,
  topic: string,
  purges: readonly PartitionPurgeRequest[],
  options: { validateOnly: boolean },
): Promise<PartitionPurgeResult[]> {
  refuseInternalTopic(topic, 'purge records of');
  if (logs.partitionCount(topic) === undefined) throw new TopicNotFoundError(topic);
  if (purges.length === 0) throw new InvalidArgumentError('a purge names at least one partition');
  const seen = new Set<number>();
  const plan = purges.map(({ partition, before }) => {
    if (seen.has(partition)) throw new InvalidArgumentError(`partition ${partition} is named twice in one purge`);
    seen.add(partition);
    const log = logs.partition(topic, partition);
    if (before !== 'all' && (!Number.isSafeInteger(before) || before < 0)) {
      throw new InvalidArgumentError(`partition ${partition}: before_offset must be an integer >= 0, got ${before}`);
    }
    const highWatermark = log.highWatermark;
    const previousLogStartOffset = log.logStartOffset;
    const target = before === 'all' ? highWatermark : before;
    if (target > highWatermark) {
      const error = new OffsetOutOfRangeError(target, previousLogStartOffset, highWatermark);
      // Said after the standard text, which clients parse the range from: which partition, and why.
      error.message += `: a purge of partition ${partition} of '${topic}' ends at most at its high watermark, ${highWatermark}`;
      throw error;
    }
    return { log, partition, previousLogStartOffset, target: Math.max(target, previousLogStartOffset), highWatermark };
  });
  if (options.validateOnly) {
    return plan.map((p) => ({ partition: p.partition, previousLogStartOffset: p.previousLogStartOffset, logStartOffset: p.target, purgedRecords: p.target - p.previousLogStartOffset, highWatermark: p.highWatermark }));
  }
  const results: PartitionPurgeResult[] = [];
  for (const p of plan) {
    const { previousLogStartOffset, logStartOffset } = await p.log.advanceLogStart(p.target);
    results.push({ partition: p.partition, previousLogStartOffset, logStartOffset, purgedRecords: logStartOffset - previousLogStartOffset, highWatermark: p.highWatermark });
  }
  return results;
}
