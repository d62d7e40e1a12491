import { InvalidArgumentError, OffsetOutOfRangeError, TopicNotFoundError } from '../core/errors.js';
import { refuseInternalTopic } from '../core/internal-topics.js';
import type { LogManager } from '../storage/log-manager.js';
import type { PartitionLog } from '../storage/partition-log.js';

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

interface PurgeStep {
  log: PartitionLog;
  partition: number;
  previousLogStartOffset: number;
  /** Where the start moves: at least where it is (it never moves back). */
  target: number;
  highWatermark: number;
}

/** A purge checked whole and not yet done: see planPurge. */
export interface PurgePlan {
  readonly steps: readonly PurgeStep[];
}

/**
 * Kafka's DeleteRecords, first half: checks a purge of a client topic's partitions, all of them,
 * before anything moves. An internal topic (INTERNAL_TOPIC), an unknown topic or partition, a
 * partition named twice, an offset that is not a non-negative integer, or one past the high watermark
 * (OFFSET_OUT_OF_RANGE with the valid range) refuses the whole request. An offset at or below the log
 * start moves nothing there (as in Kafka: the start never moves back). Between this check and
 * executePurge the high watermark only grows and the start only moves forward, so a checked step
 * stays valid.
 */
export function planPurge(logs: LogManager, topic: string, purges: readonly PartitionPurgeRequest[]): PurgePlan {
  refuseInternalTopic(topic, 'purge records of');
  if (logs.partitionCount(topic) === undefined) throw new TopicNotFoundError(topic);
  if (purges.length === 0) throw new InvalidArgumentError('a purge names at least one partition');
  const seen = new Set<number>();
  const steps = purges.map(({ partition, before }) => {
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
  return { steps };
}

/** What a plan would do, per partition, in the order asked (a dry run's answer). */
export function purgePlanResults(plan: PurgePlan): PartitionPurgeResult[] {
  return plan.steps.map((p) => ({ partition: p.partition, previousLogStartOffset: p.previousLogStartOffset, logStartOffset: p.target, purgedRecords: p.target - p.previousLogStartOffset, highWatermark: p.highWatermark }));
}

/**
 * The second half: moves each partition's start (PartitionLog.advanceLogStart), in order. Only an I/O
 * failure stops it midway, after the partitions before it moved; the same request again is then
 * safe (it finishes the rest).
 */
export async function executePurge(plan: PurgePlan): Promise<PartitionPurgeResult[]> {
  const results: PartitionPurgeResult[] = [];
  for (const p of plan.steps) {
    const { previousLogStartOffset, logStartOffset } = await p.log.advanceLogStart(p.target);
    results.push({ partition: p.partition, previousLogStartOffset, logStartOffset, purgedRecords: logStartOffset - previousLogStartOffset, highWatermark: p.highWatermark });
  }
  return results;
}
