import { InvalidArgumentError as UsageError, type Command } from 'commander';
import { examples } from './cli-context.js';
import { createLogger } from '../core/logger.js';
import { readServerConfigFile, resolveServerConfig, type ServerConfig } from '../server/server-config.js';

interface ServeOptions {
  dataDir?: string;
  host?: string;
  port?: string;
  httpPort?: string;
  tlsClientCa?: string;
  allowPlaintext?: boolean;
  consoleActions?: boolean;
  authTokens?: string;
  superUser?: string[];
  logLevel?: string;
  config?: string;
  quota?: string[];
}

/** `--quota KEY=VALUE` flags as an object (checked with the rest of the config): they win over the file's `quotas`, key by key. */
export function quotaDefaultsFromFlags(flags: readonly string[]): Record<string, number> {
  const quotas: Record<string, number> = {};
  for (const flag of flags) {
    const match = /^([a-z_]+)=(.+)$/.exec(flag);
    if (!match || !Number.isFinite(Number(match[2]))) throw new UsageError(`--quota takes KEY=VALUE with a number, e.g. producer_byte_rate=1048576, got '${flag}'`);
    quotas[match[1]!] = Number(match[2]);
  }
  return quotas;
}

/** The config file's `quotas` with the `--quota` flags over them, key by key (a file value that is not an object is left for the config check to refuse). */
export function withQuotaFlags(fileQuotas: unknown, flags: readonly string[]): unknown {
  if (fileQuotas === undefined) return quotaDefaultsFromFlags(flags);
  const isObject = typeof fileQuotas === 'object' && fileQuotas !== null && !Array.isArray(fileQuotas);
  return isObject ? { ...fileQuotas, ...quotaDefaultsFromFlags(flags) } : fileQuotas;
}

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .addHelpText('after', examples('strata serve --data-dir /var/lib/strata --host 0.0.0.0 --port 7070', 'strata serve --config strata.json --log-level debug'))
    .description('start the server (defaults: --data-dir data --host 127.0.0.1 --port 7070 --http-port 9644)')
    .option('--data-dir <dir>', 'data directory')
    .option('--host <host>', 'address to listen on')
    .option('--port <port>', 'port to listen on (0: any free port)')
    .option('--http-port <port>', 'HTTP port for the web console, /healthz, /readyz and /metrics (default 9644; 0: any free port; -1: none)')
    .option('--console-actions', 'let the web console change state: redrive dead letters, reset offsets, delete (default: read-only)')
    .option('--tls-client-ca <file>', 'mutual TLS: clients must present a certificate signed by this CA (PEM)')
    .option('--allow-plaintext', 'listen without TLS on an address other than loopback (anyone who reaches it can read and write every topic)')
    .option('--auth-tokens <file>', 'authentication: a JSON list of { "principal", "sha256" } static tokens (strata auth hash-token); turns on ACLs, deny by default')
    .option('--super-user <principal>', 'a principal that may do anything whatever the ACLs say (repeatable)', (value: string, previous: string[] = []) => [...previous, value])
    .option('--quota <key=value>', 'a quota default for every principal without its own or a * entry, e.g. producer_byte_rate=1048576 (repeatable; README "Quotas")', (value: string, previous: string[] = []) => [...previous, value])
    .option('--log-level <level>', 'pino log level: trace, debug, info, warn, error')
    .option('--config <file>', 'JSON file of server settings (flags win)')
    .action(async (options: ServeOptions, command: Command) => {
      // --tls-cert and --tls-key are the program's options (the client's own for other commands):
      // here they are the server's certificate and key, for TLS on both ports, read again on SIGHUP.
      const { tlsCert, tlsKey } = command.optsWithGlobals<{ tlsCert?: string; tlsKey?: string }>();
      const flags: Partial<ServerConfig> = {
        dataDir: options.dataDir,
        host: options.host,
        port: options.port === undefined ? undefined : Number(options.port),
        httpPort: options.httpPort === undefined ? undefined : Number(options.httpPort),
        tlsCertFile: tlsCert,
        tlsKeyFile: tlsKey,
        tlsClientCaFile: options.tlsClientCa,
        allowPlaintext: options.allowPlaintext,
        consoleActions: options.consoleActions,
        authTokensFile: options.authTokens,
        superUsers: options.superUser,
        logLevel: options.logLevel,
      };
      const file = options.config ? readServerConfigFile(options.config) : {};
      if (options.quota) flags.quotas = withQuotaFlags(file.quotas, options.quota) as ServerConfig['quotas'];
      const config = resolveServerConfig(file, flags);
      const logger = createLogger({ level: config.logLevel });
      // Loaded here, not at the top: every other command (produce, consume, ...) starts without the
      // server's modules (storage, metrics, the console's assets).
      const { startServer } = await import('../server/bootstrap.js');
      const server = await startServer(config, logger);
      // Lines on stdout for scripts and tests that start the server on port 0 (the gRPC one last: it means ready).
      if (server.httpPort !== undefined) process.stdout.write(`strata http on ${config.host}:${server.httpPort}\n`);
      process.stdout.write(`strata listening on ${config.host}:${server.port}\n`);
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
      // Certificate rotation: new handshakes use the files as they are now; a bad file keeps the old ones.
      process.on('SIGHUP', () => {
        const error = server.reloadTls();
        if (error) logger.error({ err: error }, 'SIGHUP: TLS files not reloaded');
      });
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGINT', () => stop('SIGINT'));
    });
}
