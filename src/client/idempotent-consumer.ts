import { InvalidArgumentError } from '../core/errors.js';
import type { RecordHeader } from '../format/record.js';
import { NonRetriableError } from './non-retriable-error.js';

/** The header a record's message id travels in (the producer's `messageId` sets it; issue 16). */
export const MESSAGE_ID_HEADER = 'strata-message-id';
/** A message id is 1 to this many bytes of UTF-8, as the server takes it on a topic with a dedupe window. */
export const MAX_MESSAGE_ID_BYTES = 200;

/** What the helper reads of a record: a group consumer's ConsumedRecord and a queue's QueueMessage both have it. */
export interface RecordIdentity {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly headers: readonly RecordHeader[];
}

/**
 * Where processed keys are kept. One method, so that a store backed by the application's own
 * database can run the side effect and the mark in one transaction (the only way a crash between
 * the two cannot repeat the effect or lose the mark):
 *
 * ```
 * BEGIN; INSERT INTO processed(key) VALUES ($1) ON CONFLICT DO NOTHING   -- 0 rows: ROLLBACK, return false
 *        <the effect, through the same transaction>;  COMMIT; return true
 * ```
 *
 * `runOnce` resolves true when `effect` ran and `key` is now marked, false when `key` was marked
 * already (the effect did not run). When `effect` throws, nothing is marked and the throw comes back
 * out. An IdempotentConsumer makes at most one call per key at a time; calls from several processes
 * at once are the store's to make safe (a unique key inserted first in the transaction does: the
 * second insert waits for the first transaction and then finds the key).
 */
export interface ProcessedKeyStore<Tx = void> {
  runOnce(key: string, effect: (tx: Tx) => void | Promise<void>): Promise<boolean>;
}

export interface IdempotentConsumerOptions<Tx> {
  store: ProcessedKeyStore<Tx>;
  /** A record's key in the store. Default processedKeyOf: the message id per topic, else topic/partition/offset. */
  keyOf?: (record: RecordIdentity) => string;
  /** Told of each record skipped as processed already (a metric, a debug line). */
  onDuplicate?: (record: RecordIdentity, key: string) => void;
}

/**
 * Makes a consumer's handler idempotent: a record whose key the store has marked is skipped (its
 * handler not called, and the consumer commits or acks it as done); any other record's handler runs
 * with its mark, in one transaction where the store has them. Fits both consumers' process():
 * `consumer.process(idem.handler(async (record, tx, { signal }) => ...))`,
 * `queue.process(idem.handler(async (message, tx) => ...))`, and a for-await loop through
 * `await idem.run(record, async (tx) => ...)` before the loop asks for the next record (or acks).
 *
 * The key (processedKeyOf) is the record's message id when it has one, so a message its producer
 * sent twice (resent after a restart, landing at another offset, even another partition) is applied
 * once; without one, its topic/partition/offset, which is the same on every redelivery: the log is
 * append-only and an offset, once assigned, always names the same record, so a record read again
 * after a crash, a rebalance, an expired queue lock or an offsets reset carries the key it had.
 * (A topic deleted and created again starts its offsets over: the store's keys of the old topic must
 * go with it.)
 *
 * Concurrency: calls for one key are serialized here (a queue's process() with concurrency > 1 may
 * hold a record and its duplicate at once): the second waits for the first and then asks the store,
 * which says the key is marked, unless the first failed. The map of keys under way holds at most as
 * many entries as handlers run at once.
 */
export class IdempotentConsumer<Tx = void> {
  private readonly store: ProcessedKeyStore<Tx>;
  private readonly keyOf: (record: RecordIdentity) => string;
  private readonly onDuplicate: ((record: RecordIdentity, key: string) => void) | undefined;
  private readonly underWay = new Map<string, Promise<boolean>>();
  private ranCount = 0;
  private skippedCount = 0;

