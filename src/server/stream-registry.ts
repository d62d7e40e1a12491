/**
 * The open streams of the server, so that a shutdown can end them: grpc-js `tryShutdown()` waits for
 * every open stream to end by itself, which a subscription never does. Each stream registers how it
 * closes (a produce stream first lets its in-flight appends finish); `closeAll` runs every one of
 * them and waits, up to a bound, for them to finish.
 */
export class StreamRegistry {
  private readonly closers = new Map<number, () => Promise<void>>();
  private nextId = 0;
  private isClosing = false;

  get openStreamCount(): number {
    return this.closers.size;
  }

  /** Returns the function that unregisters the stream when it ends on its own. */
  register(close: () => Promise<void>): () => void {
    const id = this.nextId++;
    if (this.isClosing) {
      // Later, not now: the caller has not stored the unregister function its closer may call yet.
      queueMicrotask(() => void close().catch(() => undefined));
      return () => undefined;
    }
    this.closers.set(id, close);
    return () => void this.closers.delete(id);
  }

  async closeAll(timeoutMs: number): Promise<void> {
    this.isClosing = true;
    const closing = [...this.closers.values()].map((close) => close().catch(() => undefined));
    this.closers.clear();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
    await Promise.race([Promise.all(closing), timeout]);
    clearTimeout(timer);
  }
}
