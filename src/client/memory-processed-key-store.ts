import { assert } from '../core/assert.js';
import { InvalidArgumentError } from '../core/errors.js';
import type { ProcessedKeyStore } from './idempotent-consumer.js';

/**
 * Heap per key, measured (Node 20, 1,000,000 keys): 160 bytes for `offset:orders/5/5`, 550 for
 * `id:orders/<a UUID>`. So the default takes 16-55 MB and the maximum 0.8-2.8 GB.
 */
export const DEFAULT_MAX_PROCESSED_KEYS = 100_000;
export const MAX_PROCESSED_KEYS = 5_000_000;

export interface MemoryProcessedKeyStoreOptions {
  /** Keys kept; past it, the least recently used go first. Default 100,000; at most 5,000,000. */
  maxKeys?: number;
}

/**
 * Processed keys in this process's memory, at most `maxKeys`, the least recently used evicted
 * first (a key counts as used when it is marked and when a duplicate of it is skipped). It forgets
 * everything when the process ends, so it catches repeats within one process's life: a record read
 * again after a rebalance that gave its partition back, a queue record whose lock ran out while its
 * handler was still at work here, a message its producer sent twice. It cannot catch the repeat a
 * crash causes (the restarted process starts empty), and its mark is set after the effect, not with
 * it: for effectively-once across crashes, the keys go in the application's database, in the
 * transaction of the effect (README, "Delivery guarantees"). An evicted key's record would run again
 * if it came back: size it for the redeliveries expected (a queue's in-flight limit times its
 * delivery attempts, a producer's resend window).
 *
 * The set's insertion order is the recency order (a used key is deleted and added again).
 */
export class MemoryProcessedKeyStore implements ProcessedKeyStore<void> {
  readonly maxKeys: number;
  private readonly keys = new Set<string>();
  /**
   * The eviction cursor: one iterator kept for the store's life. A Set's iterator visits entries in
   * insertion order, including those added after it was made, and skips those deleted before it got
   * to them (ECMAScript's Set iteration rules), so its next value is always the least recently used
   * key. A fresh keys.values().next() per eviction would be as right but slow: V8 leaves deleted
   * entries in place until the table is rebuilt, and each fresh iterator steps over all of them
   * (measured: 14-68 CPU us per record past the bound, against 3-4 below it).
   */
  private readonly oldest: IterableIterator<string> = this.keys.values();

  constructor(options: MemoryProcessedKeyStoreOptions = {}) {
    const maxKeys = options.maxKeys ?? DEFAULT_MAX_PROCESSED_KEYS;
    if (!Number.isSafeInteger(maxKeys) || maxKeys < 1 || maxKeys > MAX_PROCESSED_KEYS) {
      throw new InvalidArgumentError(`maxKeys must be an integer in [1, ${MAX_PROCESSED_KEYS}], got ${maxKeys}`);
    }
    this.maxKeys = maxKeys;
  }

  get size(): number {
    return this.keys.size;
  }

  /** Whether `key` is marked (does not count as a use). */
  has(key: string): boolean {
    return this.keys.has(key);
  }

  /** The keys held, least recently used first (for inspection and tests). */
  keysByRecency(): string[] {
    return [...this.keys];
  }

  async runOnce(key: string, effect: () => void | Promise<void>): Promise<boolean> {
    if (this.keys.has(key)) {
      this.use(key);
      return false;
    }
    await effect();
    this.use(key);
    return true;
  }

  private use(key: string): void {
    this.keys.delete(key);
    this.keys.add(key);
    if (this.keys.size > this.maxKeys) {
      const oldest = this.oldest.next();
      assert(!oldest.done, 'the eviction cursor has the least recently used key while the store is over its bound');
      this.keys.delete(oldest.value);
    }
  }
}
