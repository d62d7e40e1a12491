import { StrataClientError } from './client-error.js';
import { consumeRecordBatches, type ConsumedRecord } from './consume.js';
import type { TopicPartition } from './group-consumer-options.js';
import type { RecordBuffer } from './record-buffer.js';
import type { StrataClient } from './strata-client.js';

/** What a group member's fetchers need of the member. */
export interface GroupFetchersHost {
  readonly client: StrataClient;
  /** Where fetched records wait for the loop. */
  readonly buffer: RecordBuffer<ConsumedRecord>;
  /** Where a partition with no known offset starts: 'earliest' if true, else 'latest'. */
  readonly fromBeginning: boolean;
  /** The partitions the member reads now. */
  owned(): Iterable<TopicPartition>;
  /** Where reading of a partition resumes, if known (after the last record handed, or committed). */
  resumeOffset(topic: string, partition: number): number | undefined;
  /** What 'earliest' or 'latest' resolved to for a partition that had no known offset. */
  onStartResolved(topic: string, partition: number, offset: number): void;
  /** A partition's position was outside its log and starts again at `offset` (earliest or latest). */
  onOffsetReset(topic: string, partition: number, offset: number): void;
  /** A subscription failed on its own (not stopped). */
  onFailure(error: Error): void;
}

/** Resets of one subscription in a row, with no record read between them, before its OFFSET_OUT_OF_RANGE is the member's failure (retention racing the reset). */
const MAX_OFFSET_RESETS = 3;

/**
 * A group member's subscriptions: one per topic over the member's partitions of it, pushing decoded
 * batches into the member's buffer (a decoded batch at a time: one wait for room per batch).
 */
export class GroupFetchers {
  private readonly running = new Map<string, { controller: AbortController; partitionsKey: string }>();

  constructor(private readonly host: GroupFetchersHost) {}

  stop(shouldStop: (topic: string) => boolean): void {
    for (const [topic, fetcher] of [...this.running]) {
      if (!shouldStop(topic)) continue;
      fetcher.controller.abort();
      this.running.delete(topic);
    }
  }

  /**
   * One subscription per topic over its owned partitions, from where each resumes. A topic whose
   * partition set is unchanged keeps its running subscription unless `shouldRestartAll`; a restarted
   * topic's buffered records are dropped and read again, so nothing is skipped or handed out twice.
   */
  start(shouldRestartAll: boolean): void {
    const byTopic = new Map<string, number[]>();
    for (const { topic, partition } of this.host.owned()) byTopic.set(topic, [...(byTopic.get(topic) ?? []), partition]);
    this.stop((topic) => !byTopic.has(topic));
    for (const [topic, partitions] of byTopic) {
      partitions.sort((a, b) => a - b);
      const partitionsKey = partitions.join(',');
      const running = this.running.get(topic);
      if (running && running.partitionsKey === partitionsKey && !shouldRestartAll) continue;
      running?.controller.abort();
      this.host.buffer.drop((r) => r.topic === topic);
      const controller = new AbortController();
      this.running.set(topic, { controller, partitionsKey });
      const startOffsets: Record<number, number> = {};
      for (const p of partitions) {
        // A restarted fetcher resumes where its records stopped being handed out, not at a new 'latest'.
        const next = this.host.resumeOffset(topic, p);
        if (next !== undefined) startOffsets[p] = next;
      }
      void this.fetch(topic, partitions, startOffsets, controller);
    }
  }

  private async fetch(topic: string, partitions: number[], startOffsets: Record<number, number>, controller: AbortController): Promise<void> {
    const from = this.host.fromBeginning ? ('earliest' as const) : ('latest' as const);
    const onStartResolved = (partition: number, offset: number) => this.host.onStartResolved(topic, partition, offset);
    for (let resetsInARow = 0; ; ) {
      try {
        for await (const records of consumeRecordBatches(this.host.client, topic, { partitions, startOffsets, from, signal: controller.signal, onStartResolved })) {
          resetsInARow = 0;
          await this.host.buffer.pushAll(records, controller.signal);
          if (controller.signal.aborted) return;
        }
        return;
      } catch (error) {
        if (controller.signal.aborted) return;
        const isOutOfRange = error instanceof StrataClientError && error.code === 'OFFSET_OUT_OF_RANGE';
        if (!isOutOfRange || resetsInARow++ >= MAX_OFFSET_RESETS) {
          this.host.onFailure(error as Error);
          return;
        }
        try {
          // Buffered records of the topic are read again from where the loop is.
          this.host.buffer.drop((r) => r.topic === topic);
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
