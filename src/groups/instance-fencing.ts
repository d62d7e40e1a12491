import { FencedInstanceIdError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { ConsumerGroup, GroupMember } from './consumer-group.js';

/**
 * Static instance ids held twice (KIP-345's FENCED_INSTANCE_ID). A join with the instance id of a
 * member that did not step away (-2) takes the instance over; the older member id is fenced for
 * good: told so at once (onMemberFenced: the server pushes the error on its stream) and on every
 * later heartbeat and commit. Not UNKNOWN_MEMBER_ID: a member told that rejoins, and with the same
 * instance id it would fence the newer one in turn, the two taking turns on the same partitions.
 * After a SIGKILL and restart the fenced id is a dead process's and nobody hears it; a fenced member
 * whose heartbeats keep being refused is a live duplicate, and describe counts those refusals.
 */
export function fenceReplacedMember(options: {
  group: ConsumerGroup;
  previous: GroupMember;
  byMemberId: string;
  nowMs: number;
  heartbeatIntervalMs: number;
  logger: Logger;
  events: { onMemberFenced?(groupId: string, memberId: string, instanceId: string): void } | undefined;
}): void {
  const { group, previous, byMemberId, nowMs, logger } = options;
  // After a -2 leave the old process said it is going: nothing to fence, the instance simply returns.
  if (previous.isAway) {
    group.churn.recordCleanLeave(previous.memberId);
    return;
  }
  const instanceId = previous.instanceId!;
  group.churn.recordFence({ memberId: previous.memberId, instanceId, byMemberId, fencedAtMs: nowMs });
  options.events?.onMemberFenced?.(group.groupId, previous.memberId, instanceId);
  const isAlive = previous.streamLostAtMs === undefined && nowMs - previous.lastHeartbeatMs < 2 * options.heartbeatIntervalMs;
  const fields = { groupId: group.groupId, instanceId, fencedMemberId: previous.memberId, memberId: byMemberId };
  if (isAlive) logger.warn(fields, 'static instance id joined again while its member still heartbeats: the older member is fenced (FENCED_INSTANCE_ID); two processes with one instance id?');
  else logger.info(fields, 'static member rejoined: its previous member id is fenced');
}

/** Throws FENCED_INSTANCE_ID for a member fenced by a newer holder of its instance id. */
export function refuseIfFenced(group: ConsumerGroup, memberId: string, logger: Logger): void {
  const fence = group.churn.refuse(memberId);
  if (!fence) return;
  // Logged at the first refusal and then at powers of two: a duplicate that ignores it stays visible.
  if ((fence.refusedCount & (fence.refusedCount - 1)) === 0) {
    logger.warn({ groupId: group.groupId, instanceId: fence.instanceId, memberId, refusedCount: fence.refusedCount }, 'heartbeat or commit of a fenced member refused (FENCED_INSTANCE_ID): another process holds its instance id');
  }
  throw new FencedInstanceIdError(`member '${memberId}' was fenced: instance id '${fence.instanceId}' was joined by member '${fence.byMemberId}'; two processes must not share an instance id`);
}
