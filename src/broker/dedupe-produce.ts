import type { Clock } from '../core/clock.js';
import { readBatchHeader, type BatchHeader } from '../format/record-batch.js';
import { type MessageIds, readMessageIds, rebuildBatchKeeping } from '../format/message-ids.js';
import type { AckLevel, AppendResult, PartitionLog } from '../storage/partition-log.js';
import { hashOf, type IdSlot, type MessageIdIndex, type PendingIds } from './message-id-index.js';
import type { Admission, ProducerSequences } from './producer-sequences.js';

/** A record of a produce request that was not written: an earlier record with its message id was. */
export interface DuplicateRecord {
  /** The record's position in the request (across its batches, from 0). */
  index: number;
  /** Where the record with the same id is. */
  originalOffset: number;
}

export interface DedupedAppendResult extends AppendResult {
  /** Nothing was written by this request: a retry of batches already appended, or only duplicates. */
  isDuplicate: boolean;
  duplicateRecords: DuplicateRecord[];
}

/**
 * A record of the request that is a duplicate: of an id in the index (another append's), or of an
 * earlier record of this request (written at `sameAsPosition` of what this request writes).
 */
type Duplicate = { index: number; slot: IdSlot } | { index: number; sameAsPosition: number };

interface Plan {
  /** Per record of the request: its position among the records this request writes, or -1. */
  writtenPositions: Int32Array;
  duplicates: Duplicate[];
  writtenCount: number;
  writtenPerBatch: number[];
}

export interface DedupeProduceContext {
  log: PartitionLog;
  index: MessageIdIndex;
  sequences: ProducerSequences;
  clock: Clock;
  /** The producer-fencing check (and the broker's record check), run first on the batches of a request. */
  checkNotFenced(headers: readonly BatchHeader[]): void;
}

/**
 * Produce to a partition of a topic with `dedupe.window.ms` set. Rules (README, "Duplicate detection
 * by message id"):
 * - Records without a `strata-message-id` are appended as ever. A record whose id was admitted within
 *   the window (already written, or being written by an earlier request), or that repeats the id of an
 *   earlier record of the same request, is not written; the answer names it with the original's offset.
 * - The producer sequence check comes first and covers the whole request, duplicates included: a
 *   batch's sequence numbers are used up whether its records were written or dropped. A retry of a
 *   request the sequences recognise writes nothing and is answered per record from the ids.
 * - A request with no duplicate is appended as it came; a batch holding one is rebuilt without it
 *   (format/message-ids.ts: the one place the server re-encodes records), keeping its last sequence.
 * A bad id refuses the request before anything is recorded; the sequence check comes next, then the
 * ids are looked up and admitted in one pass; if the rebuild then fails (a batch that no longer fits
 * its limit re-compressed), both are undone.
 */
export function produceWithDedupe(context: DedupeProduceContext, records: Buffer, ackLevel: AckLevel | undefined): Promise<DedupedAppendResult> {
  const { log, index, sequences, clock } = context;
  let answer: Promise<DedupedAppendResult> | undefined;
  let plan: Plan | undefined;
  let onWritten: ((result: AppendResult) => void) | undefined;
  let onFailed: ((error: unknown) => void) | undefined;
  const appended = log.append(records, {
    ...(ackLevel ? { ackLevel } : {}),
    admit: (headers) => {
      context.checkNotFenced(headers);
      const config = log.topicConfig;
      const ids = readMessageIds(records, headers, { maxBatchBytes: config.maxBatchBytes });
      const nowMs = clock.nowMs();
      index.expire(nowMs, config.dedupeWindowMs);
      const admission: Admission = sequences.admit(headers);
      if (admission.kind === 'duplicate') return (answer = answerRetry(index, ids, admission.result));
      const pending = index.beginAppend();
      const admitted = (plan = planRequest(index, ids, headers, pending));
      index.endAppend(pending, nowMs, nowMs);
      onWritten = (result) => {
        pending.settle(result.baseOffset);
        if (admission.kind === 'append') admission.onAppended(result, admitted.writtenPerBatch);
      };
      onFailed = (error) => {
        pending.fail(error);
        if (admission.kind === 'append') admission.onFailed();
      };
      let replacement: { replacement: Buffer; headers: BatchHeader[] } | undefined;
      try {
        if (plan.writtenCount < ids.count && plan.writtenCount > 0) replacement = rebuild(records, headers, plan, config.maxBatchBytes);
      } catch (error) {
        onFailed(error);
        onFailed = undefined;
        throw error;
      }
      if (plan.writtenCount === 0) {
        // Only duplicates: nothing to write; answered once their originals are (durable, if asked).
        const effectiveAck = ackLevel ?? (config.flushPolicy === 'always' ? 'durable' : 'written');
        return originalsSettled(plan).then(async () => {
          if (effectiveAck === 'durable') await log.flush();
          return { baseOffset: -1, lastOffset: -1, durability: effectiveAck };
        });
      }
      return replacement;
    },
  });
  if (answer) {
    // The same answer, through the log: only `answer` is handed on.
    appended.catch(() => undefined);
    return answer;
  }
  return appended.then(
    async (result) => {
      onWritten?.(result);
      const duplicateRecords = await duplicatesOf(plan!, result.baseOffset);
      return { ...result, isDuplicate: plan!.writtenCount === 0, duplicateRecords };
    },
    (error: unknown) => {
      onFailed?.(error);
      throw error;
    },
  );
}

