import type { QueueStateChange } from './queue-state-changes.js';

/**
 * Where queue groups keep their state durably: the internal topic `__queue_state`
 * (queue-state-store.ts over the storage engine), or an in-memory fake in tests.
 */
export interface QueueStateJournal {
  /**
   * Appends one group's changes (in order, one batch) and resolves once they are durable (fsynced;
   * concurrent appends share fsyncs). Only then may the caller apply them and answer. Rejects (a
   * StrataError) with nothing applied when the write fails.
   */
  append(groupId: string, changes: readonly QueueStateChange[]): Promise<void>;
  /**
   * Calls `apply` with every change recorded, in the order written within each group (at startup,
   * before any member joins). A partition of the state topic that is damaged fails with DataLossError.
   */
  replay(apply: (change: QueueStateChange) => void): Promise<{ replayed: number; skipped: number }>;
  /**
   * Compaction asks for the changes that rebuild a group's whole current state (its config and a
   * snapshot per partition); it writes them and cuts what they make redundant. Set once, before use.
   */
  setSnapshotSource(snapshotOf: (groupId: string) => QueueStateChange[]): void;
  close(): Promise<void>;
}
