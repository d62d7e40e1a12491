import { type Clock, setRepeating, type TimerHandle } from '../../../core/clock.js';

/** What the sampler reads: client topics with the sum of their partitions' high watermarks now. */
export interface TopicEndOffsetsSource {
  topicEndOffsets(): Array<{ topic: string; endOffsetSum: number }>;
}

export interface ThroughputPoint {
  /** Wall time of the later sample, ms since the epoch. */
  atMs: number;
  /** Records appended per second between the two samples (the end offsets' growth over the time between). */
  recordsPerSecond: number;
}

/** One topic's last samples, oldest overwritten first. */
class SampleRing {
  private readonly atMs: Float64Array;
  private readonly endOffsetSums: Float64Array;
  private next = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    this.atMs = new Float64Array(capacity);
    this.endOffsetSums = new Float64Array(capacity);
  }

  push(atMs: number, endOffsetSum: number): void {
    this.atMs[this.next] = atMs;
    this.endOffsetSums[this.next] = endOffsetSum;
    this.next = (this.next + 1) % this.capacity;
    this.count = Math.min(this.count + 1, this.capacity);
  }

  /** Rates between consecutive samples, oldest first (one fewer than the samples). */
  rates(): ThroughputPoint[] {
    const points: ThroughputPoint[] = [];
    const first = (this.next - this.count + this.capacity) % this.capacity;
    for (let i = 1; i < this.count; i++) {
      const previous = (first + i - 1) % this.capacity;
      const current = (first + i) % this.capacity;
      const elapsedMs = this.atMs[current]! - this.atMs[previous]!;
      // A topic deleted and created again between samples starts lower: no negative rates.
      const records = Math.max(0, this.endOffsetSums[current]! - this.endOffsetSums[previous]!);
      points.push({ atMs: this.atMs[current]!, recordsPerSecond: elapsedMs > 0 ? (records * 1000) / elapsedMs : 0 });
    }
    return points;
  }
}

/**
 * The console's throughput series, kept by the server so that a page opened now shows the last
 * minutes at once: every `intervalMs` it samples each topic's end offsets (summed over partitions)
 * into a ring of `capacity` samples per topic. Bounded: at most `maxTopics` rings of fixed size;
 * a topic that is gone at a sample loses its ring. Sampling reads in-memory offsets only (no I/O).
 */
export class ThroughputSampler {
  private readonly rings = new Map<string, SampleRing>();
  private timer: TimerHandle | undefined;

  constructor(
    private readonly source: TopicEndOffsetsSource,
    private readonly clock: Clock,
    readonly options: { intervalMs: number; capacity: number; maxTopics: number },
  ) {}

  start(): void {
    this.sample();
    this.timer ??= setRepeating(this.clock, () => this.sample(), this.options.intervalMs);
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  sample(): void {
    const nowMs = this.clock.nowMs();
    const topics = this.source.topicEndOffsets();
    // Rings of topics gone go first, so that their places serve topics created since.
    const present = new Set(topics.map((t) => t.topic));
    for (const topic of this.rings.keys()) if (!present.has(topic)) this.rings.delete(topic);
    for (const { topic, endOffsetSum } of topics) {
      let ring = this.rings.get(topic);
      if (!ring) {
        if (this.rings.size >= this.options.maxTopics) continue;
        this.rings.set(topic, (ring = new SampleRing(this.options.capacity)));
      }
      ring.push(nowMs, endOffsetSum);
    }
  }

  /** The topic's rates, oldest first; empty for a topic not sampled twice yet. */
  series(topic: string): ThroughputPoint[] {
    return this.rings.get(topic)?.rates() ?? [];
  }
}
