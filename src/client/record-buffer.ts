/**
 * A bounded FIFO between the fetching side and a consumer's loop: push waits when it is full (so
 * fetching slows to the loop's pace), take waits when it is empty. `drop` removes queued items that
 * no longer belong to the consumer (its partitions were revoked).
 */
export class RecordBuffer<T> {
  private items: T[] = [];
  private takers: Array<(item: T | undefined) => void> = [];
  private pushers: Array<() => void> = [];
  private isClosed = false;

  constructor(private readonly capacity: number) {}

  get size(): number {
    return this.items.length;
  }

  get hasWaitingTaker(): boolean {
    return this.takers.length > 0;
  }

  push(item: T, signal?: AbortSignal): Promise<void> {
    return this.pushAll([item], signal);
  }

  /**
   * Adds `items` in order, as many as there is room for at a time, waiting for room for the rest: one
   * wait per chunk of room rather than per item, and the capacity holds. A pusher woken for room
   * always gets some (pushers wake only when half the room is free), so fetchers of large and small
   * batches take turns and neither holds the other back.
   */
  async pushAll(items: readonly T[], signal?: AbortSignal): Promise<void> {
    let next = 0;
    while (next < items.length) {
      await this.waitForRoom(signal);
      if (this.isClosed || signal?.aborted) return;
      while (next < items.length && this.takers.length > 0) this.takers.shift()!(items[next++]);
      const end = Math.min(items.length, next + (this.capacity - this.items.length));
      for (; next < end; next++) this.items.push(items[next]!);
    }
  }

  /** The next item if one is here now (no promise), else undefined. */
  tryTake(): T | undefined {
    if (this.items.length === 0) return undefined;
    const item = this.items.shift()!;
    if (this.items.length <= this.capacity / 2) this.wakePushers();
    return item;
  }

  /** The next item, or undefined once closed and empty. */
  take(): Promise<T | undefined> {
    const item = this.items.shift();
    if (item !== undefined) {
      // Pushers wake once half the room is free, not one per item taken: a full buffer would
      // otherwise make every push wait (an abort listener added and removed per record).
      if (this.items.length <= this.capacity / 2) this.wakePushers();
      return Promise.resolve(item);
    }
    if (this.isClosed) return Promise.resolve(undefined);
    return new Promise((resolve) => this.takers.push(resolve));
  }

  /** Up to `count` items that are already here, without waiting. */
  takeAvailable(count: number): T[] {
    const taken = this.items.splice(0, Math.max(0, count));
    if (this.items.length <= this.capacity / 2) this.wakePushers();
    return taken;
  }

  drop(predicate: (item: T) => boolean): void {
    this.items = this.items.filter((item) => !predicate(item));
    if (this.items.length < this.capacity) this.wakePushers();
  }

  /** Returns once there is room, the buffer is closed, or `signal` aborted. */
  private async waitForRoom(signal: AbortSignal | undefined): Promise<void> {
    while (!this.isClosed && this.items.length >= this.capacity && !signal?.aborted) {
      await new Promise<void>((resolve) => {
        const done = () => {
          signal?.removeEventListener('abort', done);
          resolve();
        };
        this.pushers.push(done);
        signal?.addEventListener('abort', done, { once: true });
      });
    }
  }

  /** Every waiting pusher re-checks the room (each waits again if it is gone). */
  private wakePushers(): void {
    for (const wake of this.pushers.splice(0)) wake();
  }

  close(): void {
    this.isClosed = true;
    for (const taker of this.takers.splice(0)) taker(undefined);
    for (const pusher of this.pushers.splice(0)) pusher();
  }
}
