import { InvalidArgumentError, StrataError } from '../core/errors.js';
import { MAX_HANDLER_ATTEMPTS, MAX_QUEUE_DELAY_MS } from '../core/limits.js';
import type { ConsumedRecord } from './consumed-record.js';
import { NonRetriableError } from './non-retriable-error.js';
import { OutcomeUnknownError, ServerUnreachableError } from './transport-errors.js';

/** Delays between attempts: `min(maxMs, baseMs * factor^(attempt-1))`, times a uniform factor in [1-jitter, 1+jitter]. */
export interface FailureBackoffOptions {
  /** The delay after the first failed attempt. Default 1000. */
  baseMs?: number;
  /** Each next delay is this many times the one before. Default 2. */
  factor?: number;
  /** No delay (before jitter) is longer. Default 300000 (5 minutes). */
  maxMs?: number;
  /** A share in [0, 1): each delay is spread by up to this much either way, so members do not retry in step. Default 0.2. */
  jitter?: number;
}

/**
 * A group consumer's failure policy for process() (Spring Kafka's DefaultErrorHandler with a
 * DeadLetterPublishingRecoverer): a handler that throws has its record tried again in place after a
 * backoff, at most `maxAttempts` times in all; then the record goes to the dead-letter topic, and
 * only once it is there does the committed offset move past it.
 */
export interface GroupFailurePolicyOptions {
  /** Handler calls for one record, the first included, before it is dead-lettered. Default 5; 1 dead-letters at the first throw. */
  maxAttempts?: number;
  backoff?: FailureBackoffOptions;
  /** The dead-letter topic of a source topic. Default `${topic}.dlq`. Created when missing, with the source's partition count. */
  deadLetterTopic?: (topic: string) => string;
  /** A uniform random number in [0, 1) for the jitter. Default Math.random (tests pass a seeded one). */
  random?: () => number;
}

/** What a handler gets beside its record. */
export interface HandlerContext {
  /** 1 on the first call for this record, then 2, 3, ... on its retries. */
  attempt: number;
  /**
   * Aborted when the record's result will not count any more: its partition is being revoked or
   * lost, or the consumer is closing. A handler that stops early then is fine: the record is not
   * committed, and whoever reads the partition next gets it again.
   */
  signal: AbortSignal;
}

/** process()'s handler: a throw fails this attempt; a NonRetriableError sends the record to the dead-letter topic at once. */
export type RecordHandler = (record: ConsumedRecord, context: HandlerContext) => void | Promise<void>;

/** The policy with its defaults filled in. */
export interface GroupFailurePolicy {
  maxAttempts: number;
  baseMs: number;
  factor: number;
  maxMs: number;
  jitter: number;
  deadLetterTopic: (topic: string) => string;
  random: () => number;
}

export const DEFAULT_FAILURE_POLICY: Readonly<Omit<GroupFailurePolicy, 'deadLetterTopic' | 'random'>> = Object.freeze({
  maxAttempts: 5,
  baseMs: 1_000,
  factor: 2,
  maxMs: 5 * 60_000,
  jitter: 0.2,
});

export const defaultDeadLetterTopic = (topic: string): string => `${topic}.dlq`;

/** The policy `options` describe, defaults filled in; INVALID_ARGUMENT for a value it cannot run with. */
export function resolveFailurePolicy(options: GroupFailurePolicyOptions): GroupFailurePolicy {
  const backoff = options.backoff ?? {};
  const policy: GroupFailurePolicy = {
    maxAttempts: options.maxAttempts ?? DEFAULT_FAILURE_POLICY.maxAttempts,
    baseMs: backoff.baseMs ?? DEFAULT_FAILURE_POLICY.baseMs,
    factor: backoff.factor ?? DEFAULT_FAILURE_POLICY.factor,
    maxMs: backoff.maxMs ?? Math.max(DEFAULT_FAILURE_POLICY.maxMs, backoff.baseMs ?? 0),
    jitter: backoff.jitter ?? DEFAULT_FAILURE_POLICY.jitter,
    deadLetterTopic: options.deadLetterTopic ?? defaultDeadLetterTopic,
    random: options.random ?? Math.random,
  };
  const { maxAttempts, baseMs, factor, maxMs, jitter } = policy;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1 || maxAttempts > MAX_HANDLER_ATTEMPTS) {
    throw new InvalidArgumentError(`onFailure.maxAttempts must be an integer in 1..${MAX_HANDLER_ATTEMPTS}, got ${maxAttempts}`);
  }
  if (!Number.isInteger(baseMs) || baseMs < 0 || !Number.isInteger(maxMs) || maxMs < baseMs || maxMs > MAX_QUEUE_DELAY_MS) {
    throw new InvalidArgumentError(`onFailure.backoff needs integers 0 <= baseMs <= maxMs <= ${MAX_QUEUE_DELAY_MS}, got baseMs ${baseMs}, maxMs ${maxMs}`);
  }
  if (!(factor >= 1) || !Number.isFinite(factor)) throw new InvalidArgumentError(`onFailure.backoff.factor must be a number >= 1, got ${factor}`);
  if (!(jitter >= 0 && jitter < 1)) throw new InvalidArgumentError(`onFailure.backoff.jitter must be in [0, 1), got ${jitter}`);
  if (typeof policy.deadLetterTopic !== 'function') throw new InvalidArgumentError('onFailure.deadLetterTopic must be a function of the source topic');
  return policy;
}

/** How long to wait after failed attempt `attempt` (1-based) before the next one. */
export function retryDelayMs(policy: GroupFailurePolicy, attempt: number): number {
  const exponential = Math.min(policy.maxMs, policy.baseMs * policy.factor ** (attempt - 1));
  const spread = policy.jitter === 0 ? 1 : 1 + policy.jitter * (2 * policy.random() - 1);
  return Math.max(0, Math.round(exponential * spread));
}

/**
 * The least wait before a failed dead-letter append is tried again: a handler's retries may be
 * immediate (baseMs 0), but an append failing against a server that is down fails at once, and
 * without a floor it would be tried again in a busy loop (a warning logged each time).
 */
export const MIN_DEAD_LETTER_RETRY_MS = 100;

/** How long to wait after the `failures`-th failed dead-letter append: the policy's backoff, at least MIN_DEAD_LETTER_RETRY_MS. */
export function deadLetterRetryDelayMs(policy: GroupFailurePolicy, failures: number): number {
  return Math.max(MIN_DEAD_LETTER_RETRY_MS, retryDelayMs(policy, failures));
}

/**
 * Whether a throw says the record will never work: a NonRetriableError, or an error named so (a copy
 * of the class from another copy of this package is not `instanceof` this one).
 */
export function isNonRetriable(error: unknown): boolean {
  return error instanceof NonRetriableError || (error instanceof Error && error.name === 'NonRetriableError');
}

/**
 * Whether a failed dead-letter append is tried again: a retriable failure, and also the producer's
 * SERVER_UNREACHABLE (the server gone past its delivery timeout) and OUTCOME_UNKNOWN (sent, never
 * answered), which are not retriable for a plain send but are for a dead letter, whose duplicate is
 * allowed and named by its source coordinates.
 */
export function isDeadLetterRetriable(error: unknown): boolean {
  return (error instanceof StrataError && error.retriable) || error instanceof ServerUnreachableError || error instanceof OutcomeUnknownError;
}
