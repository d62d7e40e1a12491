import type { Command } from 'commander';
import { createLogger } from '../core/logger.js';
import { startServer } from '../server/bootstrap.js';

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('start the server on a data directory')
    .option('--data-dir <dir>', 'data directory', 'data')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on', (v) => parsePort(v), 7070)
    .option('--log-level <level>', 'pino log level: trace, debug, info, warn, error', 'info')
    .action(async (options: { dataDir: string; host: string; port: number; logLevel: string }) => {
      const logger = createLogger({ level: options.logLevel });
      const server = await startServer({ dataDir: options.dataDir, host: options.host, port: options.port, logger });
      let isStopping = false;
      const stop = (signal: string) => {
        if (isStopping) return;
        isStopping = true;
        logger.info({ signal }, 'shutting down cleanly');
        server.close().then(
          () => process.exit(0),
          (error: unknown) => {
            logger.error({ err: error }, 'clean shutdown failed');
            process.exit(1);
          },
        );
      };
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGINT', () => stop('SIGINT'));
      // Keep the process alive until a signal arrives (the logs' own timers do not hold it).
      setInterval(() => undefined, 1 << 30);
    });
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid port '${value}'`);
  return port;
}
