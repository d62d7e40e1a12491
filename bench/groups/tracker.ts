/** Why a partition is not being consumed. */
export const CONSUMED = 0;
export const REVOKING = 1;
export const OWNER_DOWN = 2;
export const UNASSIGNED = 3;
export const NOT_STARTED = 4;
export type GapKind = typeof OWNER_DOWN | typeof UNASSIGNED | typeof NOT_STARTED;
const STATE_NAMES = ['consumed', 'revoking', 'owner down', 'unassigned', 'assigned, not started'] as const;

export interface HolderView {
  /** Every member process that is running, with what it holds and what of that it has paused. */
  forEachLive(callback: (identity: string, owned: ReadonlySet<number>, paused: ReadonlySet<number>) => void): void;
  /** Why a partition that no running member holds is not consumed. */
  gapKindOf(partition: number): GapKind;
}

/**
 * Follows, partition by partition, who consumes it; integrates the time each partition spends not
 * consumed (by reason), and counts movements. Definitions (printed by the bench):
 * - consumed: a running member holds the partition and has not paused it (paused = being revoked);
 * - movement: a partition starts being consumed by a consumer other than the last one that consumed
 *   it; a consumer is a member id, or the instance id for a static member (a restarted static member
 *   taking its own partitions back is not a movement); a partition handed back to its last consumer
 *   after a pause is not a movement either;
 * - unconsumed partition-time: the integral over time of the number of partitions not consumed.
 */
export class Tracker {
  private readonly state: Uint8Array;
  private readonly consumer: Array<string | undefined>;
  private readonly lastConsumer: Array<string | undefined>;
  private readonly gapStartMs: Float64Array;
  private readonly nextConsumer: Array<string | undefined>;
  private readonly nextPaused: Uint8Array;
  private readonly counts = [0, 0, 0, 0, 0];
  private lastMs: number;
  private windowStartMs: number;
  /** partition-milliseconds per state, since reset() (index CONSUMED is not accumulated) */
  gapMs = [0, 0, 0, 0, 0];
  movements = 0;
  violations = 0;
  lastChangeMs = Number.NaN;
  lastFullyConsumedMs = Number.NaN;
  maxUnconsumed = 0;
  longestGapMs = 0;
  readonly pausedIdentities = new Set<string>();

  constructor(
    private readonly partitions: number,
    private readonly view: HolderView,
    startMs: number,
  ) {
    this.state = new Uint8Array(partitions).fill(UNASSIGNED);
    this.counts[UNASSIGNED] = partitions;
    this.consumer = new Array<string | undefined>(partitions).fill(undefined);
    this.lastConsumer = new Array<string | undefined>(partitions).fill(undefined);
    this.nextConsumer = new Array<string | undefined>(partitions).fill(undefined);
    this.nextPaused = new Uint8Array(partitions);
    this.gapStartMs = new Float64Array(partitions).fill(startMs);
    this.lastMs = startMs;
    this.windowStartMs = startMs;
  }

  get unconsumed(): number {
    return this.partitions - this.counts[CONSUMED]!;
  }

  /** Starts the measurement window: metrics restart from zero, ownership history is kept. */
  reset(nowMs: number): void {
    this.advanceTo(nowMs);
    this.windowStartMs = nowMs;
    this.gapMs = [0, 0, 0, 0, 0];
    this.movements = 0;
    this.violations = 0;
    this.lastChangeMs = Number.NaN;
    this.lastFullyConsumedMs = Number.NaN;
    this.maxUnconsumed = this.unconsumed;
    this.longestGapMs = 0;
    this.pausedIdentities.clear();
  }

  advanceTo(nowMs: number): void {
    const dt = nowMs - this.lastMs;
    if (dt <= 0) return;
    for (let s = 1; s < this.counts.length; s++) this.gapMs[s]! += this.counts[s]! * dt;
    this.lastMs = nowMs;
  }

  recompute(nowMs: number): void {
    this.advanceTo(nowMs);
    this.nextConsumer.fill(undefined);
    this.nextPaused.fill(0);
    this.view.forEachLive((identity, owned, paused) => {
      for (const p of owned) {
        if (paused.has(p)) {
          this.nextPaused[p] = 1;
          this.pausedIdentities.add(identity);
        } else {
          if (this.nextConsumer[p] !== undefined && this.nextConsumer[p] !== identity) this.violations++;
          this.nextConsumer[p] = identity;
        }
      }
    });
    const unconsumedBefore = this.unconsumed;
    let changed = false;
    for (let p = 0; p < this.partitions; p++) {
      const c = this.nextConsumer[p];
      const s = c !== undefined ? CONSUMED : this.nextPaused[p] === 1 ? REVOKING : this.view.gapKindOf(p);
      const previousState = this.state[p]!;
      if (s === previousState && c === this.consumer[p]) continue;
      changed = true;
      if (c !== undefined && c !== this.consumer[p]) {
        const last = this.lastConsumer[p];
        if (last !== undefined && last !== c) this.movements++;
        this.lastConsumer[p] = c;
      }
      if (previousState === CONSUMED && s !== CONSUMED) this.gapStartMs[p] = nowMs;
      if (previousState !== CONSUMED && s === CONSUMED) this.longestGapMs = Math.max(this.longestGapMs, nowMs - Math.max(this.gapStartMs[p]!, this.windowStartMs));
      this.counts[previousState]!--;
      this.counts[s]!++;
      this.state[p] = s;
      this.consumer[p] = c;
    }
    if (!changed) return;
    this.lastChangeMs = nowMs;
    const unconsumed = this.unconsumed;
    this.maxUnconsumed = Math.max(this.maxUnconsumed, unconsumed);
    if (unconsumed === 0 && unconsumedBefore > 0) this.lastFullyConsumedMs = nowMs;
  }

  /** Consumed partitions per consumer identity (for balance checks). */
  countsByConsumer(): Map<string, number> {
    const out = new Map<string, number>();
    for (const c of this.consumer) if (c !== undefined) out.set(c, (out.get(c) ?? 0) + 1);
    return out;
  }
}
