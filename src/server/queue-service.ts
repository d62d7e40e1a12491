import type { Logger } from '../core/logger.js';
import type { QueueServiceHandlers } from '../generated/strata/v1/QueueService.js';
import type { QueueCoordinatorApi } from '../queues/queue-coordinator-api.js';
import type { MemoryBudget } from './memory-budget.js';
import { queueConfigFromProto, queueConfigToProto, queueGroupToProto, queuePartitionToProto, queueResetTargetFromProto } from './queue-proto.js';
import { QueueSession, type QueueSessionCall } from './queue-session.js';
import type { StreamRegistry } from './stream-registry.js';
import { unary } from './unary.js';
import type { RateThrottle } from './rate-throttle.js';

/**
 * The QueueService: members' sessions (queue-session.ts) and the operator's calls, mapped onto the
 * queue coordinator (queues/). Every failure is the coordinator's typed error as a gRPC status with
 * its `strata-error-code` (QUEUE_GROUP_NOT_FOUND, QUEUE_GROUP_NOT_EMPTY, INVALID_ARGUMENT, ...).
 */
export function createQueueService(deps: { coordinator: QueueCoordinatorApi; streams: StreamRegistry; budget: MemoryBudget; logger: Logger; throttle?: RateThrottle | undefined }): QueueServiceHandlers {
  const { coordinator } = deps;
  return {
    QueueSession(call: QueueSessionCall) {
      new QueueSession(call, deps);
    },

    ListQueueGroups: unary(async () => ({ groups: coordinator.listGroups() })),

    DescribeQueueGroup: unary(async (request) => queueGroupToProto(await coordinator.describeGroup(request.groupId))),

    AlterQueueGroupConfig: unary(async (request) => ({ config: queueConfigToProto(await coordinator.alterConfig(request.groupId, queueConfigFromProto(request.config))) })),

    ResetQueueGroup: unary(async (request) => {
      const partitions = await coordinator.reset(request.groupId, request.topic, queueResetTargetFromProto(request.to), request.partitions);
      return { partitions: partitions.map(queuePartitionToProto) };
    }),

    DeleteQueueGroup: unary(async (request) => {
      await coordinator.deleteGroup(request.groupId);
      return {};
    }),
  };
}
