import type { DataLossError } from '../../src/core/errors.js';
import type { QueueStateChange } from '../../src/queues/queue-state-changes.js';
import type { QueueStateJournal } from '../../src/queues/queue-state-journal.js';

/**
 * An in-memory QueueStateJournal: every append is kept (through JSON, as the real store writes it, so
 * a value JSON cannot carry shows up), replay hands them back in order. `failWith` makes appends fail;
 * `compact()` replaces each group's changes by what the snapshot source gives, as compaction does.
 */
export class FakeQueueJournal implements QueueStateJournal {
  readonly changes: QueueStateChange[] = [];
  appendCount = 0;
  failWith: Error | undefined;
  /** Groups whose part of the state topic replay found damaged. */
  readonly damaged = new Map<string, DataLossError>();
  private snapshotOf: ((groupId: string) => QueueStateChange[]) | undefined;

  async append(_groupId: string, changes: readonly QueueStateChange[]): Promise<void> {
    this.appendCount++;
    const copies = changes.map((c) => JSON.parse(JSON.stringify(c)) as QueueStateChange);
    await Promise.resolve();
    if (this.failWith) throw this.failWith;
    this.changes.push(...copies);
  }

  async replay(apply: (change: QueueStateChange) => void): Promise<{ replayed: number; skipped: number }> {
    for (const change of this.changes) apply(JSON.parse(JSON.stringify(change)) as QueueStateChange);
    return { replayed: this.changes.length, skipped: 0 };
  }

  damageOf(groupId: string): DataLossError | undefined {
    return this.damaged.get(groupId);
  }

  setSnapshotSource(snapshotOf: (groupId: string) => QueueStateChange[]): void {
    this.snapshotOf = snapshotOf;
  }

  /** Every group's changes so far replaced by its snapshot (config + a snapshot per partition). */
  compact(): void {
    if (!this.snapshotOf) throw new Error('no snapshot source set');
    const groupIds = [...new Set(this.changes.map((c) => c.groupId))];
    const compacted = groupIds.flatMap((groupId) => this.snapshotOf!(groupId));
    this.changes.splice(0, this.changes.length, ...compacted.map((c) => JSON.parse(JSON.stringify(c)) as QueueStateChange));
  }

  async close(): Promise<void> {}
}
