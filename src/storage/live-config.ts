import type { Segment } from './segment.js';
import type { TopicConfig } from './topic-config.js';

/** Told a partition's new configuration and the one before it (see PartitionLog.applyConfig). */
export type ConfigListener = (config: Readonly<TopicConfig>, previous: Readonly<TopicConfig>) => void;

/**
 * One partition's topic configuration, which AlterTopicConfig replaces while the partition runs, and
 * where readers' view of the log ends under it.
 *
 * The configuration is replaced whole, never edited in place: code reads `current` each time it
 * needs a value, so the next use sees the change; state derived from a key subscribes (onChange).
 *
 * Visibility: under flush=always readers see durable records only, under the other policies
 * written ones. A switch to `always` would move the high watermark back from the written end to the
 * durable end, and a reader waiting past it would wait for a notification that never comes (the
 * partition notifies only advances). So a switch records the written end as a floor: what readers
 * already saw stays visible, records written after the switch become visible once durable, and the
 * floor is dropped once the fsync the switch asks for covers it. Segments before the active one were
 * fsynced when they rolled, so the floor only ever concerns the segment active at the switch.
 */
export class LiveConfig {
  private config: TopicConfig;
  private readonly listeners = new Set<ConfigListener>();
  private visibleFloor: { segment: Segment; offset: number; position: number } | undefined;

  constructor(config: TopicConfig) {
    this.config = config;
  }

  get current(): Readonly<TopicConfig> {
    return this.config;
  }

  /**
   * Replaces the configuration; `active` is the partition's active segment now. Says whether the
   * flush timer must be re-armed and whether the partition switched to flush=always (it must then
   * ask for an fsync of what is written). Listeners are told by notify(), once the partition acted.
   */
  replace(config: TopicConfig, active: Segment): { previous: TopicConfig; isFlushTimerChanged: boolean; isNowAlways: boolean } {
    const previous = this.config;
    const isNowAlways = config.flushPolicy === 'always' && previous.flushPolicy !== 'always';
    if (isNowAlways) this.visibleFloor = { segment: active, offset: active.nextOffset, position: active.sizeBytes };
    if (config.flushPolicy !== 'always') this.visibleFloor = undefined;
    this.config = config;
    return { previous, isFlushTimerChanged: config.flushPolicy !== previous.flushPolicy || config.flushMs !== previous.flushMs, isNowAlways };
  }

  /**
   * Tells every listener. One that throws is reported to `onError` and the others are told all the
   * same: the change is committed (topic.json) by now, and every partition must take it.
   */
  notify(previous: TopicConfig, onError: (error: unknown) => void): void {
    for (const listener of this.listeners) {
      try {
        listener(this.config, previous);
      } catch (error) {
        onError(error);
      }
    }
  }

  /** Calls `listener` after each change; returns an unsubscribe function. */
  onChange(listener: ConfigListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** One past the last offset readers may see (exclusive). */
  highWatermark(active: Segment): number {
    if (this.config.flushPolicy !== 'always') return active.nextOffset;
    if (this.visibleFloor && active.durableNextOffset >= this.visibleFloor.offset) this.visibleFloor = undefined;
    return Math.max(active.durableNextOffset, this.visibleFloor?.offset ?? 0);
  }

  /** Where readers' view of `segment` ends: its written end, or under flush=always its durable end (or the floor). */
  endPosition(segment: Segment, active: Segment): number {
    if (segment !== active || this.config.flushPolicy !== 'always') return segment.sizeBytes;
    const floor = this.visibleFloor;
    return floor?.segment === segment ? Math.max(segment.durableSizeBytes, floor.position) : segment.durableSizeBytes;
  }
}
