import * as grpc from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation } from 'grpc-health-check';
import type { Broker } from '../broker/broker.js';
import type { TopicAdmin } from '../broker/topic-admin.js';
import type { Clock } from '../core/clock.js';
import { MAX_READ_RESPONSE_BYTES, CONNECTION_RESERVED_BYTES } from '../core/limits.js';
import type { Logger } from '../core/logger.js';
import { loadProtocol } from '../protocol/protocol.js';
import { createAdminService } from './admin-service.js';
import { createConsumeService } from './consume-service.js';
import { createGroupAdminHandlers } from './group-admin.js';
import { createGroupService, type HeartbeatStreams } from './group-service.js';
import type { GroupAdmin } from '../groups/group-admin.js';
import type { GroupCoordinator } from '../groups/group-coordinator.js';
import type { GroupOffsets } from '../groups/group-offsets.js';
import { createProduceService } from './produce-service.js';
import type { QueueCoordinatorApi } from '../queues/queue-coordinator-api.js';
import { createQueueService } from './queue-service.js';
import type { SchemaRegistry } from '../schemas/schema-registry.js';
import { createSchemaService } from './schema-service.js';
import { withSafeDeserializers } from './safe-deserialize.js';
import { streamReservedBytes, type ServerConfig } from './server-config.js';
import { AdmissionGate } from './admission-gate.js';
import { MemoryBudget } from './memory-budget.js';
import { raiseFlowControlWindows } from './flow-control-window.js';
import { StreamRegistry } from './stream-registry.js';
import { withGuardedStreams } from './library-services.js';
import { withCallLog } from './call-log.js';
import type { TlsCertificates } from './tls/tls-certificates.js';
import type { ServerMetrics } from './metrics/server-metrics.js';
import type { AclStore } from '../acls/acl-store.js';
import type { AuthGate } from './auth/auth-gate.js';
import { createAclService } from './auth/acl-service.js';
import type { QuotaStore } from '../quotas/quota-store.js';
import { createQuotaService } from './quota-service.js';
import type { CountQuotas } from '../quotas/count-quotas.js';
import { CountQuotaGate } from './count-quota-gate.js';
import { isAuthenticationEnabled } from './server-config.js';
import type { QuotaSource } from '../quotas/principal-quotas.js';
import { RateQuotas } from '../quotas/rate-quotas.js';
import { createAdminThrottleInterceptor } from './admin-throttle.js';
import type { RateThrottle } from './rate-throttle.js';

const SERVICE_NAMES = ['strata.v1.AdminService', 'strata.v1.ProduceService', 'strata.v1.ConsumeService', 'strata.v1.GroupService', 'strata.v1.QueueService', 'strata.v1.AclService', 'strata.v1.SchemaService', 'strata.v1.QuotaService'];

export interface GroupServices {
  coordinator: GroupCoordinator;
  groupAdmin: GroupAdmin;
  groupOffsets: GroupOffsets;
  heartbeatStreams: HeartbeatStreams;
}

/** The domain the services map the wire to: produce and reads, topic admin, groups, queue groups; and the server's clock. */
export interface ServerDomain {
  broker: Broker;
  topics: TopicAdmin;
  groups: GroupServices;
  /** Queue groups (queues/): members' sessions and the operator's calls. */
  queues: QueueCoordinatorApi;
  /** The schema registry (schemas/). */
  schemas: SchemaRegistry;
  /** The clock the composition root gives the domain, for the services' own timing (heartbeat rate). */
  clock: Clock;
  /** The server's metrics, when they are on: produce and fetch counts, open streams. */
  metrics?: ServerMetrics | undefined;
  /** Authentication and ACLs: the gate every call passes, and the rules the AclService manages. */
  security: { gate: AuthGate; acls: AclStore };
  /**
   * Per-principal quotas (`__quotas` and the config defaults): the QuotaSource the enforcers take,
   * and the entries the QuotaService manages.
   */
  quotas: QuotaStore;
  /** max_connections and max_streams per principal (and max_groups, through the coordinators). */
  countQuotas?: CountQuotas | undefined;
  /** What the rate enforcers read: the store, or a fixed source in tests. */
  quotaSource: QuotaSource;
}

export interface GrpcServer {
  readonly port: number;
  /** What clients hold of the server's memory budget now (for tests and, later, metrics). */
  readonly memoryBudget: MemoryBudget;
  /** Health NOT_SERVING, refuse new calls, end open streams (in-flight appends first), stop. */
  shutdown(): Promise<void>;
}

