import { InvalidArgumentError, QueueRecordNotAcquiredError, type StrataError } from '../core/errors.js';
import { MAX_QUEUE_ANSWERS_PER_REQUEST, MAX_QUEUE_DELAY_MS, MAX_QUEUE_REASON_BYTES } from '../core/limits.js';
import type { PartitionQueue } from './partition-queue.js';
import type { QueueAnswer, QueueAnswerResult, QueueRecordRef } from './queue-coordinator-api.js';
import type { QueueGroup } from './queue-group.js';
import type { QueueStateChange } from './queue-state-changes.js';
import { retryBackoffMs } from './retry-backoff.js';

/** Records to dead-letter from one partition, and the answers (by index) waiting for it. */
export interface DeadLetterRequest {
  queue: PartitionQueue;
  offsets: number[];
  cause: 'max-delivery-attempts' | 'rejected';
  /** The error text per offset (a reject's reason, else the record's last error). */
  reasons: Map<number, string>;
  answerIndexes: number[];
}

export interface AnswerPlan {
  /** The changes to write, in one append (acks and releases); dead letters write their 'archive' later. */
  changes: QueueStateChange[];
  /** One per answer; those in `deadLetters` are filled in when their dead-letter append ends. */
  results: QueueAnswerResult[];
  deadLetters: DeadLetterRequest[];
}

/**
 * Turns a member's answers into changes, checking each against the state (nothing is applied here).
 * An answer that cannot apply gets its error in `results` and no change; so does a second answer of
 * the same record in one request.
 */
export function planAnswers(group: QueueGroup, memberId: string, answers: readonly QueueAnswer[], nowMs: number, random: { next(): number }): AnswerPlan {
  checkRequestSize(answers, 'answers');
  const acks = new Map<PartitionQueue, number[]>();
  const releases = new Map<string, { queue: PartitionQueue; offsets: number[]; eligibleAtMs: number[]; reason: string | undefined }>();
  const deadLetters = new Map<string, DeadLetterRequest>();
  const seen = new Set<string>();
  const results = answers.map((answer, index): QueueAnswerResult => {
    const ref = refOf(answer);
    const checked = checkHeld(group, memberId, answer, nowMs, seen);
    if ('error' in checked) return { ...ref, error: checked.error };
    const { queue, deliveryCount, lastError } = checked;
    if (answer.type === 'ack') {
      pushTo(acks, queue, answer.offset);
      return ref;
    }
    if (answer.type !== 'release' && answer.type !== 'reject') return { ...ref, error: new InvalidArgumentError(`answer type must be 'ack', 'release' or 'reject', got ${JSON.stringify(answer.type)}`) };
    const delayMs = answer.delayMs ?? 0;
    if (answer.type === 'release' && (!Number.isInteger(delayMs) || delayMs < 0 || delayMs > MAX_QUEUE_DELAY_MS)) {
      return { ...ref, error: new InvalidArgumentError(`a release's delayMs must be an integer in [0, ${MAX_QUEUE_DELAY_MS}], got ${String(answer.delayMs)}`) };
    }
    if (answer.reason !== undefined && typeof answer.reason !== 'string') return { ...ref, error: new InvalidArgumentError('an answer\'s reason must be a string') };
    const reason = answer.reason ? cutUtf8(answer.reason, MAX_QUEUE_REASON_BYTES) : undefined;
    const isRejected = answer.type === 'reject';
    if (isRejected || deliveryCount >= group.config.maxDeliveryAttempts) {
      const cause = isRejected ? 'rejected' : 'max-delivery-attempts';
      const key = `${queue.topic}\u0000${queue.partition}\u0000${cause}`;
      let request = deadLetters.get(key);
      if (!request) deadLetters.set(key, (request = { queue, offsets: [], cause, reasons: new Map(), answerIndexes: [] }));
      request.offsets.push(answer.offset);
      request.reasons.set(answer.offset, reason ?? lastError);
      request.answerIndexes.push(index);
      return ref;
    }
    const eligibleAtMs = nowMs + (delayMs > 0 ? delayMs : retryBackoffMs(group.config, deliveryCount, random));
    const key = `${queue.topic}\u0000${queue.partition}\u0000${reason ?? ''}`;
    let release = releases.get(key);
    if (!release) releases.set(key, (release = { queue, offsets: [], eligibleAtMs: [], reason }));
    release.offsets.push(answer.offset);
    release.eligibleAtMs.push(eligibleAtMs);
    return ref;
  });
  const changes: QueueStateChange[] = [];
  for (const [queue, offsets] of acks) changes.push({ type: 'ack', groupId: group.groupId, topic: queue.topic, partition: queue.partition, offsets, atMs: nowMs });
  for (const { queue, offsets, eligibleAtMs, reason } of releases.values()) {
    changes.push({ type: 'release', groupId: group.groupId, topic: queue.topic, partition: queue.partition, offsets, eligibleAtMs, ...(reason === undefined ? {} : { reason }), atMs: nowMs });
  }
  for (const request of deadLetters.values()) request.offsets.sort((a, b) => a - b);
  return { changes, results, deadLetters: [...deadLetters.values()] };
}

