import type { DataLossError } from '../core/errors.js';
import type { QueueStateChange } from './queue-state-changes.js';

/**
 * Where queue groups keep their state durably: the internal topic `__queue_state`
 * (queue-state-store.ts over the storage engine), or an in-memory fake in tests.
 */
export interface QueueStateJournal {
  /**
   * Appends one group's changes (in order, one batch) and resolves once they are durable (fsynced;
   * concurrent appends share fsyncs); only then may the caller answer or deliver what they stand for.
   * The caller applies the changes in memory when it calls append (so that what it hands out next
   * counts them: a record is never handed out twice while its write runs). Rejects (a StrataError)
   * when the write fails: memory is then ahead of the log for that group, and the caller stops
   * serving the group until a restart rebuilds it from the log. Compaction relies on this order: a
   * snapshot counts every change appended before it was asked for, so the store writes those first.
   */
  append(groupId: string, changes: readonly QueueStateChange[]): Promise<void>;
  /**
   * Calls `apply` with every change recorded, in the order written within each group (at startup,
   * before any member joins). A partition of the state topic that is damaged does not fail the replay:
   * its groups' changes up to the damage are applied, and damageOf() names those groups after it.
   */
  replay(apply: (change: QueueStateChange) => void): Promise<{ replayed: number; skipped: number }>;
  /**
   * The DataLossError (DATA_LOSS) of a group whose partition of the state topic was found damaged at
   * replay: its state is unknown past the damage, so its appends are refused with this error and the
   * coordinator should refuse the group's joins and admin calls with it too. Undefined for the others.
   * Optional, so that in-memory fakes need not have it.
   */
  damageOf?(groupId: string): DataLossError | undefined;
  /**
   * Compaction asks for the changes that rebuild a group's whole current state (its config and a
   * snapshot per partition); it writes them and cuts what they make redundant. An empty list: the
   * group is gone, and its records go with the next cut. Set once, before use.
   */
  setSnapshotSource(snapshotOf: (groupId: string) => QueueStateChange[]): void;
  close(): Promise<void>;
}
