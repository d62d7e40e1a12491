/**
 * Runs the `flush.ms` fsyncs of every partition one at a time, as Kafka's single log-flusher thread
 * does. Why: libuv has 4 threads for all file work; the timers of partitions created together fire
 * together, and 8 fdatasyncs of a second of appends each held all 4 threads for tens of ms, so every
 * write queued behind them: produce throughput collapsed for ~100 ms each second (measured in
 * bench/history/2026-11-30-sessions-1-6.md, "Session 5").
 * One at a time leaves threads for writes and reads; the disk's bandwidth, not the number of
 * concurrent fsyncs, bounds how fast the dirty data gets out either way.
 *
 * Bounded: each partition queues at most one flush (PartitionLog skips a tick while its last flush
 * waits), so the queue is never longer than the number of open partitions.
 */
export class IntervalFlusher {
  private tail: Promise<void> = Promise.resolve();
  private queuedCount = 0;

  /** Flushes waiting or running now. */
  get queued(): number {
    return this.queuedCount;
  }

  /** Runs `flush` after every flush queued before it; its failure is the caller's (returned). */
  run(flush: () => Promise<void>): Promise<void> {
    this.queuedCount++;
    const result = this.tail.then(flush).finally(() => {
      this.queuedCount--;
    });
    this.tail = result.catch(() => undefined);
    return result;
  }
}
