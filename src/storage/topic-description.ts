import { DataLossError } from '../core/errors.js';
import type { PartitionLog } from './partition-log.js';
import type { TopicConfig } from './topic-config.js';
import type { WriteStatus } from './write-state.js';

export interface PartitionDescription {
  partition: number;
  /** See write-state.ts; `data-loss`: damage in the middle of the log, refused until an operator decides. */
  status: WriteStatus | 'data-loss';
  logStartOffset: number;
  logEndOffset: number;
  highWatermark: number;
  sizeBytes: number;
  segmentCount: number;
  /** Why the partition is not online. */
  error?: string;
  /** Since when (epoch ms) the partition is not online. */
  sinceMs?: number;
}

export interface TopicDescription {
  name: string;
  partitionCount: number;
  config: TopicConfig;
  configOverrides: Record<string, string>;
  partitions: PartitionDescription[];
}

/** A partition is either open, or refused with the DataLossError found while opening it. */
export type PartitionSlot = PartitionLog | DataLossError;

/** When each DataLossError was found (at open): describe says since when a partition is refused. */
const foundAtMs = new WeakMap<DataLossError, number>();

export function noteDataLoss(error: DataLossError, nowMs: number): DataLossError {
  foundAtMs.set(error, nowMs);
  return error;
}

export function describePartition(slot: PartitionSlot, partition: number): PartitionDescription {
  if (slot instanceof DataLossError) {
    const sinceMs = foundAtMs.get(slot);
    return { partition, status: 'data-loss', logStartOffset: -1, logEndOffset: -1, highWatermark: -1, sizeBytes: 0, segmentCount: 0, error: slot.message, ...(sinceMs !== undefined ? { sinceMs } : {}) };
  }
  const { status, reason, sinceMs } = slot.writeState;
  return {
    partition,
    status,
    ...(reason !== undefined ? { error: reason } : {}),
    ...(sinceMs !== undefined ? { sinceMs } : {}),
    logStartOffset: slot.logStartOffset,
    logEndOffset: slot.logEndOffset,
    highWatermark: slot.highWatermark,
    sizeBytes: slot.sizeBytes,
    segmentCount: slot.segmentCount,
  };
}
