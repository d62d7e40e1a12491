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