/** The gRPC server: Strata's services (admin, produce, consume, groups, queue groups, ACLs, schemas), grpc.health.v1 and server reflection. */
export async function startGrpcServer({ broker, topics, groups, queues, schemas, clock, metrics, security, quotas, quotaSource, countQuotas }: ServerDomain, config: ServerConfig, logger: Logger, tls?: TlsCertificates): Promise<GrpcServer> {
  const { packageDefinition, protocol } = loadProtocol();
  const budget = new MemoryBudget(config.memoryBudgetBytes);
  const gate = new AdmissionGate(
    budget,
    {
      maxConnectionsPerAddress: config.maxConnectionsPerAddress,
      maxStreamsPerAddress: config.maxStreamsPerAddress,
      streamReservedBytes: streamReservedBytes(config),
      connectionReservedBytes: CONNECTION_RESERVED_BYTES,
    },
    logger,
  );
  const countGate = countQuotas && new CountQuotaGate(countQuotas, { isAuthenticationEnabled: isAuthenticationEnabled(config) }, logger);
  // Rate quotas: answers held back on the server's clock (rate-throttle.ts, admin-throttle.ts).
  const throttle: RateThrottle = { rates: new RateQuotas(quotaSource, { clock }, metrics?.onThrottled), clock };
  const adminThrottle = createAdminThrottleInterceptor(throttle);
  // The quota interceptors come after the auth gate in the array: grpc-js hands a call's incoming
  // metadata to the interceptors in array order (it reduces them over the transport's call), so only
  // those after the gate see the principal it established.
  const quotaInterceptors = [...(countGate ? [countGate.interceptor] : []), adminThrottle];
  const server = new grpc.Server({
    // Every call, health and reflection included, is admitted (per-address caps, memory budget), then
    // authenticated and authorized (auth/auth-gate.ts: per request message, before any handler), then
    // held to its principal's quotas. The last interceptor is the outermost: the metrics count the
    // streams that passed them all.
    interceptors: metrics ? [metrics.streamInterceptor, gate.interceptor, security.gate.interceptor, ...quotaInterceptors] : [gate.interceptor, security.gate.interceptor, ...quotaInterceptors],
    'grpc.max_receive_message_length': config.maxRequestBytes,
    // A read response carries up to max_bytes of batches, or one larger batch whole.
    'grpc.max_send_message_length': MAX_READ_RESPONSE_BYTES,
    'grpc.keepalive_time_ms': config.keepaliveTimeMs,
    'grpc.keepalive_timeout_ms': config.keepaliveTimeoutMs,
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.http2.min_ping_interval_without_data_ms': 5_000,
    // With the raised stream window (flow-control-window.ts), what bounds a connection's unread data.
    'grpc.max_concurrent_streams': config.maxConcurrentStreams,
  });
  const streams = new StreamRegistry();
  const v1 = protocol.strata.v1;
  const admin = createAdminService(topics, createGroupAdminHandlers(groups.groupAdmin));
  server.addService(withSafeDeserializers(v1.AdminService.service), withCallLog(admin, logger));
  server.addService(withSafeDeserializers(v1.ProduceService.service), withCallLog(createProduceService(broker, streams, logger, { budget, maxRequestBytes: config.maxRequestBytes }, metrics, throttle), logger));
  server.addService(withSafeDeserializers(v1.ConsumeService.service), withCallLog(createConsumeService(broker, streams, config.subscriptionBufferBytes, budget, metrics, throttle), logger));
  server.addService(withSafeDeserializers(v1.GroupService.service), withCallLog(createGroupService({ ...groups, streams, logger, budget, clock }), logger));
  server.addService(withSafeDeserializers(v1.QueueService.service), withCallLog(createQueueService({ coordinator: queues, streams, logger, budget, throttle }), logger));
  server.addService(withSafeDeserializers(v1.AclService.service), withCallLog(createAclService(security.acls), logger));
  server.addService(withSafeDeserializers(v1.SchemaService.service), withCallLog(createSchemaService(schemas), logger));
  server.addService(withSafeDeserializers(v1.QuotaService.service), withCallLog(createQuotaService(quotas), logger));
  const health = new HealthImplementation(Object.fromEntries(['', ...SERVICE_NAMES].map((name) => [name, 'SERVING' as const])));
  health.addToServer(withGuardedStreams(server, streams));
  new ReflectionService(packageDefinition).addToServer(withGuardedStreams(server, streams));

  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${config.host}:${config.port}`, serverCredentials(tls), (error, boundPort) =>
      error ? reject(error) : resolve(boundPort),
    ),
  );

  if (!raiseFlowControlWindows(server, { streamWindowBytes: config.streamWindowBytes, connectionWindowBytes: config.connectionWindowBytes })) {
    logger.warn('cannot raise the HTTP/2 flow-control window (grpc-js internals changed): produce will pipeline less');
  }
  if (!gate.watchConnections(server)) {
    logger.warn('cannot count connections (grpc-js internals changed): maxConnectionsPerAddress is not enforced, and connections reserve nothing of the memory budget');
  }

  if (countGate && !countGate.watchConnections(server)) {
    logger.warn('cannot count connections (grpc-js internals changed): max_connections is not enforced');
  }

  let shuttingDown: Promise<void> | undefined;
  return {
    port,
    memoryBudget: budget,
    shutdown() {
      shuttingDown ??= (async () => {
        for (const name of ['', ...SERVICE_NAMES]) health.setStatus(name, 'NOT_SERVING');
        logger.info({ openStreams: streams.openStreamCount }, 'shutting down: ending open streams');
        await streams.closeAll(config.shutdownGraceMs);
        await new Promise<void>((resolve) => {
          // tryShutdown waits for calls to end; they were all told to. Force what remains after the grace.
          const timer = setTimeout(() => server.forceShutdown(), config.shutdownGraceMs);
          server.tryShutdown(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      })();
      return shuttingDown;
    },
  };
}

/**
 * Plaintext, or TLS from the server's certificates: grpc-js takes them as a certificate provider, so
 * a reload (SIGHUP) reaches new handshakes without a restart. With a client CA, a client without a
 * certificate that chains to it fails the handshake (mutual TLS). grpc-js's function names its
 * arguments (ca, identity) but hands them to the credentials as (identity, ca): the identity goes first.
 */
function serverCredentials(tls: TlsCertificates | undefined): grpc.ServerCredentials {
  if (!tls) return grpc.ServerCredentials.createInsecure();
  const clientCa = tls.requiresClientCertificate ? tls : null;
  return grpc.experimental.createCertificateProviderServerCredentials(tls, clientCa as unknown as grpc.experimental.CertificateProvider, tls.requiresClientCertificate);
}
