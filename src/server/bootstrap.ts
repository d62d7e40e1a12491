import { type Clock, systemClock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { LogManager } from '../storage/log-manager.js';

export interface ServerOptions {
  dataDir: string;
  host: string;
  port: number;
  logger: Logger;
  clock?: Clock;
  retentionCheckIntervalMs?: number;
}

export interface RunningServer {
  readonly logManager: LogManager;
  /** Clean shutdown: stops appends, flushes every partition, writes the clean-shutdown marker. */
  close(): Promise<void>;
}

/**
 * The one composition root: opens the logs (recovering them after an unclean shutdown). The gRPC
 * services attach here; until they exist the server only opens the logs and reports readiness.
 */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const logManager = await LogManager.open({
    dataDir: options.dataDir,
    logger: options.logger,
    clock: options.clock ?? systemClock,
    ...(options.retentionCheckIntervalMs !== undefined ? { retentionCheckIntervalMs: options.retentionCheckIntervalMs } : {}),
  });
  options.logger.info({ dataDir: options.dataDir, host: options.host, port: options.port, topics: logManager.listTopics().length }, 'strata ready');
  return {
    logManager,
    close: () => logManager.close(),
  };
}
