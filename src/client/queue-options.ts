import { InvalidArgumentError } from '../core/errors.js';
import { MAX_QUEUE_ANSWERS_PER_REQUEST, MAX_QUEUE_IN_FLIGHT_PER_MEMBER, QUEUE_DEFAULT_IN_FLIGHT } from '../core/limits.js';
import type { QueueGroupConfig, QueueGroupConfig__Output } from '../generated/strata/v1/QueueGroupConfig.js';

/**
 * A queue group's configuration as the client names it (proto QueueGroupConfig). Every duration in
 * ms. The server's defaults: lock 30 s, 5 delivery attempts, backoff 1 s * 2^(deliveries-1) up to
 * 5 min with 20 % jitter, unordered, at-least-once, dead letters in `<topic>.dlq`, new groups start
 * at the earliest offset.
 */
export interface QueueGroupConfigValues {
  lockDurationMs: number;
  maxDeliveryAttempts: number;
  backoffBaseMs: number;
  backoffFactor: number;
  backoffMaxMs: number;
  /** A fraction in [0, 1): 0 gives exact delays (optional on the wire, so a 0 sent is set: see toProtoConfig). */
  backoffJitter: number;
  ordering: 'none' | 'key';
  delivery: 'at-least-once' | 'at-most-once';
  deadLetterTopicSuffix: string;
  start: 'earliest' | 'latest';
}

export type QueueGroupConfigOptions = Partial<QueueGroupConfigValues>;

export interface QueueOptions {
  groupId: string;
  topics: string[];
  /** The most unanswered records this member holds at once (and buffers): 1..10,000. Default 100. */
  inFlightLimit?: number;
  /**
   * Applies when this join creates the group; a join whose values differ from an existing group's is
   * refused (INVALID_ARGUMENT): change a group with admin.alterQueueGroupConfig.
   */
  config?: QueueGroupConfigOptions;
  /** A name for operators (describe shows it). */
  clientId?: string;
  /** Aborting it closes the queue (as close() does). */
  signal?: AbortSignal;
  /** Answers wait this long for others to share their request. Default 2. */
  answerLingerMs?: number;
  /** A request goes out at once with this many answers, or half of inFlightLimit (8 at least) if that is fewer. Default 500 (the server takes 1,000 at most). */
  maxAnswersPerRequest?: number;
  /** Reconnects after the server became unavailable, in a row, before the iterator fails. Default 10. */
  maxReconnectAttempts?: number;
  /** How long close() waits for the server to end the stream before cancelling it. Default 30,000. */
  closeTimeoutMs?: number;
}

export interface ResolvedQueueOptions extends Required<Omit<QueueOptions, 'config' | 'clientId' | 'signal'>> {
  config: QueueGroupConfigOptions;
  clientId: string;
  signal: AbortSignal | undefined;
}

const UINT32_MAX = 0xffff_ffff;
const CONFIG_KEYS: ReadonlyArray<keyof QueueGroupConfigValues> = [
  'lockDurationMs',
  'maxDeliveryAttempts',
  'backoffBaseMs',
  'backoffFactor',
  'backoffMaxMs',
  'backoffJitter',
  'ordering',
  'delivery',
  'deadLetterTopicSuffix',
  'start',
];

function positiveInteger(name: string, value: number | undefined, max = UINT32_MAX, min = 1): void {
  if (value === undefined) return;
  if (!Number.isSafeInteger(value) || value < min || value > max) throw new InvalidArgumentError(`${name} must be an integer in [${min}, ${max}], got ${value}`);
}

/** Checks a partial configuration's types and ranges (the server checks the rest: cross-field rules, its limits). */
export function checkQueueConfig(config: QueueGroupConfigOptions): void {
  for (const key of Object.keys(config)) {
    if (!(CONFIG_KEYS as readonly string[]).includes(key)) throw new InvalidArgumentError(`unknown queue group config '${key}' (known: ${CONFIG_KEYS.join(', ')})`);
  }
  positiveInteger('lockDurationMs', config.lockDurationMs);
  positiveInteger('maxDeliveryAttempts', config.maxDeliveryAttempts);
  positiveInteger('backoffBaseMs', config.backoffBaseMs, UINT32_MAX, 0);
  positiveInteger('backoffMaxMs', config.backoffMaxMs);
  if (config.backoffFactor !== undefined && !(Number.isFinite(config.backoffFactor) && config.backoffFactor >= 1)) {
    throw new InvalidArgumentError(`backoffFactor must be a number >= 1, got ${config.backoffFactor}`);
  }
  if (config.backoffJitter !== undefined && !(config.backoffJitter >= 0 && config.backoffJitter < 1)) {
    throw new InvalidArgumentError(`backoffJitter must be in [0, 1), got ${config.backoffJitter}`);
  }
  if (config.ordering !== undefined && config.ordering !== 'none' && config.ordering !== 'key') throw new InvalidArgumentError(`ordering must be 'none' or 'key', got '${String(config.ordering)}'`);
  if (config.delivery !== undefined && config.delivery !== 'at-least-once' && config.delivery !== 'at-most-once') {
    throw new InvalidArgumentError(`delivery must be 'at-least-once' or 'at-most-once', got '${String(config.delivery)}'`);
  }
  if (config.deadLetterTopicSuffix !== undefined && (typeof config.deadLetterTopicSuffix !== 'string' || config.deadLetterTopicSuffix === '')) {
    throw new InvalidArgumentError('deadLetterTopicSuffix must be a non-empty string');
  }
  if (config.start !== undefined && config.start !== 'earliest' && config.start !== 'latest') throw new InvalidArgumentError(`start must be 'earliest' or 'latest', got '${String(config.start)}'`);
}

