import type { ConsumedRecord } from './consume.js';
import type { GroupConsumerOptions, TopicPartition } from './group-consumer-options.js';
import type { GroupFetchers } from './group-fetchers.js';
import type { GroupOffsetCommitter } from './group-offset-committer.js';
import { partitionKey as key, type MemberPartitions } from './member-partitions.js';
import type { RecordBuffer } from './record-buffer.js';

export interface AssignmentReconcilerOptions {
  consumerOptions: GroupConsumerOptions;
  partitions: MemberPartitions;
  committer: GroupOffsetCommitter;
  fetchers: GroupFetchers;
  buffer: RecordBuffer<ConsumedRecord>;
  isClosed: () => boolean;
  /** Bumped when the member lost every partition: work begun under an older one is stale. */
  generation: () => number;
  /** Whether the member has a member id now (its commits can be accepted). */
  isInGroup: () => boolean;
  /** Heartbeats now, to tell the coordinator what the member let go. */
  sendHeartbeat: () => void;
  /** process(): stops retrying revoked partitions and waits for their record under way, before their commit. */
  settleRevoked: (keys: ReadonlySet<string>) => Promise<void>;
  /** process(): every position is read again (an offsets reset): records waiting for a retry are let go. */
  forgetAll: () => void;
}

/**
 * Makes a group member follow the assignment its coordinator gives: revoked partitions first (stop
 * reading, commit, onRevoked), then new ones (committed offsets, onAssigned, start reading), and
 * after an offsets reset, reads every position again. The GroupConsumer runs one call at a time.
 */
export class AssignmentReconciler {
  constructor(private readonly options: AssignmentReconcilerOptions) {}

  /** Follows an assignment: revoked partitions first (stop, commit, hook), then new ones. */
  async reconcile(target: TopicPartition[], generation: number): Promise<void> {
    const { partitions, committer, fetchers, buffer, consumerOptions } = this.options;
    const isStale = () => this.options.isClosed() || generation !== this.options.generation();
    if (isStale()) return;
    const targetKeys = new Set(target.map((tp) => key(tp.topic, tp.partition)));
    const revoked = [...partitions.owned].filter(([k]) => !targetKeys.has(k)).map(([, tp]) => tp);
    const added = target.filter((tp) => !partitions.owned.has(key(tp.topic, tp.partition)));
    if (revoked.length === 0 && added.length === 0) return;
    if (revoked.length > 0) {
      const revokedKeys = new Set(revoked.map((tp) => key(tp.topic, tp.partition)));
      // Nothing more of these partitions is handed: a record handed during the commit below would be
      // counted after it and forgotten, and read again by the next owner.
      for (const k of revokedKeys) partitions.revoking.add(k);
      // Their fetchers stop now, not once the hooks below are done: what they read meanwhile would
      // wait in the buffer and be handed out should the partition come back, already read by another.
      fetchers.stop((topic, partition) => revokedKeys.has(key(topic, partition)));
      buffer.drop((r) => revokedKeys.has(key(r.topic, r.partition)));
      await this.options.settleRevoked(revokedKeys);
      // Commit what the loop has finished; the record it may still hold is not processed yet (its
      // next owner gets it again: at least once). Finished during that commit: once more.
      if (this.options.isInGroup()) {
        // A refused commit is not tried again (it would be refused again): it was reported.
        const isCommitted = await committer.commitProcessed('revocation');
        const movedOn = [...revokedKeys].some((k) => partitions.processed.has(k) && partitions.processed.get(k) !== partitions.committed.get(k));
        if (isCommitted && movedOn) await committer.commitProcessed('revocation');
      }
      // Lost meanwhile: loseAll let go of everything and called onLost.
      if (generation !== this.options.generation()) return;
      partitions.forget(revokedKeys);
      buffer.drop((r) => revokedKeys.has(key(r.topic, r.partition)));
      // The record (or batch) in hand of a revoked partition is not ours to count any more: were the
      // partition assigned back, its stale offset would move the commit backwards.
      partitions.dropInHand((k) => revokedKeys.has(k));
      await consumerOptions.onRevoked?.(revoked);
      if (isStale()) return;
      // Tell the coordinator at once, so the partitions can move without waiting for the interval.
      this.options.sendHeartbeat();
    }
    if (added.length > 0) {
      for (const tp of added) partitions.owned.set(key(tp.topic, tp.partition), tp);
      await committer.loadCommittedOffsets(added);
      if (isStale()) return;
      await consumerOptions.onAssigned?.(added);
      if (isStale()) return;
    }
    // Only newly owned partitions get a subscription: the others' go on untouched.
    fetchers.start(false);
  }

  /**
   * After an operator reset the group's offsets: forget positions and buffered records (the record in
   * the loop's hands is not committed either), read the committed offsets again, resume from them.
   */
  async reloadOffsets(): Promise<void> {
    const { partitions, fetchers, buffer } = this.options;
    if (this.options.isClosed()) return;
    this.options.forgetAll();
    fetchers.stop(() => true);
    buffer.drop(() => true);
    partitions.clearPositions();
    if (partitions.owned.size === 0) return;
    await this.options.committer.loadCommittedOffsets([...partitions.owned.values()]);
    fetchers.start(true);
  }
}
