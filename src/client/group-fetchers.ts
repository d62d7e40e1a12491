import { OffsetOutOfRangeError } from '../core/errors.js';
import { MAX_OFFSET_RESETS } from '../core/limits.js';
import { consumeRecordBatches, type ConsumedRecord } from './consume.js';
import type { TopicPartition } from './group-consumer-options.js';
import type { RecordBuffer } from './record-buffer.js';
import type { ClientChannel } from './client-channel.js';

/** What a group member's fetchers need of the member. */
export interface GroupFetchersHost {
  readonly client: ClientChannel;
  /** Where fetched records wait for the loop. */
  readonly buffer: RecordBuffer<ConsumedRecord>;
  /** Where a partition with no known offset starts: 'earliest' if true, else 'latest'. */
  readonly fromBeginning: boolean;
  /** Most bytes of one Subscribe response (of one partition; at least one batch). Undefined: the server's default. */
  readonly maxBytes?: number | undefined;
  /** The partitions the member reads now. */
  owned(): Iterable<TopicPartition>;
  /** Where reading of a partition resumes, if known (after the last record handed, or committed). */
  resumeOffset(topic: string, partition: number): number | undefined;
  /** What 'earliest' or 'latest' resolved to for a partition that had no known offset. */
  onStartResolved(topic: string, partition: number, offset: number): void;
  /** A partition's position was outside its log and starts again at `offset` (earliest or latest). */
  onOffsetReset(topic: string, partition: number, offset: number): void;
  /** A subscription reported a throttle time (rate quota). */
  onThrottled?(topic: string, partition: number, throttleTimeMs: number): void;
  /** A subscription failed on its own (not stopped). */
  onFailure(error: Error): void;
}

/** The buffer lane of a partition: records are handed out round robin across lanes. */
export function laneKey(topic: string, partition: number): string {
  return `${partition}\u0000${topic}`;
}

/**
 * A group member's subscriptions: one per owned partition, each pushing decoded batches into the
 * member's buffer, in the partition's own lane (a decoded batch at a time: one wait for room per
 * batch). One stream per partition rather than per topic, so that a partition with a backlog waits
 * for room on its own stream: on a shared one, its responses would stand in front of the others'.
 */
export class GroupFetchers {
  private readonly running = new Map<string, { topic: string; partition: number; controller: AbortController }>();

  constructor(private readonly host: GroupFetchersHost) {}

  stop(shouldStop: (topic: string, partition: number) => boolean): void {
    for (const [key, fetcher] of [...this.running]) {
      if (!shouldStop(fetcher.topic, fetcher.partition)) continue;
      fetcher.controller.abort();
      this.running.delete(key);
    }
  }

  /**
   * One subscription per owned partition, from where it resumes. A partition still owned keeps its
   * running subscription unless `shouldRestartAll`; a restarted partition's buffered records are
   * dropped and read again, so nothing is skipped or handed out twice.
   */
  start(shouldRestartAll: boolean): void {
    const owned = new Map<string, { topic: string; partition: number }>();
    for (const { topic, partition } of this.host.owned()) owned.set(laneKey(topic, partition), { topic, partition });
    this.stop((topic, partition) => !owned.has(laneKey(topic, partition)));
    for (const [key, { topic, partition }] of owned) {
      const running = this.running.get(key);
      if (running && !shouldRestartAll) continue;
      running?.controller.abort();
      this.host.buffer.drop((r) => r.partition === partition && r.topic === topic);
      const controller = new AbortController();
      this.running.set(key, { topic, partition, controller });
      const startOffsets: Record<number, number> = {};
      // A restarted fetcher resumes where its records stopped being handed out, not at a new 'latest'.
      const next = this.host.resumeOffset(topic, partition);
      if (next !== undefined) startOffsets[partition] = next;
      void this.fetch(topic, partition, startOffsets, controller);
    }
  }

  private async fetch(topic: string, partition: number, startOffsets: Record<number, number>, controller: AbortController): Promise<void> {
    const from = this.host.fromBeginning ? ('earliest' as const) : ('latest' as const);
    const onStartResolved = (p: number, offset: number) => this.host.onStartResolved(topic, p, offset);
    const onThrottled = (throttleTimeMs: number, p: number) => this.host.onThrottled?.(topic, p, throttleTimeMs);
    const lane = laneKey(topic, partition);
    const partitions = [partition];
    const maxBytes = this.host.maxBytes;
    for (let resetsInARow = 0; ; ) {
      try {
        for await (const records of consumeRecordBatches(this.host.client, topic, { partitions, startOffsets, from, signal: controller.signal, onStartResolved, onThrottled, ...(maxBytes ? { maxBytes } : {}) })) {
          resetsInARow = 0;
          await this.host.buffer.pushAll(records, controller.signal, lane);
          if (controller.signal.aborted) return;
        }
        return;
      } catch (error) {
        if (controller.signal.aborted) return;
        const isOutOfRange = error instanceof OffsetOutOfRangeError;
        if (!isOutOfRange || resetsInARow++ >= MAX_OFFSET_RESETS) {
          this.host.onFailure(error as Error);
          return;
        }
        try {
          // Buffered records of the partition are read again from where the loop is.
          this.host.buffer.drop((r) => r.partition === partition && r.topic === topic);
          startOffsets = await this.resetOutOfRange(topic, partitions, controller.signal);
          if (controller.signal.aborted) return;
        } catch (resetError) {
          if (!controller.signal.aborted) this.host.onFailure(resetError as Error);
          return;
        }
      }
    }
  }

  /**
   * Kafka's auto.offset.reset for a position outside the log (retention deleted what it pointed to,
   * or the topic was deleted and created again): such a partition starts again at its earliest
   * offset (fromBeginning) or its latest; the others resume where they are.
   */
  private async resetOutOfRange(topic: string, partitions: number[], signal: AbortSignal): Promise<Record<number, number>> {
    const admin = this.host.client.admin;
    const [earliest, latest] = await Promise.all([admin.listOffsets(topic, 'earliest', partitions), admin.listOffsets(topic, 'latest', partitions)]);
    const startOffsets: Record<number, number> = {};
    // Stopped meanwhile (a rebalance or an operator's reset restarted the fetchers): their positions win.
    if (signal.aborted) return startOffsets;
    for (const partition of partitions) {
      const next = this.host.resumeOffset(topic, partition);
      if (next === undefined) continue;
      const low = earliest.find((o) => o.partition === partition)?.offset ?? 0;
      const high = latest.find((o) => o.partition === partition)?.offset ?? 0;
      if (next >= low && next <= high) {
        startOffsets[partition] = next;
        continue;
      }
      const reset = this.host.fromBeginning ? low : high;
      this.host.onOffsetReset(topic, partition, reset);
      startOffsets[partition] = reset;
    }
    return startOffsets;
  }
}
