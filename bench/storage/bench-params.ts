import { encodeRecordBatch, type RecordInput } from '../../src/format/record-batch-codec.js';

export const KiB = 1024;
export const MiB = 1024 * KiB;
/** Rates are decimal: MB/s = 1e6 bytes per second, GB/s = 1e9 bytes per second. */
export const MB = 1e6;
export const GB = 1e9;

/** The budgets of one run; the entry point picks them (--quick or full). */
export interface BenchParams {
  repetitions: number;
  appendCapBytes: number;
  appendBudgetMs: number;
  groupCommitMs: number;
  groupCommitSmallMs: number;
  warmupBytes: number;
}

export const BATCH_TARGET_BYTES = 16 * KiB;
export const RECORD_VALUE_BYTES = 100;
export const APPENDS_IN_FLIGHT = 64;
export const GROUP_COMMIT_APPENDERS = 32;
export const READ_CHUNK_BYTES = 1 * MiB;
/** Group commit also at these smaller batch sizes (for params.groupCommitSmallMs each); 16 KiB stays the headline. */
export const SMALL_BATCH_TARGETS = [1 * KiB, 4 * KiB];
/** Disk ceiling: appending writeSync + fdatasyncSync of chunks this large (512 KiB = 32 x 16 KiB). */
export const CEILING_CHUNK_BYTES = [4 * MiB, 512 * KiB];

/** The largest batch of 100-byte records (null keys) that fits in `targetBytes` (16 KiB), built with the real codec. */
export function buildTemplateBatch(targetBytes = BATCH_TARGET_BYTES): { template: Buffer; recordCount: number } {
  const value = Buffer.alloc(RECORD_VALUE_BYTES);
  for (let i = 0; i < value.length; i++) value[i] = 0x61 + (i % 26);
  const timestampMs = Date.now();
  const make = (count: number): Buffer => {
    const records: RecordInput[] = [];
    for (let i = 0; i < count; i++) records.push({ key: null, value, timestampMs });
    return encodeRecordBatch(records);
  };
  let count = 1;
  while (make(count + 1).length <= targetBytes) count++;
  return { template: make(count), recordCount: count };
}
