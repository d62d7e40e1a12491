import type { Clock } from '../core/clock.js';
import { readBatchHeader, type BatchHeader } from '../format/record-batch.js';
import { readMessageIds, rebuildBatchKeeping } from '../format/message-ids.js';
import type { AckLevel, AppendResult, PartitionLog } from '../storage/partition-log.js';
import type { IdSlot, MessageIdIndex } from './message-id-index.js';
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

/** Per record of a request: written at a position of what this request appends, or a duplicate. */
type RecordFate = { written: number } | { slot: IdSlot } | { sameAs: number };

interface Plan {
  fates: RecordFate[];
  /** Ids this request writes, with their positions among its written records. */
  newIds: string[];
  newPositions: number[];
  writtenCount: number;
  writtenPerBatch: number[];
}

export interface DedupeProduceContext {
  log: PartitionLog;
  index: MessageIdIndex;
  sequences: ProducerSequences;
  clock: Clock;
  /** The producer-fencing check, run first on the batches of a request. */
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
 * Everything that can refuse the request (a bad id, a batch that cannot be rebuilt, the sequence
 * check) runs before the index or the sequences record anything.
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
      plan = planRequest(index, ids, headers);
      const replacement = plan.writtenCount < ids.length && plan.writtenCount > 0 ? rebuild(records, headers, plan, config.maxBatchBytes) : undefined;
      const admission: Admission = sequences.admit(headers);
      if (admission.kind === 'duplicate') {
        answer = answerRetry(index, ids, admission.result);
        plan = undefined;
        return answer;
      }
      const pending = plan.newIds.length > 0 ? index.admit(plan.newIds, plan.newPositions, nowMs, nowMs) : undefined;
      const writtenPerBatch = plan.writtenPerBatch;
      onWritten = (result) => {
        pending?.settle(result.baseOffset);
        if (admission.kind === 'append') admission.onAppended(result, writtenPerBatch);
      };
      onFailed = (error) => {
        pending?.fail(error);
        if (admission.kind === 'append') admission.onFailed();
      };
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

function planRequest(index: MessageIdIndex, ids: readonly (string | undefined)[], headers: readonly BatchHeader[]): Plan {
  const fates: RecordFate[] = new Array(ids.length);
  const newIds: string[] = [];
  const newPositions: number[] = [];
  const writtenPerBatch: number[] = [];
  let seenInRequest: Map<string, number> | undefined;
  let written = 0;
  let record = 0;
  for (const header of headers) {
    const writtenBefore = written;
    for (let end = record + header.recordCount; record < end; record++) {
      const id = ids[record];
      if (id === undefined) {
        fates[record] = { written: written++ };
        continue;
      }
      const slot = index.get(id);
      const earlier = seenInRequest?.get(id);
      if (slot !== undefined) fates[record] = { slot };
      else if (earlier !== undefined) fates[record] = { sameAs: earlier };
      else {
        (seenInRequest ??= new Map()).set(id, record);
        newIds.push(id);
        newPositions.push(written);
        fates[record] = { written: written++ };
      }
    }
    writtenPerBatch.push(written - writtenBefore);
  }
  return { fates, newIds, newPositions, writtenCount: written, writtenPerBatch };
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
      parts.push(...rebuildBatchKeeping(records, position, header, (i) => 'written' in plan.fates[first + i]!, maxBatchBytes));
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
  for (const fate of plan.fates) {
    if ('slot' in fate && typeof fate.slot === 'object') await fate.slot.append.settled;
  }
}

async function duplicatesOf(plan: Plan, baseOffset: number): Promise<DuplicateRecord[]> {
  const duplicates: DuplicateRecord[] = [];
  for (let index = 0; index < plan.fates.length; index++) {
    const fate = plan.fates[index]!;
    if ('written' in fate) continue;
    if ('sameAs' in fate) {
      const original = plan.fates[fate.sameAs] as { written: number };
      duplicates.push({ index, originalOffset: baseOffset + original.written });
    } else duplicates.push({ index, originalOffset: await offsetOf(fate.slot) });
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
async function answerRetry(index: MessageIdIndex, ids: readonly (string | undefined)[], original: AppendResult): Promise<DedupedAppendResult> {
  const duplicateRecords: DuplicateRecord[] = [];
  const isWritten = (offset: number) => original.baseOffset >= 0 && offset >= original.baseOffset && offset <= original.lastOffset;
  let ownCount = 0;
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    const slot = id === undefined ? undefined : index.get(id);
    if (id === undefined) ownCount++;
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
