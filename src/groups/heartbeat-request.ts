/** The member epoch of a join: the coordinator gives the member an id and its first epoch. */
export const JOIN_EPOCH = 0;
/** The member epoch of a leave: its partitions move at once. */
export const LEAVE_EPOCH = -1;
/** The member epoch of a static member stepping away: it keeps its partitions until its session ends. */
export const STATIC_LEAVE_EPOCH = -2;

/** A member's heartbeat, as the GroupCoordinator takes it (the GroupService converts the proto's). */
export interface HeartbeatRequest {
  groupId: string;
  memberId: string;
  instanceId?: string | undefined;
  memberEpoch: number;
  topics: readonly string[];
  owned: ReadonlyArray<{ topic: string; partitions: readonly number[] }>;
  idleMs: number;
  /** Who joins (the call's authenticated principal): a join counts against its max_groups. Read on joins only. */
  principal?: string | undefined;
}

/** The coordinator's answer to a heartbeat, also pushed when a member's assignment changes. */
export interface HeartbeatResponse {
  memberId: string;
  memberEpoch: number;
  heartbeatIntervalMs: number;
  assignment: Array<{ topic: string; partitions: number[] }>;
  offsetsEpoch: number;
}
