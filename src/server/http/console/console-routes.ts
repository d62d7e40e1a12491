import type { Clock } from '../../../core/clock.js';
import type { HttpServer } from '../http-server.js';
import { type ConsoleApiDependencies, registerConsoleApi } from './console-api.js';
import { defaultConsoleAssetsDir, loadConsoleAssets, registerConsoleAssets } from './console-assets.js';
import { CONSOLE_LIMITS } from './console-limits.js';
import { ThroughputSampler } from './throughput-sampler.js';

/**
 * The web console on the HTTP port: its front end at / and /assets/, its JSON API under /api/, and
 * the throughput sampler behind the overview's sparklines. Returns a stop function (the sampler's
 * timer) for the server's shutdown.
 */
export function registerConsole(
  http: HttpServer,
  deps: Omit<ConsoleApiDependencies, 'throughput' | 'nowMs'> & { clock: Clock; assetsDir?: string },
): { stop(): void } {
  const throughput = new ThroughputSampler(
    {
      topicEndOffsets: () =>
        deps.topics.listTopics().flatMap(({ name }) => {
          try {
            const partitions = deps.topics.describeTopic(name).partitions;
            return [{ topic: name, endOffsetSum: partitions.reduce((sum, p) => sum + Math.max(0, p.highWatermark), 0) }];
          } catch {
            return []; // deleted meanwhile
          }
        }),
    },
    deps.clock,
    { intervalMs: CONSOLE_LIMITS.throughputSampleIntervalMs, capacity: CONSOLE_LIMITS.throughputSamples, maxTopics: CONSOLE_LIMITS.maxSampledTopics },
  );
  registerConsoleApi(http, { ...deps, throughput, nowMs: () => deps.clock.nowMs() });
  const assetsDir = deps.assetsDir ?? defaultConsoleAssetsDir();
  let assets: Map<string, Buffer>;
  try {
    assets = loadConsoleAssets(assetsDir);
  } catch (error) {
    // A console that cannot load never stops the broker: / says it is not there, the API still answers.
    deps.broker.logger.warn({ err: error, assetsDir }, 'the web console\'s files cannot be loaded: / answers 503');
    assets = new Map();
  }
  if (assets.size === 0) deps.broker.logger.info({ assetsDir }, 'the web console is not built (make build): / answers 503');
  registerConsoleAssets(http, assets);
  throughput.start();
  return { stop: () => throughput.stop() };
}
