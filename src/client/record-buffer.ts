/** Items of one lane (a partition) waiting for the loop; `head` is the next to take. */
interface Lane<T> {
  readonly key: string;
  items: T[];
  head: number;
}

/** The least room a lane has however many lanes share the buffer: a decoded batch's worth of progress. */
const MIN_LANE_ITEMS = 64;

/**
 * A bounded buffer between the fetching side and a consumer's loop: push waits when there is no room
 * (so fetching slows to the loop's pace), take waits when it is empty. `drop` removes queued items
 * that no longer belong to the consumer (its partitions were revoked).
 *
 * Fairness: items are pushed into lanes (one per partition) and taken round robin, at most
 * `sliceItems` from a lane before the next lane's turn, so a partition with a backlog never holds
 * back the others. Room is shared too: a lane may hold the capacity divided among the lanes that
 * hold items (at least MIN_LANE_ITEMS), so a backlog cannot fill the buffer and keep a fetcher of
 * another partition waiting. No lane holds more than the capacity (or MIN_LANE_ITEMS); one holds
 * more than its share only from before other lanes arrived, and takes nothing more until below it.
 * With one lane (the default) it is a plain FIFO of `capacity` items.
 *
 * Pausing: a paused lane leaves the round (its items are not taken, nor handed to a waiting taker)
 * but keeps its room and its share, so its fetcher fills it up to its share and then waits, while
 * the other lanes go on; resumed, it joins the round last. A group member's failure policy pauses
 * the partition whose record waits for a retry.
 */
export class RecordBuffer<T> {
  /** Lanes holding items, in round-robin order; a lane is removed when it empties. */
  private ring: Array<Lane<T>> = [];
  private cursor = 0;
  private takenInSlice = 0;
  private count = 0;
  private takers: Array<(item: T | undefined) => void> = [];
  private pushers: Array<{ laneKey: string; wake: () => void }> = [];
  private isClosed = false;
  private readonly sliceItems: number;
  /** Paused lanes by key, out of the ring, with the items they hold (an empty lane while none). */
  private readonly paused = new Map<string, Lane<T>>();

  constructor(
    private readonly capacity: number,
    options: { sliceItems?: number } = {},
  ) {
    this.sliceItems = options.sliceItems ?? Number.POSITIVE_INFINITY;
  }

  get size(): number {
    return this.count;
  }

  get hasWaitingTaker(): boolean {
    return this.takers.length > 0;
  }

  push(item: T, signal?: AbortSignal, laneKey = ''): Promise<void> {
    return this.pushAll([item], signal, laneKey);
  }

  /**
   * Adds `items` to lane `laneKey` in order, as many as there is room for at a time, waiting for room
   * for the rest: one wait per chunk of room rather than per item. A pusher is woken when its lane
   * is down to half its room (or shares grew), so it always gets some.
   */
  async pushAll(items: readonly T[], signal?: AbortSignal, laneKey = ''): Promise<void> {
    let next = 0;
    while (next < items.length) {
      await this.waitForRoom(laneKey, signal);
      if (this.isClosed || signal?.aborted) return;
      const pausedLane = this.paused.get(laneKey);
      if (!pausedLane) while (next < items.length && this.takers.length > 0) this.takers.shift()!(items[next++]);
      if (next >= items.length) return;
      const lane = pausedLane ?? this.laneFor(laneKey);
      // A paused lane that held nothing is one more to share with, as a new lane in the ring is.
      const laneCount = this.laneCount() + (pausedLane && pausedLane.items.length === pausedLane.head ? 1 : 0);
      const end = Math.min(items.length, next + Math.max(0, this.share(laneCount) - (lane.items.length - lane.head)));
      if (!pausedLane) this.count += end - next;
      for (; next < end; next++) lane.items.push(items[next]!);
    }
  }

  /** The next item if one is here now (no promise), else undefined. */
  tryTake(): T | undefined {
    if (this.count === 0) return undefined;
    if (this.takenInSlice >= this.sliceItems) {
      this.cursor = (this.cursor + 1) % this.ring.length;
      this.takenInSlice = 0;
    }
    const lane = this.ring[this.cursor]!;
    const item = lane.items[lane.head]!;
    lane.items[lane.head++] = undefined as T;
    this.count--;
    this.takenInSlice++;
    const left = lane.items.length - lane.head;
    if (left === 0) {
      this.removeLaneAt(this.cursor);
      // Shares grew: every waiting pusher may have room now.
      this.wakePushers(undefined);
    } else {
      if (lane.head >= 1_024 && lane.head * 2 >= lane.items.length) {
        lane.items = lane.items.slice(lane.head);
        lane.head = 0;
      }
      // Pushers wake once half the lane's room is free, not one per item taken.
      if (left <= this.share(this.laneCount()) / 2) this.wakePushers(lane.key);
    }
    return item;
  }

  /** The next item, or undefined once closed and empty. */
  take(): Promise<T | undefined> {
    if (this.count > 0) return Promise.resolve(this.tryTake());
    if (this.isClosed) return Promise.resolve(undefined);
    return new Promise((resolve) => this.takers.push(resolve));
  }

