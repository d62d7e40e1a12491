import type { QueueGroupConfig } from './queue-group-config.js';

/**
 * A change of a queue group's state, as written to the internal topic `__queue_state` (JSON in the
 * value, the group id as the key, so one group's changes stay in one partition, in order) and as
 * applied in memory: the server applies a change only after it is durable, and startup replays the
 * same changes through the same code, so memory and log never disagree.
 *
 * Per group, topic and partition the state is a start offset (everything below it is done:
 * acknowledged or dead-lettered) and a bounded window of tracked records above it. Records of the
 * window not named by any change are available (delivery count 0). `atMs` is the server's clock.
 */
export type QueueStateChange =
  /** The group was created or its configuration altered: the whole configuration in force. */
  | { type: 'config'; groupId: string; config: QueueGroupConfig; atMs: number }
  /**
   * Records handed to `memberId`: each one's delivery count goes up by one and it is locked until
   * `lockDeadlineMs`. Written before the delivery is sent, so a restart neither hands them out again
   * before the lock ends nor forgets a delivery (a poison record that crashes its members still
   * reaches the dead-letter topic).
   */
  | { type: 'acquire'; groupId: string; topic: string; partition: number; offsets: number[]; memberId: string; lockDeadlineMs: number; atMs: number }
  /** Locks extended by the member that holds them. */
  | { type: 'extend'; groupId: string; topic: string; partition: number; offsets: number[]; lockDeadlineMs: number; atMs: number }
  /**
   * Done: acknowledged by its member, or handed out under at-most-once. The start offset moves up
   * over every done record at its bottom.
   */
  | { type: 'ack'; groupId: string; topic: string; partition: number; offsets: number[]; atMs: number }
  /**
   * Available again, each not before its `eligibleAtMs` (same length as `offsets`): released by its
   * member, its lock expired, or its member left or lost its stream. `reason` is the last error text
   * a member gave (kept for the dead-letter headers).
   */
  | { type: 'release'; groupId: string; topic: string; partition: number; offsets: number[]; eligibleAtMs: number[]; reason?: string; atMs: number }
  /**
   * Dead-lettered: appended (durably) to the dead-letter topic, then done here. Written only after
   * the dead-letter append, so a crash between the two leaves a duplicate there, never a loss.
   */
  | { type: 'archive'; groupId: string; topic: string; partition: number; offsets: number[]; cause: 'max-delivery-attempts' | 'rejected'; atMs: number }
  /**
   * The whole state of one partition, written when the state topic is compacted: it replaces
   * everything before it for that group, topic and partition. `records` are the tracked records that
   * are not available with delivery count 0: [offset, state, deliveryCount, deadlineMs, memberId, lastError],
   * where deadlineMs is the lock deadline of an acquired record and the eligible time of an available one.
   */
  | {
      type: 'snapshot';
      groupId: string;
      topic: string;
      partition: number;
      startOffset: number;
      records: Array<[offset: number, state: 'available' | 'acquired' | 'done', deliveryCount: number, deadlineMs: number, memberId: string, lastError: string]>;
      counters: { deadLettered: number; redeliveries: number };
      atMs: number;
    }
  /** An operator moved the start offset: the window above it is dropped and tracked anew. */
  | { type: 'reset'; groupId: string; topic: string; partition: number; startOffset: number; atMs: number }
  /** The group is forgotten with all its state. */
  | { type: 'delete'; groupId: string; atMs: number }
  /** The topic was deleted: every group forgets its state of that topic. */
  | { type: 'forget-topic'; groupId: string; topic: string; atMs: number };
