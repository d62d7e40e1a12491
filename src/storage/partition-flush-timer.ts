import type { Clock, TimerHandle } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { IntervalFlusher } from './interval-flusher.js';
import type { TopicConfig } from './topic-config.js';

/** Timer ticks a flush.ms fsync may stay pending before the partition logs a warning. */
const FLUSH_STALL_WARNING_TICKS = 10;

export interface PartitionFlushTimerOptions {
  clock: Clock;
  logger: Logger;
  /** The partition's configuration now (read at every tick: AlterTopicConfig may replace it). */
  config(): Readonly<TopicConfig>;
  /** Where the fsyncs wait their turn (one per LogManager: interval-flusher.ts says why). */
  intervalFlusher: IntervalFlusher;
  describe(): string;
  isClosing(): boolean;
  /** Whether the active segment holds bytes written but not fsynced. */
  hasUnsyncedWrites(): boolean;
  /** One fdatasync of what is written now (GroupCommit.syncWritten: never rejects). */
  syncWritten(): Promise<void>;
}

/**
 * A partition's `flush.ms` timer, under `flush: interval`: every flushMs it queues one fsync of what
 * was written, unless nothing is unsynced or its last one still waits (a tick it skips; ten in a
 * row are warned about: the disk is not keeping up). At most one fsync of the partition is queued.
 */
export class PartitionFlushTimer {
  private timer: TimerHandle | undefined;
  /** This partition's `flush.ms` fsync, from queued to done; at most one. */
  private intervalFlush: Promise<void> | undefined;
  /** The same fsync once it runs (close() waits for it, not for its turn in the queue). */
  private runningIntervalFlush: Promise<void> | undefined;
  /** Timer ticks that found the last flush still pending (a warning at FLUSH_STALL_WARNING_TICKS). */
  private skippedFlushTicks = 0;

  constructor(private readonly options: PartitionFlushTimerOptions) {}

  /** The fsync running now, if any: a clean close waits for it. */
  get running(): Promise<void> | undefined {
    return this.runningIntervalFlush;
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  /** After a change of flush or flush.ms: the next tick follows the new values (none unless `interval`). */
  reschedule(): void {
    this.stop();
    this.schedule();
  }

  /** Arms the next tick (nothing under another flush policy, or once the partition is closing). */
  schedule(): void {
    const { clock, logger, intervalFlusher } = this.options;
    const config = this.options.config();
    if (config.flushPolicy !== 'interval' || this.options.isClosing()) return;
    this.timer = clock.setTimeout(() => {
      this.schedule();
      // A flush still waiting for its turn (or its fsync) covers this tick too.
      if (this.intervalFlush) {
        // One data dir is one disk: a stuck fsync holds every partition's timer flush. Say so.
        if (++this.skippedFlushTicks === FLUSH_STALL_WARNING_TICKS) {
          logger.warn({ partition: this.options.describe(), waitedMs: this.skippedFlushTicks * config.flushMs, queuedFlushes: intervalFlusher.queued }, 'flush.ms fsync is late: the disk is not keeping up');
        }
        return;
      }
      if (!this.options.hasUnsyncedWrites()) return;
      this.intervalFlush = intervalFlusher
        .run(async () => {
          if (this.options.isClosing()) return;
          this.runningIntervalFlush = this.options.syncWritten();
          await this.runningIntervalFlush;
        })
        .catch((error: unknown) => logger.error({ err: error, partition: this.options.describe() }, 'flush.ms fsync failed'))
        .finally(() => {
          this.intervalFlush = undefined;
          this.runningIntervalFlush = undefined;
          this.skippedFlushTicks = 0;
        });
    }, config.flushMs);
  }
}
