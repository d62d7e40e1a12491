/** Resolves when `register`'s wake function is called or `signal` aborts (the listener is removed either way). */
export function wakeOrAbort(register: (wake: () => void) => void, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      signal.removeEventListener('abort', done);
      resolve();
    };
    signal.addEventListener('abort', done, { once: true });
    register(done);
  });
}

/**
 * Bytes one subscription may hold in server memory at once, across its partitions: reserved for reads
 * in progress, or written to the stream and not yet flushed to HTTP/2. A read reserves before it starts
 * and waits while the budget is spent, so a client that stops reading holds at most about the limit,
 * however many partitions it subscribed to. When nothing is held, one read may always go (a single
 * batch can be larger than the limit).
 */
export class ByteBudget {
  private heldBytes = 0;
  private readonly waiters = new Set<() => void>();

  constructor(readonly limitBytes: number) {}

  get usedBytes(): number {
    return this.heldBytes;
  }

  /** Holds `bytes` once they fit; false if `signal` aborted first (nothing held then). */
  async acquire(bytes: number, signal: AbortSignal): Promise<boolean> {
    while (this.heldBytes > 0 && this.heldBytes + bytes > this.limitBytes) {
      if (signal.aborted) return false;
      await wakeOrAbort((wake) => this.waiters.add(wake), signal);
    }
    if (signal.aborted) return false;
    this.heldBytes += bytes;
    return true;
  }

  /** Turns a hold of `fromBytes` into one of `toBytes` (a read that came back smaller or larger). */
  resize(fromBytes: number, toBytes: number): void {
    this.heldBytes += toBytes - fromBytes;
    if (toBytes < fromBytes) this.wakeAll();
  }

  release(bytes: number): void {
    this.heldBytes -= bytes;
    this.wakeAll();
  }

  private wakeAll(): void {
    // Every waiter checks again; those that still do not fit wait again.
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const wake of waiters) wake();
  }
}