/** The wire form: a field left out is 0 / unspecified, which the server reads as "the group's value". */
export function toProtoConfig(config: QueueGroupConfigOptions): QueueGroupConfig {
  return {
    lockDurationMs: config.lockDurationMs ?? 0,
    maxDeliveryAttempts: config.maxDeliveryAttempts ?? 0,
    // Optional on the wire: left out keeps the group's value, a 0 sent is 0 (retry at once, exact delays).
    ...(config.backoffBaseMs !== undefined ? { backoffBaseMs: config.backoffBaseMs } : {}),
    backoffFactor: config.backoffFactor ?? 0,
    backoffMaxMs: config.backoffMaxMs ?? 0,
    ...(config.backoffJitter !== undefined ? { backoffJitter: config.backoffJitter } : {}),
    ordering: config.ordering === undefined ? 'QUEUE_ORDERING_UNSPECIFIED' : config.ordering === 'key' ? 'QUEUE_ORDERING_KEY' : 'QUEUE_ORDERING_NONE',
    delivery:
      config.delivery === undefined ? 'QUEUE_DELIVERY_GUARANTEE_UNSPECIFIED' : config.delivery === 'at-most-once' ? 'QUEUE_DELIVERY_GUARANTEE_AT_MOST_ONCE' : 'QUEUE_DELIVERY_GUARANTEE_AT_LEAST_ONCE',
    deadLetterTopicSuffix: config.deadLetterTopicSuffix ?? '',
    start: config.start === undefined ? 'START_POINT_UNSPECIFIED' : config.start === 'latest' ? 'START_POINT_LATEST' : 'START_POINT_EARLIEST',
  };
}

/** A configuration the server sent (in force, so every field set) in the client's names. */
export function fromProtoConfig(config: QueueGroupConfig__Output | null | undefined): QueueGroupConfigValues | undefined {
  if (!config) return undefined;
  return {
    lockDurationMs: config.lockDurationMs,
    maxDeliveryAttempts: config.maxDeliveryAttempts,
    // Optional fields: a server sends them set; absent reads as 0, their proto3 default.
    backoffBaseMs: config.backoffBaseMs ?? 0,
    backoffFactor: config.backoffFactor,
    backoffMaxMs: config.backoffMaxMs,
    backoffJitter: config.backoffJitter ?? 0,
    ordering: config.ordering === 'QUEUE_ORDERING_KEY' ? 'key' : 'none',
    delivery: config.delivery === 'QUEUE_DELIVERY_GUARANTEE_AT_MOST_ONCE' ? 'at-most-once' : 'at-least-once',
    deadLetterTopicSuffix: config.deadLetterTopicSuffix,
    start: config.start === 'START_POINT_LATEST' ? 'latest' : 'earliest',
  };
}

/** Options checked once, defaults filled in. */
export function resolveQueueOptions(options: QueueOptions): ResolvedQueueOptions {
  if (typeof options.groupId !== 'string' || options.groupId === '') throw new InvalidArgumentError('groupId must be a non-empty string');
  if (!Array.isArray(options.topics) || options.topics.length === 0 || options.topics.some((t) => typeof t !== 'string' || t === '')) {
    throw new InvalidArgumentError('topics must be a non-empty array of topic names');
  }
  const inFlightLimit = options.inFlightLimit ?? QUEUE_DEFAULT_IN_FLIGHT;
  positiveInteger('inFlightLimit', inFlightLimit, MAX_QUEUE_IN_FLIGHT_PER_MEMBER);
  const answerLingerMs = options.answerLingerMs ?? 2;
  if (!Number.isFinite(answerLingerMs) || answerLingerMs < 0) throw new InvalidArgumentError(`answerLingerMs must be >= 0, got ${answerLingerMs}`);
  const maxAnswersPerRequest = options.maxAnswersPerRequest ?? 500;
  positiveInteger('maxAnswersPerRequest', maxAnswersPerRequest, MAX_QUEUE_ANSWERS_PER_REQUEST);
  const maxReconnectAttempts = options.maxReconnectAttempts ?? 10;
  if (!Number.isSafeInteger(maxReconnectAttempts) || maxReconnectAttempts < 0) throw new InvalidArgumentError(`maxReconnectAttempts must be an integer >= 0, got ${maxReconnectAttempts}`);
  const closeTimeoutMs = options.closeTimeoutMs ?? 30_000;
  positiveInteger('closeTimeoutMs', closeTimeoutMs);
  const config = options.config ?? {};
  checkQueueConfig(config);
  return {
    groupId: options.groupId,
    topics: [...options.topics],
    inFlightLimit,
    config,
    clientId: options.clientId ?? '',
    signal: options.signal,
    answerLingerMs,
    maxAnswersPerRequest,
    maxReconnectAttempts,
    closeTimeoutMs,
  };
}
