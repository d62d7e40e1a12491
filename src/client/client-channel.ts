import type { Clock } from '../core/clock.js';
import type { AdminServiceClient } from '../generated/strata/v1/AdminService.js';
import type { ConsumeServiceClient } from '../generated/strata/v1/ConsumeService.js';
import type { GroupServiceClient } from '../generated/strata/v1/GroupService.js';
import type { ProduceServiceClient } from '../generated/strata/v1/ProduceService.js';
import type { QueueServiceClient } from '../generated/strata/v1/QueueService.js';
import type { Admin } from './admin.js';
import type { ConnectionMonitor } from './connection-monitor.js';

/**
 * What producers, consumers and group members need of the client that made them: its one connection
 * (stubs, connectivity), its clock, its admin calls and their deadline. StrataClient implements it;
 * the parts depend on this, not on the facade, so the facade can construct them without an import
 * cycle.
 */
export interface ClientChannel {
  readonly address: string;
  readonly admin: Admin;
  readonly callTimeoutMs: number;
  readonly clock: Clock;
  readonly connection: ConnectionMonitor;
  readonly stubs: { admin: AdminServiceClient; produce: ProduceServiceClient; consume: ConsumeServiceClient; groups: GroupServiceClient; queue: QueueServiceClient };
}