/** Lock extensions of records the member holds, to nowMs + lockMs (0: the group's lock duration). */
export function planExtensions(group: QueueGroup, memberId: string, records: readonly QueueRecordRef[], lockMs: number, nowMs: number): { changes: QueueStateChange[]; results: QueueAnswerResult[] } {
  checkRequestSize(records, 'lock extensions');
  if (!Number.isInteger(lockMs) || lockMs < 0 || lockMs > MAX_QUEUE_DELAY_MS) {
    throw new InvalidArgumentError(`lockMs must be an integer in [0, ${MAX_QUEUE_DELAY_MS}], got ${String(lockMs)}`);
  }
  const lockDeadlineMs = nowMs + (lockMs > 0 ? lockMs : group.config.lockDurationMs);
  const extensions = new Map<PartitionQueue, number[]>();
  const seen = new Set<string>();
  const results = records.map((record): QueueAnswerResult => {
    const ref = refOf(record);
    const checked = checkHeld(group, memberId, record, nowMs, seen);
    if ('error' in checked) return { ...ref, error: checked.error };
    pushTo(extensions, checked.queue, record.offset);
    return { ...ref, lockDeadlineMs };
  });
  const changes: QueueStateChange[] = [...extensions].map(([queue, offsets]) => ({
    type: 'extend', groupId: group.groupId, topic: queue.topic, partition: queue.partition, offsets, lockDeadlineMs, atMs: nowMs,
  }));
  return { changes, results };
}

/** `text` cut to at most `maxBytes` of UTF-8, never inside a character. */
export function cutUtf8(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  let cut = text.slice(0, maxBytes);
  while (Buffer.byteLength(cut) > maxBytes) cut = cut.slice(0, -1);
  // Never leave half a surrogate pair.
  if (/[\ud800-\udbff]$/.test(cut)) cut = cut.slice(0, -1);
  return cut;
}

function checkRequestSize(items: readonly unknown[], what: string): void {
  if (!Array.isArray(items)) throw new InvalidArgumentError(`${what} must be an array`);
  if (items.length > MAX_QUEUE_ANSWERS_PER_REQUEST) throw new InvalidArgumentError(`${items.length} ${what} in one request; at most ${MAX_QUEUE_ANSWERS_PER_REQUEST} are allowed`);
}

function checkHeld(
  group: QueueGroup,
  memberId: string,
  ref: QueueRecordRef,
  nowMs: number,
  seen: Set<string>,
): { error: StrataError } | { queue: PartitionQueue; deliveryCount: number; lastError: string } {
  // Per answer on the hot path: the record's name is built only for an error.
  const named = () => `${ref.topic}-${ref.partition} offset ${ref.offset}`;
  if (typeof ref.topic !== 'string' || !Number.isInteger(ref.partition) || !Number.isSafeInteger(ref.offset) || ref.offset < 0) {
    return { error: new InvalidArgumentError(`a record reference needs a topic, a partition and an offset that are integers >= 0, got ${named()}`) };
  }
  const key = `${ref.topic}\u0000${ref.partition}\u0000${ref.offset}`;
  if (seen.has(key)) return { error: new QueueRecordNotAcquiredError(`${named()} is named twice in one request: the first answer counts`) };
  seen.add(key);
  const queue = group.partitionQueue(ref.topic, ref.partition);
  const record = queue?.get(ref.offset);
  if (!queue || !record) return { error: new QueueRecordNotAcquiredError(`${named()} is not held by member ${memberId}: the group tracks no such record (unknown, or done already)`) };
  if (record.state === 'done') return { error: new QueueRecordNotAcquiredError(`${named()} is not held by member ${memberId}: it is done already`) };
  if (record.state !== 'acquired' || record.memberId !== memberId) {
    return { error: new QueueRecordNotAcquiredError(`${named()} is not held by member ${memberId}: ${record.state === 'acquired' ? 'another member holds it (its lock may have expired)' : 'it is not acquired'}`) };
  }
  if (queue.isDeadLettering(ref.offset)) return { error: new QueueRecordNotAcquiredError(`${named()} is being dead-lettered`) };
  if (record.deadlineMs <= nowMs) return { error: new QueueRecordNotAcquiredError(`${named()}: its lock expired at ${record.deadlineMs} (now ${nowMs})`) };
  return { queue, deliveryCount: record.deliveryCount, lastError: record.lastError };
}

function refOf(ref: QueueRecordRef): QueueAnswerResult {
  return { topic: ref.topic, partition: ref.partition, offset: ref.offset };
}

function pushTo<K>(map: Map<K, number[]>, key: K, offset: number): void {
  const list = map.get(key);
  if (list) list.push(offset);
  else map.set(key, [offset]);
}
