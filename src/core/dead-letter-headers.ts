/**
 * Headers a dead-lettered record carries beside its own (key, value, headers and timestamp unchanged):
 * where it came from and why it gave up. Written by queue groups (queues/) and by the group
 * consumer's dead-letter policy (client/); read by `strata dlq` to inspect and redrive. Values are
 * UTF-8 text; numbers in decimal. The source coordinates identify a duplicate that a crash between
 * the dead-letter append and the source's archive can leave.
 */
export const DEAD_LETTER_HEADERS = Object.freeze({
  sourceTopic: 'strata.dlq.source-topic',
  sourcePartition: 'strata.dlq.source-partition',
  sourceOffset: 'strata.dlq.source-offset',
  /** The queue group or consumer group that gave up on it. */
  group: 'strata.dlq.group',
  /** Deliveries (queue groups) or attempts (group consumer) made. */
  attempts: 'strata.dlq.attempts',
  /** 'max-delivery-attempts', 'rejected' (a member said it will never work) or 'handler-failed'. */
  cause: 'strata.dlq.cause',
  /** The last error text a member gave, cut to MAX_QUEUE_REASON_BYTES. */
  error: 'strata.dlq.error',
  /** When it was dead-lettered, ms since the epoch. */
  deadLetteredAtMs: 'strata.dlq.dead-lettered-at-ms',
});

export type DeadLetterCause = 'max-delivery-attempts' | 'rejected' | 'handler-failed';
