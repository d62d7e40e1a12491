import { AssertionError, assert } from '../core/assert.js';
import { DataLossError } from '../core/errors.js';
import { QUEUE_STATE_TOPIC } from '../core/internal-topics.js';
import type { Logger } from '../core/logger.js';
import { StateLog, type StateLogEntry } from '../storage/state-log.js';
import type { StateLogPort } from '../storage/state-log-port.js';
import { parseQueueStateChange } from './queue-state-change-parse.js';
import type { QueueStateChange } from './queue-state-changes.js';
import type { QueueStateJournal } from './queue-state-journal.js';

export { QUEUE_STATE_TOPIC };
export const QUEUE_STATE_PARTITIONS = 8;
export const QUEUE_STATE_SEGMENT_BYTES = 8 * 1024 * 1024;

export interface QueueStateStoreOptions {
  logger: Logger;
  /** Timestamps of the records written. */
  nowMs: () => number;
  /** Applies when the topic is created (tests use small segments to see compaction). */
  segmentBytes?: number;
}

/**
 * The queue groups' state changes, durable in `__queue_state` (QUEUE_STATE_PARTITIONS partitions,
 * the group id as the key, so one group's changes replay in the order written): a QueueStateJournal
 * over the shared state log (storage/state-log.ts), which gives group commit (concurrent appends
 * share an fsync), replay and compaction by snapshots.
 *
 * - Every change appended is checked against its shape first (an AssertionError: the caller's bug,
 *   nothing written), and every change replayed is parsed and checked the same way: records that are
 *   not changes of this shape, or whose key is not their group, are skipped, counted and logged once.
 * - The coordinator applies a change when it appends it (queue-state-journal.ts), so the state log
 *   runs in its `isAppliedOnAppend` mode: a snapshot counts the changes queued when it is taken, and
 *   they are written ahead of it.
 * - Compaction of a partition asks the coordinator's snapshot source for each group this store has
 *   seen there (in a change replayed or appended) and not seen deleted since: a 'delete' change (the
 *   last of its append) drops the group from what compaction keeps, so its records go with the next
 *   cut; a group whose snapshot comes back empty is dropped too (the coordinator no longer has it).
 * - A partition found damaged at replay: its groups' changes before the damage were applied, and
 *   `damageOf(groupId)` returns the DataLossError for those groups (their appends are refused with it);
 *   the other partitions' groups work.
 */
export class QueueStateStore implements QueueStateJournal {
  /** Per partition of the topic: the groups whose state compaction keeps. */
  private readonly liveGroups: Array<Set<string>>;
  /** Groups a replayed change of which did not follow from their state (see replay). */
  private readonly replayDamage = new Map<string, DataLossError>();

  private constructor(
    private readonly log: StateLog<QueueStateChange>,
    private readonly logger: Logger,
  ) {
    this.liveGroups = Array.from({ length: log.partitionCount }, () => new Set<string>());
  }

  /** Creates `__queue_state` if it is missing; call replay next. */
  static async open(logs: StateLogPort, options: QueueStateStoreOptions): Promise<QueueStateStore> {
    const log = await StateLog.open<QueueStateChange>(logs, {
      topic: QUEUE_STATE_TOPIC,
      partitionCount: QUEUE_STATE_PARTITIONS,
      segmentBytes: options.segmentBytes ?? QUEUE_STATE_SEGMENT_BYTES,
      parse: parseRecord,
      nowMs: options.nowMs,
      logger: options.logger,
      damageMeaning: 'the state of the queue groups this partition holds is unknown past the damage; their changes fail until an operator acts',
      isAppliedOnAppend: true,
    });
    return new QueueStateStore(log, options.logger);
  }

  async append(groupId: string, changes: readonly QueueStateChange[]): Promise<void> {
    for (const change of changes) checkChange(groupId, change);
    const damage = this.replayDamage.get(groupId);
    if (damage) throw damage;
    // Noted now, as the coordinator applies them now: a snapshot asked for while they are queued
    // counts them (and they are written ahead of it), a group's first changes included.
    this.noteGroups(this.log.partitionOf(groupId), changes);
    await this.log.append(groupId, changes);
  }

  async replay(apply: (change: QueueStateChange) => void): Promise<{ replayed: number; skipped: number }> {
    const { replayed, skipped } = await this.log.replay((change, partition) => {
      if (this.replayDamage.has(change.groupId)) return;
      this.noteGroups(partition, [change]);
      try {
        apply(change);
      } catch (error) {
        // A change its group's state does not allow (the state asserts it): a record of the group was
        // skipped (a batch whose CRC failed) or lost. That group's state is unknown, as in a damaged
        // partition: it is refused with DATA_LOSS, and the server starts for every other group.
        if (!(error instanceof AssertionError)) throw error;
        const damage = new DataLossError(QUEUE_STATE_TOPIC, partition, 0, 0, '(replay)', 0, `queue group '${change.groupId}': a ${change.type} change does not follow from the state replayed before it (${error.message})`);
        this.replayDamage.set(change.groupId, damage);
        this.logger.error({ err: damage, groupId: change.groupId, partition }, `DATA LOSS in ${QUEUE_STATE_TOPIC}: the state of queue group '${change.groupId}' is unknown; it is refused until an operator acts`);
      }
    });
    return { replayed, skipped };
  }

  damageOf(groupId: string): DataLossError | undefined {
    return this.replayDamage.get(groupId) ?? this.log.damageOf(this.log.partitionOf(groupId));
  }

  setSnapshotSource(snapshotOf: (groupId: string) => QueueStateChange[]): void {
    this.log.setSnapshotSource((partition) => {
      const entries: Array<StateLogEntry<QueueStateChange>> = [];
      const groups = this.liveGroups[partition]!;
      for (const groupId of [...groups]) {
        const changes = snapshotOf(groupId);
        for (const change of changes) checkChange(groupId, change);
        if (changes.length === 0) groups.delete(groupId);
        else entries.push({ key: groupId, values: changes });
      }
      return entries;
    });
  }

  close(): Promise<void> {
    return this.log.close();
  }

  private noteGroups(partition: number, changes: readonly QueueStateChange[]): void {
    const groups = this.liveGroups[partition]!;
    for (const change of changes) {
      if (change.type === 'delete') groups.delete(change.groupId);
      else groups.add(change.groupId);
    }
  }
}

/** A change about to be written must pass the check replay makes: else it is the caller's bug. */
function checkChange(groupId: string, change: QueueStateChange): void {
  assert(change.groupId === groupId, `a change of group '${change.groupId}' appended under group '${groupId}'`);
  const parsed = parseQueueStateChange(change);
  assert(typeof parsed !== 'string', `a ${change.type} change of group '${groupId}' that replay would skip: ${String(parsed)}`);
}

function parseRecord(text: string, key: string | null): QueueStateChange | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 'not JSON';
  }
  const change = parseQueueStateChange(value);
  if (typeof change === 'string') return change;
  if (key !== change.groupId) return `a change of group '${change.groupId.slice(0, 64)}' under key '${String(key).slice(0, 64)}'`;
  return change;
}