/** Looks every id up, admitting the new ones for `pending` as it goes (so a repeat within the request finds the first). */
function planRequest(index: MessageIdIndex, ids: MessageIds, headers: readonly BatchHeader[], pending: PendingIds): Plan {
  const writtenPositions = new Int32Array(ids.count);
  const duplicates: Duplicate[] = [];
  const writtenPerBatch: number[] = [];
  let written = 0;
  let record = 0;
  for (const header of headers) {
    const writtenBefore = written;
    for (let end = record + header.recordCount; record < end; record++) {
      const start = ids.starts[record]!;
      if (start >= 0) {
        const length = ids.lengths[record]!;
        const slot = index.getOrAdmit(ids.bytes, start, length, hashOf(ids.bytes, start, length), pending, written);
        if (slot !== undefined) {
          duplicates.push(typeof slot === 'object' && slot.append === pending ? { index: record, sameAsPosition: slot.position } : { index: record, slot });
          writtenPositions[record] = -1;
          continue;
        }
      }
      writtenPositions[record] = written++;
    }
    writtenPerBatch.push(written - writtenBefore);
  }
  return { writtenPositions, duplicates, writtenCount: written, writtenPerBatch };
}

/** The request's batches without their duplicates (batches without one are kept byte for byte). */
function rebuild(records: Buffer, headers: readonly BatchHeader[], plan: Plan, maxBatchBytes: number): { replacement: Buffer; headers: BatchHeader[] } {
  const parts: Buffer[] = [];
  let position = 0;
  let firstRecord = 0;
  headers.forEach((header, batch) => {
    const written = plan.writtenPerBatch[batch]!;
    if (written === header.recordCount) parts.push(records.subarray(position, position + header.sizeBytes));
    else if (written > 0) {
      const first = firstRecord;
      parts.push(...rebuildBatchKeeping(records, position, header, (i) => plan.writtenPositions[first + i]! >= 0, maxBatchBytes));
    }
    position += header.sizeBytes;
    firstRecord += header.recordCount;
  });
  const replacement = Buffer.concat(parts);
  const rebuiltHeaders: BatchHeader[] = [];
  for (let at = 0; at < replacement.length; ) {
    const header = readBatchHeader(replacement, at);
    rebuiltHeaders.push(header);
    at += header.sizeBytes;
  }
  return { replacement, headers: rebuiltHeaders };
}

/** Resolves once every append this request's duplicates wait for is written; rejects if one failed. */
async function originalsSettled(plan: Plan): Promise<void> {
  for (const duplicate of plan.duplicates) {
    if ('slot' in duplicate && typeof duplicate.slot === 'object') await duplicate.slot.append.settled;
  }
}

async function duplicatesOf(plan: Plan, baseOffset: number): Promise<DuplicateRecord[]> {
  const duplicates: DuplicateRecord[] = [];
  for (const duplicate of plan.duplicates) {
    const originalOffset = 'sameAsPosition' in duplicate ? baseOffset + duplicate.sameAsPosition : await offsetOf(duplicate.slot);
    duplicates.push({ index: duplicate.index, originalOffset });
  }
  return duplicates;
}

async function offsetOf(slot: IdSlot): Promise<number> {
  if (typeof slot === 'number') return slot;
  await slot.append.settled;
  return slot.append.baseOffset + slot.position;
}

/**
 * The answer to a retry of batches the producer sequences recognise (nothing is written again), per
 * record from the ids: a record whose id maps into the original append's offsets was written by it; one
 * whose id maps elsewhere was a duplicate of that record. Records without an id take the original's
 * offsets in order, if the count agrees; if it does not (an id evicted since), the offsets are -1, as
 * for a retry the server can no longer place.
 */
async function answerRetry(index: MessageIdIndex, ids: MessageIds, original: AppendResult): Promise<DedupedAppendResult> {
  const duplicateRecords: DuplicateRecord[] = [];
  const isWritten = (offset: number) => original.baseOffset >= 0 && offset >= original.baseOffset && offset <= original.lastOffset;
  let ownCount = 0;
  for (let i = 0; i < ids.count; i++) {
    const start = ids.starts[i]!;
    const slot = start < 0 ? undefined : index.get(ids.bytes, start, ids.lengths[i]!);
    if (start < 0) ownCount++;
    else if (slot === undefined) ownCount = Number.NaN;
    else {
      const offset = await offsetOf(slot);
      if (isWritten(offset)) ownCount++;
      else duplicateRecords.push({ index: i, originalOffset: offset });
    }
  }
  const writtenCount = original.baseOffset < 0 ? 0 : original.lastOffset - original.baseOffset + 1;
  if (ownCount !== writtenCount) return { baseOffset: -1, lastOffset: -1, durability: original.durability, isDuplicate: true, duplicateRecords };
  return { ...original, isDuplicate: true, duplicateRecords };
}
