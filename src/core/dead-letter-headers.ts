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

/** The default dead-letter topic suffix (queue groups' and the group consumer's): topics named so count as dead-letter topics. */
export const DEFAULT_DEAD_LETTER_SUFFIX = '.dlq';
/** Every dead-letter header starts so; a redrive drops them. */
export const DEAD_LETTER_HEADER_PREFIX = 'strata.dlq.';

/** What the strata.dlq.* headers of a dead letter say (fields missing when the header is). */
export interface DeadLetterInfo {
  sourceTopic?: string;
  sourcePartition?: number;
  sourceOffset?: number;
  group?: string;
  attempts?: number;
  cause?: string;
  error?: string;
  deadLetteredAtMs?: number;
}

/** Reads a dead letter's headers (`strata dlq inspect` and the console both show them). */
export function deadLetterInfo(headers: ReadonlyArray<{ key: string; value: Buffer | null }>): DeadLetterInfo {
  const text = (name: string) => {
    const found = headers.find((h) => h.key === name);
    return found?.value ? found.value.toString('utf8') : undefined;
  };
  const integer = (name: string) => {
    const value = Number(text(name) ?? NaN);
    return Number.isSafeInteger(value) ? value : undefined;
  };
  const fields: Array<[keyof DeadLetterInfo, string | number | undefined]> = [
    ['sourceTopic', text(DEAD_LETTER_HEADERS.sourceTopic)],
    ['sourcePartition', integer(DEAD_LETTER_HEADERS.sourcePartition)],
    ['sourceOffset', integer(DEAD_LETTER_HEADERS.sourceOffset)],
    ['group', text(DEAD_LETTER_HEADERS.group)],
    ['attempts', integer(DEAD_LETTER_HEADERS.attempts)],
    ['cause', text(DEAD_LETTER_HEADERS.cause)],
    ['error', text(DEAD_LETTER_HEADERS.error)],
    ['deadLetteredAtMs', integer(DEAD_LETTER_HEADERS.deadLetteredAtMs)],
  ];
  return Object.fromEntries(fields.filter(([, v]) => v !== undefined)) as DeadLetterInfo;
}
