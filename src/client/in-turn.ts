/**
 * Runs async steps one after another, in call order: what a hand-written async iterator needs so
 * that next() and return() calls made before earlier ones settled keep their order (an async
 * generator queues them itself). `isIdle` lets a synchronous fast path skip the queue when nothing
 * is waiting in it.
 */
export class InTurn {
  private queue: Promise<unknown> = Promise.resolve();
  private queued = 0;

  get isIdle(): boolean {
    return this.queued === 0;
  }

  run<T>(step: () => Promise<T>): Promise<T> {
    this.queued++;
    const result = this.queue.then(step);
    this.queue = result.then(
      () => this.queued--,
      () => this.queued--,
    );
    return result;
  }
}
