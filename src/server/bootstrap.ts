import { Broker } from '../broker/broker.js';
import { ProducerIdRegistry } from '../broker/producer-id-registry.js';
import { TopicAdmin } from '../broker/topic-admin.js';
import { type Clock, systemClock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { StickyAssignor } from '../groups/assignors/sticky-assignor.js';
import { GroupAdmin } from '../groups/group-admin.js';
import { GroupCoordinator } from '../groups/group-coordinator.js';
import { GroupOffsets } from '../groups/group-offsets.js';
import { resolveGroupConfig } from '../groups/group-config.js';
import { OffsetStore } from '../groups/offset-store.js';
import type { TopicLogsView } from '../groups/topics-view.js';
import { ACLS_TOPIC, isInternalTopic, OFFSETS_TOPIC, PRODUCER_IDS_TOPIC, QUEUE_STATE_TOPIC, QUOTAS_TOPIC, SCHEMAS_TOPIC } from '../core/internal-topics.js';
import { QuotaStore } from '../quotas/quota-store.js';
import { AclAuthorizer } from '../acls/acl-rules.js';
import { AclStore } from '../acls/acl-store.js';
import { AuthGate } from './auth/auth-gate.js';
import { Authenticator } from './auth/authenticator.js';
import { httpAuthGuard } from './auth/http-auth-guard.js';
import { JwtVerifier } from './auth/jwt-verifier.js';
import { StaticTokens } from './auth/static-tokens.js';
import type { QueueCoordinatorApi, QueueTopicsView } from '../queues/queue-coordinator-api.js';
import { QueueCoordinator } from '../queues/queue-coordinator.js';
import { QueueStateStore } from '../queues/queue-state-store.js';
import { SchemaRegistry } from '../schemas/schema-registry.js';
import type { FileSystemPort } from '../storage/file-system.js';
import { LogManager } from '../storage/log-manager.js';
import { DeadLetterAppender } from './dead-letter-appender.js';
import { GroupConsumptionProgress } from './group-consumption-progress.js';
import { HeartbeatStreams } from './group-service.js';
import type { MemoryBudget } from './memory-budget.js';
import { startGrpcServer } from './grpc-server.js';
import { registerConsole } from './http/console/console-routes.js';
import { registerHealthRoutes, type ReadinessView } from './http/health-routes.js';
import { HttpServer } from './http/http-server.js';
import { mapSchemaRegistryErrors, registerSchemaRoutes } from './http/schema-routes.js';
import { RecordSchemaCheck } from './record-schema-check.js';
import { checkCanListen, listenErrorOf } from './listen-check.js';
import { registerMetricsRoutes } from './metrics/metrics-routes.js';
import { ServerMetrics } from './metrics/server-metrics.js';
import { observeErrors } from './status.js';
import { isAuthenticationEnabled, isTlsEnabled, largestAcceptedBatchBytes, type ServerConfig } from './server-config.js';
import { TlsCertificates } from './tls/tls-certificates.js';
import { CountQuotas } from '../quotas/count-quotas.js';
import type { QuotaSource } from '../quotas/principal-quotas.js';
import { registerCountQuotaMetrics } from './metrics/count-quota-metrics.js';

export interface RunningServer {
  readonly logManager: LogManager;
  readonly broker: Broker;
  /** The port actually bound (config.port 0 picks a free one). */
  readonly port: number;
  /** The HTTP port actually bound; undefined when config.httpPort is -1. */
  readonly httpPort: number | undefined;
  /**
   * Reads the TLS files again (SIGHUP): new handshakes on both ports use them, open connections keep
   * theirs; a file that fails its checks keeps the ones in use. Returns the error, if any (none
   * without TLS: nothing to read).
   */
  reloadTls(): Error | undefined;
  /** What clients hold of the memory budget (memoryBudgetBytes) now. */
  readonly memoryBudget: MemoryBudget;
  /** Queue groups' coordinator (for tests and tools that look at its state directly). */
  readonly queues: QueueCoordinatorApi;
  /** The schema registry (`__schemas`), served on the HTTP port's Confluent paths and by SchemaService. */
  readonly schemas: SchemaRegistry;
  /** Per-principal quotas (`__quotas` over the config defaults): the server's QuotaSource. */
  readonly quotas: QuotaStore;
  /** Clean shutdown: streams ended, in-flight appends finished, every partition flushed, marker written. */
  close(): Promise<void>;
}

/**
 * The one composition root, and the one file of server/ that sees storage: logs (recovered if needed),
 * the broker and topic admin over them, groups over their views of topics and of the offsets log,
 * queue groups over their state store (`__queue_state`), their view of topics and a dead-letter writer
 * over the broker, and the gRPC services over those.
 */
export interface StartServerOptions {
  fs?: FileSystemPort;
  /** Whether a peer address is this machine, for the rule that tokens travel in plaintext only from it (tests fake a remote peer). */
  isLoopbackPeer?: (remoteAddress: string | undefined) => boolean;
  /** Where per-principal quotas come from instead of the `__quotas` store (tests: a StaticQuotaSource). */
  quotaSource?: QuotaSource;
}

export async function startServer(config: ServerConfig, logger: Logger, clock: Clock = systemClock, options: StartServerOptions = {}): Promise<RunningServer> {
  // A taken port says so in one line, before the data dir is created, locked or recovered.
  await checkCanListen(config.host, config.port);
  // The HTTP port comes up first, so that probes see 'starting' (not a refused connection) while
  // recovery runs, and a taken port fails before the data directory is touched.
  // Certificates are checked (readable, key matching, not expired) before anything listens.
  const tls = isTlsEnabled(config)
    ? new TlsCertificates({ certFile: config.tlsCertFile, keyFile: config.tlsKeyFile, ...(config.tlsClientCaFile ? { clientCaFile: config.tlsClientCaFile } : {}) }, logger, () => clock.nowMs())
    : undefined;
  // Token files and JWT keys are read (and checked) before anything listens, as the certificates are.
  const authenticator = new Authenticator({
    ...(config.authTokensFile ? { staticTokens: StaticTokens.fromFile(config.authTokensFile) } : {}),
    ...(config.jwt ? { jwt: new JwtVerifier(config.jwt, () => clock.nowMs()) } : {}),
    isMutualTls: config.tlsClientCaFile !== '',
    ...(options.isLoopbackPeer ? { isLoopbackPeer: options.isLoopbackPeer } : {}),
  });
  if (isAuthenticationEnabled(config)) {
    logger.info({ tokens: config.authTokensFile !== '', jwt: config.jwt !== null, mutualTls: config.tlsClientCaFile !== '', superUsers: config.superUsers }, 'authentication on: every call needs credentials, every access an ACL');
  }
  if (!tls && config.allowPlaintext) {
    logger.warn({ host: config.host, port: config.port, httpPort: config.httpPort }, 'PLAINTEXT on a listener (allowPlaintext): anyone who reaches it can read, write and delete every topic; configure TLS');
  }
  let readiness: ReadinessView = { phase: 'starting', detail: 'recovering logs' };
  // Metrics exist only with the HTTP port that serves them. They count from the start (recovery's
  // fsyncs); until the components exist a scrape shows the process and storage metrics only.
  let logs: LogManager | undefined;
  const metrics =
    config.httpPort >= 0 && config.metrics ? new ServerMetrics({ clock, maxPartitionSeries: config.metricsMaxPartitionSeries, topicExists: (topic) => logs?.partitionCount(topic) !== undefined }) : undefined;
  let http: HttpServer | undefined;
  let httpPort: number | undefined;
  if (config.httpPort >= 0) {
    http = new HttpServer(logger, {}, tls);
    registerHealthRoutes(http, () => readiness);
    http.whileStarting(() => (readiness.phase === 'starting' ? readiness.detail : undefined));
    mapSchemaRegistryErrors(http);
    if (metrics) registerMetricsRoutes(http, metrics);
    try {
      httpPort = await http.listen(config.host, config.httpPort);
    } catch (error) {
      throw listenErrorOf(error, config.host, config.httpPort, '--http-port') ?? error;
    }
  }
  const stopObservingErrors = metrics ? observeErrors((code) => metrics.onError(code)) : () => undefined;
  let logManager: LogManager;
  let producerIds;
  try {
    logManager = await LogManager.open({ dataDir: config.dataDir, logger, clock, retentionCheckIntervalMs: config.retentionCheckIntervalMs, fs: options.fs, ...(metrics ? { observer: metrics.storageObserver } : {}) });
    logs = logManager;
    try {
      readiness = { phase: 'starting', detail: 'restoring producer ids' };
      producerIds = await ProducerIdRegistry.open(logManager, logger, { nowMs: () => clock.nowMs() });
    } catch (error) {
      await logManager.close();
      throw error;
    }
  } catch (error) {
    stopObservingErrors();
    await http?.close();
    throw error;
  }
  const broker = new Broker(logManager, clock, logger, producerIds);
  let grpcServer;
  let coordinator: GroupCoordinator | undefined;
  let queueStore: QueueStateStore | undefined;
  let queues: QueueCoordinator | undefined;
  let schemas: SchemaRegistry | undefined;
  let consoleRoutes: { stop(): void } | undefined;
  let acls: AclStore | undefined;
  let quotas: QuotaStore | undefined;
  try {
    readiness = { phase: 'starting', detail: 'restoring producer sequences, group offsets and queue groups' };
    const startedMs = clock.nowMs();
    const restored = await broker.restoreProducerState(config.producerStateTailBytes, { skipTopics: [OFFSETS_TOPIC, PRODUCER_IDS_TOPIC, QUEUE_STATE_TOPIC, ACLS_TOPIC, SCHEMAS_TOPIC, QUOTAS_TOPIC] });
    logger.info({ ...restored, elapsedMs: clock.nowMs() - startedMs }, 'producer sequences restored from the log tails');
    const idsStartedMs = clock.nowMs();
    const restoredIds = await broker.restoreMessageIds({ skipTopics: [OFFSETS_TOPIC, PRODUCER_IDS_TOPIC, QUEUE_STATE_TOPIC] });
    if (restoredIds.partitionCount + restoredIds.failedPartitionCount > 0) logger.info({ ...restoredIds, elapsedMs: clock.nowMs() - idsStartedMs }, 'message ids restored from the dedupe windows');
    const offsets = await OffsetStore.open(logManager, () => clock.nowMs(), logger);
    acls = await AclStore.open(logManager, { nowMs: () => clock.nowMs(), logger });
    // The enforcers (rates, counts) take it as their QuotaSource through the services' domain.
    quotas = await QuotaStore.open(logManager, { nowMs: () => clock.nowMs(), logger, defaults: config.quotas });
    const authorizer = new AclAuthorizer(acls, { isEnabled: authenticator.isEnabled, superUsers: config.superUsers });
    // Before the console's routes exist: the HTTP port checks them as the gRPC gate checks calls.
    http?.guard(httpAuthGuard(authenticator, authorizer, logger));
    // groups/ sees topics read-only, through the view it defines: partition logs as they are.
    const topicLogs: TopicLogsView = { partitionCount: (topic) => logManager.partitionCount(topic), partition: (topic, partition) => logManager.partition(topic, partition) };
    // Count quotas (max_groups, max_connections, max_streams) from __quotas and the config defaults
    // (tests may hand in a fixed source).
    const countQuotas = new CountQuotas(options.quotaSource ?? quotas);
    if (metrics) registerCountQuotaMetrics(metrics.registry, countQuotas);
    const heartbeatStreams = new HeartbeatStreams((groupId, memberId) => coordinator?.streamLost(groupId, memberId));
    coordinator = new GroupCoordinator({
      clock,
      assignor: new StickyAssignor(),
      topics: topicLogs,
      config: resolveGroupConfig(config.groups),
      logger,
      groupQuota: countQuotas,
      events: {
        onAssignmentChanged: (_groupId, response) => heartbeatStreams.push(response),
        onMemberFenced: (_groupId, memberId, instanceId) => heartbeatStreams.fence(memberId, instanceId),
        // A member removed while its stream stays open (session or revocation timeout) is forgotten
        // here too: a stream that rejoined again and again would otherwise keep every old id.
        onMemberRemoved: (_groupId, memberId) => heartbeatStreams.forget(memberId),
        onRebalance: (groupId) => metrics?.onRebalance(groupId),
      },
    });
    const topicAdmin = new TopicAdmin(logManager, {
      largestBatchBytes: largestAcceptedBatchBytes(config),
      // Groups' committed offsets of a deleted topic go too (as in Kafka), so a topic created again
      // starts at zero; so does every queue group's state of it.
      onTopicDeleted: async (topic) => {
        metrics?.forgetTopic(topic);
        try {
          await offsets.forgetTopic(topic);
        } finally {
          await queues?.onTopicDeleted(topic);
        }
      },
      // Queue groups reading a purged topic skip up to its new start at once, as after retention.
      onRecordsPurged: (topic) => queues?.onLogStartMoved(topic),
    });
    // queues/ sees topics read-only too, through its own view: partition logs as they are.
    const queueTopics: QueueTopicsView = { partitionCount: (topic) => logManager.partitionCount(topic), partition: (topic, partition) => logManager.partition(topic, partition) };
    queueStore = await QueueStateStore.open(logManager, { logger, nowMs: () => clock.nowMs() });
    queues = new QueueCoordinator({
      journal: queueStore,
      topics: queueTopics,
      deadLetters: new DeadLetterAppender(broker, topicAdmin),
      clock,
      random: { next: Math.random },
      logger,
      groupQuota: countQuotas,
    });
    const queuesStartedMs = clock.nowMs();
    await queues.start();
    logger.info({ groups: queues.listGroups().length, elapsedMs: clock.nowMs() - queuesStartedMs }, 'queue groups restored from __queue_state');
    // Retention after acknowledgement and overflow see how far groups have consumed, from now on.
    logManager.setConsumptionProgress(new GroupConsumptionProgress(offsets, coordinator, queues));
    const groupAdmin = new GroupAdmin({ coordinator, offsets, topics: topicLogs, nowMs: () => clock.nowMs() });
    schemas = await SchemaRegistry.open(logManager, () => clock.nowMs(), logger);
    // Topics' schema.validation checks produced records against it from now on (before any client produces).
    broker.setRecordCheck(new RecordSchemaCheck(schemas));
    // Before the console's routes: Confluent's paths are the registry's.
    if (http) registerSchemaRoutes(http, schemas);
    if (http) consoleRoutes = registerConsole(http, { broker, topics: topicAdmin, groups: groupAdmin, queues, clock, areActionsEnabled: config.consoleActions });
    if (metrics) {
      const queueCoordinator = queues;
      metrics.attach({
        dataDir: config.dataDir,
        topics: () => logManager.listTopics().map((name) => ({ name, partitions: logManager.describeTopic(name).partitions })),
        consumerGroups: () => groupAdmin.listGroups(),
        consumerGroupLag: async (groupId) => (await groupAdmin.describeGroup(groupId)).lag,
        queueGroups: () => queueCoordinator.listGroups(),
        queueGroupPartitions: async (groupId) => (await queueCoordinator.describeGroup(groupId)).partitions,
        // Records retention and overflow removed before a group consumed them, since the start.
        unconsumedRemovals: () => logManager.unconsumedRemovedRecords().map((r) => ({ group: r.groupId, topic: r.topic, records: r.records })),
      });
    }
    grpcServer = await startGrpcServer(
      {
        broker,
        topics: topicAdmin,
        metrics,
        groups: {
          coordinator,
          groupAdmin,
          groupOffsets: new GroupOffsets({ coordinator, offsets, topics: topicLogs }),
          heartbeatStreams,
        },
        queues,
        schemas,
        clock,
        security: { gate: new AuthGate(authenticator, authorizer, logger), acls },
        quotas,
        quotaSource: options.quotaSource ?? quotas,
        countQuotas,
      },
      config,
      logger,
      tls,
    );
  } catch (error) {
    consoleRoutes?.stop();
    stopObservingErrors();
    coordinator?.close();
    await queues?.close().catch(() => undefined);
    await queueStore?.close().catch(() => undefined);
    await acls?.close().catch(() => undefined);
    await quotas?.close().catch(() => undefined);
    await schemas?.close().catch(() => undefined);
    await producerIds.close().catch(() => undefined);
    await logManager.close();
    await http?.close();
    // Another process took the port after checkCanListen: the same one line.
    throw listenErrorOf(error, config.host, config.port) ?? error;
  }
  warnOfUnreachableBatchLimits(logManager, config, logger);
  readiness = { phase: 'ready', detail: '' };
  logger.info({ dataDir: config.dataDir, host: config.host, port: grpcServer.port, httpPort, topics: logManager.listTopics().length }, 'strata ready');
  let closing: Promise<void> | undefined;
  const queueCoordinator = queues!;
  const aclStore = acls!;
  const quotaStore = quotas!;
  const schemaRegistry = schemas!;
  return {
    logManager,
    broker,
    port: grpcServer.port,
    httpPort,
    reloadTls: () => tls?.reload(),
    memoryBudget: grpcServer.memoryBudget,
    queues: queueCoordinator,
    schemas: schemaRegistry,
    quotas: quotaStore,
    close() {
      closing ??= (async () => {
        readiness = { phase: 'stopping', detail: 'shutting down' };
        consoleRoutes?.stop();
        await grpcServer.shutdown();
        coordinator?.close();
        // Its sessions ended with the gRPC server (their members' records released); it waits for
        // its writes under way, then the store's, before the logs close under them.
        try {
          await queueCoordinator.close();
          await queueStore!.close();
          await aclStore.close();
          await quotaStore.close();
          await schemaRegistry.close();
          await producerIds.close();
        } finally {
          // A failure there (a write under way failed) must not leave the logs open: they close anyway.
          try {
            await logManager.close();
          } finally {
            stopObservingErrors();
            await http?.close();
          }
        }
      })();
      return closing;
    },
  };
}

/**
 * A topic created under a larger maxRequestBytes keeps its max.message.bytes: batches between the two
 * limits are now refused by the transport (RESOURCE_EXHAUSTED, the whole stream), so say so at startup.
 */
function warnOfUnreachableBatchLimits(logManager: LogManager, config: ServerConfig, logger: Logger): void {
  const largestBatchBytes = largestAcceptedBatchBytes(config);
  for (const topic of logManager.listTopics()) {
    // The server writes its internal topics itself (state logs take batches larger than a request).
    if (isInternalTopic(topic)) continue;
    const { maxBatchBytes } = logManager.describeTopic(topic).config;
    if (maxBatchBytes > largestBatchBytes) {
      logger.warn({ topic, maxMessageBytes: maxBatchBytes, largestBatchBytes, maxRequestBytes: config.maxRequestBytes }, 'topic max.message.bytes is larger than a request this server receives: raise maxRequestBytes');
    }
  }
}
