import { afterAll, beforeAll } from 'vitest';
import { StrataClient } from '../../src/client/strata-client.js';
import { silentLogger, type Logger } from '../../src/core/logger.js';
import { startServer, type RunningServer } from '../../src/server/bootstrap.js';
import { resolveServerConfig, type ServerConfig } from '../../src/server/server-config.js';
import { makeTempDir } from './temp-dir.js';

/**
 * A server in this process for a describe block: a temp data dir, the server on a free port and a
 * client of it, started before the block's tests and closed after them. `restart()` closes both and
 * starts them again on the same data dir (the address changes). Read the getters inside tests and hooks.
 */
export function useInProcessServer(config: Partial<ServerConfig> = {}, logger: Logger = silentLogger) {
  let dir: { path: string; remove: () => Promise<void> } | undefined;
  let server: RunningServer | undefined;
  let client: StrataClient | undefined;
  const start = async () => {
    server = await startServer(resolveServerConfig({ dataDir: dir!.path, port: 0, httpPort: 0, host: '127.0.0.1', ...config }), logger);
    client = new StrataClient({ address: `127.0.0.1:${server.port}` });
  };
  const stop = async () => {
    client?.close();
    await server?.close();
  };
  beforeAll(async () => {
    dir = await makeTempDir();
    await start();
  });
  afterAll(async () => {
    await stop();
    await dir?.remove();
  });
  return {
    get server(): RunningServer {
      return server!;
    },
    get client(): StrataClient {
      return client!;
    },
    get address(): string {
      return `127.0.0.1:${server!.port}`;
    },
    async restart(): Promise<void> {
      await stop();
      await start();
    },
  };
}
