import type { Clock, TimerHandle } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { ConsumptionProgress, ConsumptionReader } from './consumption-progress.js';
import { PartitionLog } from './partition-log.js';
import type { PartitionSlot } from './topic-description.js';
import type { UnconsumedRemovals } from './unconsumed-removals.js';

export const DEFAULT_RETENTION_CHECK_INTERVAL_MS = 5 * 60 * 1000;

export interface RetentionRunnerOptions {
  clock: Clock;
  logger: Logger;
  retentionCheckIntervalMs: number;
  /** Every topic's partitions by name (the live map: each run walks it as it is then). */
  topics: ReadonlyMap<string, { readonly partitions: readonly PartitionSlot[] }>;
  /** How far groups have consumed each partition (always the current port). */
  consumption: ConsumptionProgress;
  unconsumedRemovals: UnconsumedRemovals;
  /** True once the log manager closes: no run is scheduled after that. */
  isClosing(): boolean;
}

/**
 * The log manager's retention: one run over every open partition, and the timer that repeats it
 * every retentionCheckIntervalMs (a run that fails is logged and the next one still comes). The
 * records a run removes before some group consumed them go to UnconsumedRemovals, whose warnings
 * are written at the end of each run. LogManager owns one; LogManager.runRetention is its run.
 */
export class RetentionRunner {
  private timer: TimerHandle | undefined;

  constructor(private readonly options: RetentionRunnerOptions) {}

  /** See LogManager.runRetention. */
  async run(): Promise<void> {
    const { clock, topics, consumption, unconsumedRemovals } = this.options;
    const nowMs = clock.nowMs();
    try {
      for (const [name, topic] of topics) {
        for (const slot of topic.partitions) {
          if (!(slot instanceof PartitionLog) || slot.isFailed) continue;
          // Asked once, and only when needed (after-ack, or something was deleted): it walks every group.
          let readers: readonly ConsumptionReader[] | undefined;
          const readersNow = () => (readers ??= consumption.readersOf(name, slot.partition));
          const { previousLogStartOffset, logStartOffset } = await slot.applyRetention(nowMs, readersNow);
          if (logStartOffset > previousLogStartOffset) unconsumedRemovals.record(name, slot.partition, readersNow(), previousLogStartOffset, logStartOffset, 'retention');
        }
      }
    } finally {
      unconsumedRemovals.logPending();
    }
  }

  /** Runs retention retentionCheckIntervalMs from now, and so on after each run, until the log manager closes. */
  schedule(): void {
    if (this.options.isClosing()) return;
    this.timer = this.options.clock.setTimeout(() => {
      this.run()
        .catch((error: unknown) => this.options.logger.error({ err: error }, 'retention run failed'))
        .finally(() => this.schedule());
    }, this.options.retentionCheckIntervalMs);
  }

  /** Stops the timer (a run under way finishes, and schedules nothing once isClosing says so). */
  cancel(): void {
    this.timer?.cancel();
  }
}
