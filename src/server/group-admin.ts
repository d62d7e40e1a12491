import type { AdminServiceHandlers } from '../generated/strata/v1/AdminService.js';
import type { ResetOffsetsRequest__Output } from '../generated/strata/v1/ResetOffsetsRequest.js';
import type { GroupAdmin } from '../groups/group-admin.js';
import type { ResetTarget } from '../groups/offset-reset.js';
import { offsetFromProto } from './start-position.js';
import { unary } from './unary.js';

export type GroupAdminHandlers = Pick<AdminServiceHandlers, 'ListGroups' | 'DescribeGroup' | 'DeleteGroup' | 'ResetOffsets'>;

/** The operator's side of consumer groups, served by the AdminService: the wire around groups/GroupAdmin. */
export function createGroupAdminHandlers(groupAdmin: GroupAdmin): GroupAdminHandlers {
  return {
    ListGroups: unary(async () => ({ groups: groupAdmin.listGroups() })),

    DescribeGroup: unary(async (request) => {
      const { members, ...description } = await groupAdmin.describeGroup(request.groupId);
      return { ...description, members: members.map(({ isStreamLost, ...m }) => ({ ...m, streamLost: isStreamLost })) };
    }),

    ResetOffsets: unary(async (request) =>
      groupAdmin.resetOffsets({
        groupId: request.groupId,
        topic: request.topic,
        partitions: request.partitions,
        target: resetTargetFromProto(request),
        execute: request.execute,
        requestedBy: request.requestedBy,
      }),
    ),

    DeleteGroup: unary(async (request) => {
      await groupAdmin.deleteGroup(request.groupId);
      return {};
    }),
  };
}

/** The wire's reset target; undefined when the request names none (GroupAdmin refuses it). */
function resetTargetFromProto(request: ResetOffsetsRequest__Output): ResetTarget | undefined {
  if (request.target === 'shiftBy') return { shiftBy: request.shiftBy! };
  if (request.target !== 'to' || !request.to?.position) return undefined;
  const to = request.to;
  if (to.position === 'offset') return { offset: offsetFromProto(to.offset, 'to.offset') };
  if (to.position === 'timestampMs') return { timestampMs: to.timestampMs! };
  return { point: to.point === 'START_POINT_EARLIEST' ? 'earliest' : 'latest' };
}
