import { DataLossError } from '../core/errors.js';
import type { PartitionLog } from './partition-log.js';
import type { TopicConfig } from './topic-config.js';

export interface PartitionDescription {
  partition: number;
  status: 'online' | 'failed' | 'data-loss';
  logStartOffset: number;
  logEndOffset: number;
  highWatermark: number;
  sizeBytes: number;
  segmentCount: number;
  error?: string;
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

export function describePartition(slot: PartitionSlot, partition: number): PartitionDescription {
  if (slot instanceof DataLossError) {
    return { partition, status: 'data-loss', logStartOffset: -1, logEndOffset: -1, highWatermark: -1, sizeBytes: 0, segmentCount: 0, error: slot.message };
  }
  return {
    partition,
    status: slot.isFailed ? 'failed' : 'online',
    logStartOffset: slot.logStartOffset,
    logEndOffset: slot.logEndOffset,
    highWatermark: slot.highWatermark,
    sizeBytes: slot.sizeBytes,
    segmentCount: slot.segmentCount,
  };
}
