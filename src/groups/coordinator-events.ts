import type { HeartbeatResponse } from './heartbeat-request.js';

/** Why a member left the group, for logs and tests. */
export type RemovalReason = 'left' | 'session-timeout' | 'stream-lost' | 'processing-timeout' | 'revocation-timeout' | 'replaced';

/** What the GroupCoordinator tells its server (and tests) of, outside a heartbeat's own answer. */
export interface CoordinatorEvents {
  /** A member's assignment changed outside its own heartbeat: push it the new response. */
  onAssignmentChanged?(groupId: string, response: HeartbeatResponse): void;
  onMemberRemoved?(groupId: string, memberId: string, reason: RemovalReason): void;
  /** A newer member took over `memberId`'s static instance id while it was not away: tell it it is fenced. */
  onMemberFenced?(groupId: string, memberId: string, instanceId: string): void;
  /** A new target assignment was computed. */
  onRebalance?(groupId: string, targetEpoch: number, moved: number): void;
}
