import { InvalidArgumentError } from '../core/errors.js';
import { MAX_QUEUE_DELAY_MS } from '../core/limits.js';

/**
 * How a queue group hands records out (proto QueueGroupConfig). Per group, stored in the group's
 * state log when the group is created or altered, so it survives restarts.
 */
export interface QueueGroupConfig {
  /** The acquisition lock (visibility timeout) of a delivery; a member may extend a lock it holds. */
  lockDurationMs: number;
  /** Deliveries after which a record not acknowledged goes to the dead-letter topic. */
  maxDeliveryAttempts: number;
  /** Retry backoff: min(backoffMaxMs, backoffBaseMs * backoffFactor^(deliveries - 1)), jittered by ±backoffJitter. */
  backoffBaseMs: number;
  backoffFactor: number;
  backoffMaxMs: number;
  /** A fraction in [0, 1): 0.2 spreads a delay over [0.8, 1.2] of it. */
  backoffJitter: number;
  /** 'key': a record waits while an earlier record of its key in its partition is acquired or waiting to retry. */
  ordering: 'none' | 'key';
  /** 'at-most-once': a record is acknowledged (durably) before it is handed out. */
  delivery: 'at-least-once' | 'at-most-once';
  /** The dead-letter topic of source topic T is T + this suffix (created on demand). */
  deadLetterTopicSuffix: string;
  /** Where a new group starts in a partition it has no state for. */
  start: 'earliest' | 'latest';
}

export const DEFAULT_QUEUE_GROUP_CONFIG: Readonly<QueueGroupConfig> = Object.freeze({
  lockDurationMs: 30_000,
  maxDeliveryAttempts: 5,
  backoffBaseMs: 1_000,
  backoffFactor: 2,
  backoffMaxMs: 300_000,
  backoffJitter: 0.2,
  ordering: 'none',
  delivery: 'at-least-once',
  deadLetterTopicSuffix: '.dlq',
  start: 'earliest',
});

/** A group's maxDeliveryAttempts is 1..this (Kafka's share groups allow 2..10; a day of retries is plenty). */
export const MAX_QUEUE_DELIVERY_ATTEMPTS = 1_000;
/** backoffFactor is 1..this: past it the first retry already reaches any useful maximum. */
export const MAX_QUEUE_BACKOFF_FACTOR = 100;
/** A dead-letter topic suffix is 1..this many characters of a topic name's alphabet. */
export const MAX_DEAD_LETTER_SUFFIX_LENGTH = 64;

const FIELDS = Object.keys(DEFAULT_QUEUE_GROUP_CONFIG) as Array<keyof QueueGroupConfig>;
const SUFFIX_PATTERN = /^[a-zA-Z0-9._-]+$/;

/**
 * The configuration a group gets from `partial` (fields undefined are not given) over `existing` (an
 * altered group) or the defaults (a new group). Validates every given field and the rules across fields;
 * throws InvalidArgumentError naming the field, with nothing changed.
 */
export function resolveQueueGroupConfig(partial: Partial<QueueGroupConfig>, existing?: QueueGroupConfig): QueueGroupConfig {
  if (typeof partial !== 'object' || partial === null) throw new InvalidArgumentError('queue group config must be an object');
  for (const field of Object.keys(partial)) {
    if (!FIELDS.includes(field as keyof QueueGroupConfig)) throw new InvalidArgumentError(`queue group config has no field '${field}' (known: ${FIELDS.join(', ')})`);
  }
  const config: QueueGroupConfig = { ...(existing ?? DEFAULT_QUEUE_GROUP_CONFIG) };
  for (const field of FIELDS) {
    const value = partial[field];
    if (value === undefined) continue;
    checkField(field, value);
    (config as unknown as Record<string, unknown>)[field] = value;
  }
  if (config.backoffMaxMs < config.backoffBaseMs) {
    throw new InvalidArgumentError(`backoffMaxMs (${config.backoffMaxMs}) must be at least backoffBaseMs (${config.backoffBaseMs})`);
  }
  return config;
}

/**
 * A join's given fields against an existing group's configuration: InvalidArgumentError naming every
 * field that differs (a join does not change a group; alterConfig does).
 */
export function checkJoinConfig(partial: Partial<QueueGroupConfig>, existing: QueueGroupConfig, groupId: string): void {
  resolveQueueGroupConfig(partial, existing);
  const differences: string[] = [];
  for (const field of FIELDS) {
    const value = partial[field];
    if (value !== undefined && value !== existing[field]) differences.push(`${field} ${JSON.stringify(value)} (the group has ${JSON.stringify(existing[field])})`);
  }
  if (differences.length > 0) {
    throw new InvalidArgumentError(`queue group '${groupId}' exists with another configuration: ${differences.join(', ')}; change it with AlterQueueGroupConfig`);
  }
}

function checkField(field: keyof QueueGroupConfig, value: unknown): void {
  switch (field) {
    case 'lockDurationMs':
      return checkInteger(field, value, 1, MAX_QUEUE_DELAY_MS);
    case 'maxDeliveryAttempts':
      return checkInteger(field, value, 1, MAX_QUEUE_DELIVERY_ATTEMPTS);
    case 'backoffBaseMs':
    case 'backoffMaxMs':
      return checkInteger(field, value, 0, MAX_QUEUE_DELAY_MS);
    case 'backoffFactor':
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 1 || value > MAX_QUEUE_BACKOFF_FACTOR) {
        throw new InvalidArgumentError(`backoffFactor must be a number in [1, ${MAX_QUEUE_BACKOFF_FACTOR}], got ${String(value)}`);
      }
      return;
    case 'backoffJitter':
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value >= 1) {
        throw new InvalidArgumentError(`backoffJitter must be a number in [0, 1), got ${String(value)}`);
      }
      return;
    case 'ordering':
      return checkOneOf(field, value, ['none', 'key']);
    case 'delivery':
      return checkOneOf(field, value, ['at-least-once', 'at-most-once']);
    case 'start':
      return checkOneOf(field, value, ['earliest', 'latest']);
    case 'deadLetterTopicSuffix':
      if (typeof value !== 'string' || value.length === 0 || value.length > MAX_DEAD_LETTER_SUFFIX_LENGTH || !SUFFIX_PATTERN.test(value)) {
        throw new InvalidArgumentError(`deadLetterTopicSuffix must match [a-zA-Z0-9._-]{1,${MAX_DEAD_LETTER_SUFFIX_LENGTH}}, got ${JSON.stringify(value)}`);
      }
      return;
  }
}

function checkInteger(field: string, value: unknown, min: number, max: number): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(`${field} must be an integer in [${min}, ${max}], got ${String(value)}`);
  }
}

function checkOneOf(field: string, value: unknown, allowed: readonly string[]): void {
  if (typeof value !== 'string' || !allowed.includes(value)) {
    throw new InvalidArgumentError(`${field} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${JSON.stringify(value)}`);
  }
}