  constructor(options: IdempotentConsumerOptions<Tx>) {
    if (!options || typeof options.store?.runOnce !== 'function') throw new InvalidArgumentError('IdempotentConsumer needs a store with runOnce(key, effect)');
    this.store = options.store;
    this.keyOf = options.keyOf ?? processedKeyOf;
    this.onDuplicate = options.onDuplicate;
  }

  /** Records whose effect ran through this helper, and records skipped as processed already. */
  get counts(): { processed: number; duplicates: number } {
    return { processed: this.ranCount, duplicates: this.skippedCount };
  }

  /**
   * Runs `effect` for `record` unless its key is marked processed; resolves whether it ran. A throw
   * (the effect's, or a record whose message id header is malformed: NonRetriableError) comes back
   * out with nothing marked, so the consumer's failure handling (retry, release, dead letter) applies.
   */
  async run(record: RecordIdentity, effect: (tx: Tx) => void | Promise<void>): Promise<boolean> {
    const key = this.keyOf(record);
    for (let running = this.underWay.get(key); running; running = this.underWay.get(key)) await running.catch(() => undefined);
    // No await between the check above and this set: nothing else can start the key in between.
    const attempt = this.store.runOnce(key, effect);
    this.underWay.set(key, attempt);
    try {
      const hasRun = await attempt;
      if (hasRun) this.ranCount++;
      else {
        this.skippedCount++;
        this.onDuplicate?.(record, key);
      }
      return hasRun;
    } finally {
      if (this.underWay.get(key) === attempt) this.underWay.delete(key);
    }
  }

  /**
   * `handler` as a process() handler of either consumer: called with the record, the store's
   * transaction, and what the consumer passes beside the record (a group consumer's { attempt, signal }).
   */
  handler<R extends RecordIdentity, C extends unknown[]>(handler: (record: R, tx: Tx, ...context: C) => void | Promise<void>): (record: R, ...context: C) => Promise<void> {
    return async (record: R, ...context: C) => {
      await this.run(record, (tx) => handler(record, tx, ...context));
    };
  }
}

/**
 * The default key: `id:<topic>/<message id>` for a record with a message id, else
 * `offset:<topic>/<partition>/<offset>`. The id is scoped by topic, not partition (a resent keyless
 * message may land in another partition); the two prefixes keep an id from ever matching an offset key.
 */
export function processedKeyOf(record: RecordIdentity): string {
  const messageId = messageIdOf(record);
  return messageId === undefined ? `offset:${record.topic}/${record.partition}/${record.offset}` : `id:${record.topic}/${messageId}`;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The record's message id, or undefined when it has none. A header that breaks the rules the
 * server applies on a topic with a dedupe window (one header, 1..200 bytes of UTF-8) is a
 * NonRetriableError: the record can never be keyed, so the consumer dead-letters it.
 */
export function messageIdOf(record: RecordIdentity): string | undefined {
  let found: RecordHeader | undefined;
  for (const header of record.headers) {
    if (header.key !== MESSAGE_ID_HEADER) continue;
    if (found) throw invalidMessageId(record, 'it has more than one');
    found = header;
  }
  if (!found) return undefined;
  const { value } = found;
  if (value === null || value.length === 0 || value.length > MAX_MESSAGE_ID_BYTES) {
    throw invalidMessageId(record, `its value is ${value === null ? 'null' : `${value.length} bytes`}, not 1 to ${MAX_MESSAGE_ID_BYTES}`);
  }
  try {
    return utf8.decode(value);
  } catch {
    throw invalidMessageId(record, 'its value is not UTF-8');
  }
}

function invalidMessageId(record: RecordIdentity, why: string): NonRetriableError {
  const cause = new InvalidArgumentError(`record ${record.topic}/${record.partition}@${record.offset} has an invalid ${MESSAGE_ID_HEADER} header: ${why}`);
  return new NonRetriableError(cause.message, { cause });
}
