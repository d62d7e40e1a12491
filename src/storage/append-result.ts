// What a partition promised for an append: separate from PartitionLog so that its writer (GroupCommit) needs no import back.
/** `written`: in the log file (page cache); `durable`: fdatasync'ed. */
export type AckLevel = 'written' | 'durable';

export interface AppendResult {
  /** Offset of the first record appended (inclusive). */
  baseOffset: number;
  /** Offset of the last record appended (inclusive). */
  lastOffset: number;
  /** What the acknowledgement promises: see TopicConfig's flush policies. */
  durability: AckLevel;
}
