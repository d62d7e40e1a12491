/**
 * The server-side assignor port (KIP-848): the group coordinator hands an assignor the members, their
 * subscriptions and their current target assignments, and gets the next target assignment back.
 *
 * An assignor is a pure function of its input's content: no clock, no randomness, no dependence on the
 * order of arrays or on Map insertion order, and no mutation of the input. The coordinator can then
 * recompute a target assignment during replay and get the same answer it got live.
 */

/** topic -> sorted partition numbers */
export type TopicPartitions = ReadonlyMap<string, readonly number[]>;

export interface AssignorMember {
  memberId: string;
  /** Static membership id, if any (KIP-345); used only as a stable tie-breaker, never for Map order. */
  instanceId?: string;
  /** Topics this member subscribes to. */
  topics: readonly string[];
  /** The member's current target assignment (what it was given last time), for stickiness. */
  previous: TopicPartitions;
}

export interface AssignorInput {
  members: readonly AssignorMember[];
  /** Partition count of every topic that exists; subscribed topics missing here are skipped. */
  partitionCounts: ReadonlyMap<string, number>;
}

/** memberId -> its assignment. Every member of the input has an entry (possibly empty). */
export type GroupAssignment = Map<string, Map<string, number[]>>;

export interface PartitionAssignor {
  readonly name: string;
  assign(input: AssignorInput): GroupAssignment;
}
