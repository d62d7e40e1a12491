import type { QueueGroupConfig } from './queue-group-config.js';
import type { QueueStateChange } from './queue-state-changes.js';

type Snapshot = Extract<QueueStateChange, { type: 'snapshot' }>;
type SnapshotRecord = Snapshot['records'][number];

/**
 * A QueueStateChange read back from `__queue_state` (JSON.parse of a record value), checked field by
 * field against its shape in queue-state-changes.ts, and rebuilt with only those fields; or why it is
 * not one. Shape only (types, integers where offsets and times are, the enums): the coordinator's own
 * rules (a config's ranges, an offset inside the window) are its to apply. So a record the server did
 * not write, or a damaged one the CRC let through, is skipped instead of reaching the coordinator.
 */
export function parseQueueStateChange(value: unknown): QueueStateChange | string {
  if (!isObject(value)) return 'not a JSON object';
  const { type, groupId, atMs } = value;
  if (!isText(groupId) || groupId.length === 0) return 'no groupId';
  if (!isCount(atMs)) return 'no atMs';
  const base = { groupId, atMs };
  if (type === 'delete') return { type, ...base };
  if (type === 'config') {
    const config = parseConfig(value.config);
    return typeof config === 'string' ? config : { type, groupId, config, atMs };
  }
  const { topic } = value;
  if (!isText(topic) || topic.length === 0) return `a ${String(type)} change without a topic`;
  if (type === 'forget-topic') return { type, groupId, topic, atMs };
  const { partition } = value;
  if (!isCount(partition)) return `a ${String(type)} change without a partition`;
  const at = { groupId, topic, partition };
  switch (type) {
    case 'reset':
      return isCount(value.startOffset) ? { type, ...at, startOffset: value.startOffset, atMs } : 'a reset without startOffset';
    case 'snapshot':
      return parseSnapshot(value, at, atMs);
    case 'acquire':
    case 'extend':
    case 'ack':
    case 'release':
    case 'archive':
      break;
    default:
      return `unknown change type ${String(type).slice(0, 64)}`;
  }
  const { offsets } = value;
  if (!isCountArray(offsets)) return `a ${type} change without offsets`;
  switch (type) {
    case 'acquire':
      if (!isText(value.memberId) || !isCount(value.lockDeadlineMs)) return 'an acquire without memberId or lockDeadlineMs';
      return { type, ...at, offsets, memberId: value.memberId, lockDeadlineMs: value.lockDeadlineMs, atMs };
    case 'extend':
      return isCount(value.lockDeadlineMs) ? { type, ...at, offsets, lockDeadlineMs: value.lockDeadlineMs, atMs } : 'an extend without lockDeadlineMs';
    case 'ack':
      return { type, ...at, offsets, atMs };
    case 'release': {
      const { eligibleAtMs, reason } = value;
      if (!isCountArray(eligibleAtMs) || eligibleAtMs.length !== offsets.length) return 'a release without one eligibleAtMs per offset';
      if (reason !== undefined && !isText(reason)) return 'a release whose reason is not text';
      return { type, ...at, offsets, eligibleAtMs, ...(reason !== undefined ? { reason } : {}), atMs };
    }
    case 'archive': {
      const { cause } = value;
      if (cause !== 'max-delivery-attempts' && cause !== 'rejected') return 'an archive without its cause';
      return { type, ...at, offsets, cause, atMs };
    }
  }
}

function parseSnapshot(value: Record<string, unknown>, at: { groupId: string; topic: string; partition: number }, atMs: number): Snapshot | string {
  const { startOffset, records, counters } = value;
  if (!isCount(startOffset)) return 'a snapshot without startOffset';
  if (!Array.isArray(records)) return 'a snapshot without records';
  const parsedRecords: SnapshotRecord[] = [];
  for (const record of records as unknown[]) {
    if (!Array.isArray(record) || record.length !== 6) return 'a snapshot record that is not [offset, state, deliveryCount, deadlineMs, memberId, lastError]';
    const [offset, state, deliveryCount, deadlineMs, memberId, lastError] = record as unknown[];
    if (!isCount(offset) || !isCount(deliveryCount) || !isCount(deadlineMs) || !isText(memberId) || !isText(lastError)) return `a snapshot record of bad types at offset ${String(offset).slice(0, 32)}`;
    if (state !== 'available' && state !== 'acquired' && state !== 'done') return `a snapshot record in unknown state ${String(state).slice(0, 32)}`;
    parsedRecords.push([offset, state, deliveryCount, deadlineMs, memberId, lastError]);
  }
  if (!isObject(counters) || !isCount(counters.deadLettered) || !isCount(counters.redeliveries)) return 'a snapshot without counters';
  return { type: 'snapshot', ...at, startOffset, records: parsedRecords, counters: { deadLettered: counters.deadLettered, redeliveries: counters.redeliveries }, atMs };
}

function parseConfig(value: unknown): QueueGroupConfig | string {
  if (!isObject(value)) return 'a config change without its config';
  const { lockDurationMs, maxDeliveryAttempts, backoffBaseMs, backoffFactor, backoffMaxMs, backoffJitter, ordering, delivery, deadLetterTopicSuffix, start } = value;
  if (!isCount(lockDurationMs) || !isCount(maxDeliveryAttempts) || !isCount(backoffBaseMs) || !isCount(backoffMaxMs)) return 'a config whose durations or attempts are not non-negative integers';
  if (!isFiniteNumber(backoffFactor) || !isFiniteNumber(backoffJitter)) return 'a config whose backoff factor or jitter is not a number';
  if (ordering !== 'none' && ordering !== 'key') return 'a config with an unknown ordering';
  if (delivery !== 'at-least-once' && delivery !== 'at-most-once') return 'a config with an unknown delivery';
  if (start !== 'earliest' && start !== 'latest') return 'a config with an unknown start';
  if (!isText(deadLetterTopicSuffix)) return 'a config without deadLetterTopicSuffix';
  return { lockDurationMs, maxDeliveryAttempts, backoffBaseMs, backoffFactor, backoffMaxMs, backoffJitter, ordering, delivery, deadLetterTopicSuffix, start };
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const isText = (value: unknown): value is string => typeof value === 'string';
const isFiniteNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);
const isCount = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;
const isCountArray = (value: unknown): value is number[] => Array.isArray(value) && value.every(isCount);
