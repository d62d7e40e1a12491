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
  /** A subscription failed on its own (not stopped). */
  onFailure(error: Error): void;
}

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
    try {
      const from = this.host.fromBeginning ? ('earliest' as const) : ('latest' as const);
      const onStartResolved = (partition: number, offset: number) => this.host.onStartResolved(topic, partition, offset);
      for await (const records of consumeRecordBatches(this.host.client, topic, { partitions, startOffsets, from, signal: controller.signal, onStartResolved })) {
        await this.host.buffer.pushAll(records, controller.signal);
        if (controller.signal.aborted) return;
      }
    } catch (error) {
      if (controller.signal.aborted) return;
      this.host.onFailure(error as Error);
    }
  }
}