  /** Up to `count` items that are already here, without waiting (in the same round-robin order). */
  takeAvailable(count: number): T[] {
    const taken: T[] = [];
    while (taken.length < count && this.count > 0) taken.push(this.tryTake()!);
    return taken;
  }

  /** Lane `laneKey` is skipped by takes until resumeLane (see the class). */
  pauseLane(laneKey: string): void {
    if (this.paused.has(laneKey)) return;
    const index = this.ring.findIndex((l) => l.key === laneKey);
    if (index < 0) {
      this.paused.set(laneKey, { key: laneKey, items: [], head: 0 });
      return;
    }
    const lane = this.ring[index]!;
    this.count -= lane.items.length - lane.head;
    this.ring.splice(index, 1);
    if (index < this.cursor) this.cursor--;
    else if (index === this.cursor) {
      if (this.cursor >= this.ring.length) this.cursor = 0;
      this.takenInSlice = 0;
    }
    this.paused.set(laneKey, lane);
  }

  /** Lane `laneKey` is taken from again, last in the round; its items go to waiting takers first. */
  resumeLane(laneKey: string): void {
    const lane = this.paused.get(laneKey);
    if (!lane) return;
    this.paused.delete(laneKey);
    const held = lane.items.length - lane.head;
    if (held === 0) return;
    this.ring.splice(this.ring.length === 0 ? 0 : this.cursor, 0, lane);
    if (this.ring.length > 1) this.cursor++;
    this.count += held;
    while (this.takers.length > 0 && this.count > 0) this.takers.shift()!(this.tryTake());
  }

  drop(predicate: (item: T) => boolean): void {
    for (const lane of this.paused.values()) {
      lane.items = lane.items.slice(lane.head).filter((item) => !predicate(item));
      lane.head = 0;
    }
    const current = this.ring[this.cursor];
    for (const lane of this.ring) lane.items = lane.items.slice(lane.head).filter((item) => !predicate(item));
    for (const lane of this.ring) lane.head = 0;
    this.ring = this.ring.filter((lane) => lane.items.length > 0);
    const index = current ? this.ring.indexOf(current) : -1;
    if (index >= 0) this.cursor = index;
    else {
      this.cursor = 0;
      this.takenInSlice = 0;
    }
    this.recount();
    this.wakePushers(undefined);
  }

  close(): void {
    this.isClosed = true;
    for (const taker of this.takers.splice(0)) taker(undefined);
    for (const pusher of this.pushers.splice(0)) pusher.wake();
  }

  /** Lanes holding items, paused ones included: they share the room. */
  private laneCount(): number {
    if (this.paused.size === 0) return this.ring.length;
    let count = this.ring.length;
    for (const lane of this.paused.values()) if (lane.items.length > lane.head) count++;
    return count;
  }

  /** Room of one lane when `laneCount` lanes hold items: the capacity shared among them. */
  private share(laneCount: number): number {
    return Math.max(Math.min(MIN_LANE_ITEMS, this.capacity), Math.ceil(this.capacity / Math.max(1, laneCount)));
  }

  private laneFor(key: string): Lane<T> {
    let lane = this.ring.find((l) => l.key === key);
    if (!lane) {
      lane = { key, items: [], head: 0 };
      // A new lane takes its turn after the current one: it goes last in the round.
      this.ring.splice(this.ring.length === 0 ? 0 : this.cursor, 0, lane);
      if (this.ring.length > 1) this.cursor++;
    }
    return lane;
  }

  private removeLaneAt(index: number): void {
    this.ring.splice(index, 1);
    // The lane after it moved into its place and starts a slice of its own.
    if (this.cursor >= this.ring.length) this.cursor = 0;
    this.takenInSlice = 0;
  }

  private recount(): void {
    let count = 0;
    for (const lane of this.ring) count += lane.items.length - lane.head;
    this.count = count;
  }

  /** Returns once lane `laneKey` has room, the buffer is closed, or `signal` aborted. */
  private async waitForRoom(laneKey: string, signal: AbortSignal | undefined): Promise<void> {
    for (;;) {
      if (this.isClosed || signal?.aborted) return;
      const lane = this.paused.get(laneKey) ?? this.ring.find((l) => l.key === laneKey);
      const held = lane ? lane.items.length - lane.head : 0;
      // A lane holding nothing yet would be one more to share with.
      const share = this.share(this.laneCount() + (held > 0 ? 0 : 1));
      if (held < share) return;
      await new Promise<void>((resolve) => {
        const done = () => {
          signal?.removeEventListener('abort', done);
          resolve();
        };
        this.pushers.push({ laneKey, wake: done });
        signal?.addEventListener('abort', done, { once: true });
      });
    }
  }

  /** Waiting pushers of lane `laneKey` (every one if undefined) re-check their room. */
  private wakePushers(laneKey: string | undefined): void {
    if (this.pushers.length === 0) return;
    const woken = laneKey === undefined ? this.pushers : this.pushers.filter((p) => p.laneKey === laneKey);
    this.pushers = laneKey === undefined ? [] : this.pushers.filter((p) => p.laneKey !== laneKey);
    for (const pusher of woken) pusher.wake();
  }
}
