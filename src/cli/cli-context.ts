import { InvalidArgumentError as UsageError, type Command } from 'commander';
import Table from 'cli-table3';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { InvalidArgumentError } from '../core/errors.js';
import { StrataClient, type StrataClientOptions, type StrataTlsOptions } from '../client/strata-client.js';

interface ConnectionOptions {
  server?: string;
  tls?: boolean;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsServerName?: string;
  token?: string;
}

/**
 * The server address (--server, else STRATA_SERVER, else localhost:7070, the client's default) and
 * TLS: on with --tls or any TLS file (flags, else STRATA_TLS=1, STRATA_TLS_CA, STRATA_TLS_CERT,
 * STRATA_TLS_KEY); the CA file replaces the system roots; a certificate and key make it mutual TLS.
 */
export function clientFor(command: Command, extra: Pick<StrataClientOptions, 'callTimeoutMs'> = {}): StrataClient {
  const options = command.optsWithGlobals<ConnectionOptions>();
  const tls = tlsOptions(options, process.env);
  // A bearer token: --token, else STRATA_TOKEN (the environment keeps it out of `ps` and shell history).
  const token = options.token ?? (process.env.STRATA_TOKEN || undefined);
  const client = new StrataClient({ ...extra, ...(options.server ? { address: options.server } : {}), ...(tls ? { tls } : {}), ...(token ? { token } : {}) });
  // grpc-js sends an IP address as the TLS server name, which Node flags once per process with a
  // deprecation warning (DEP0123) on stderr: noise in a command's output that the user cannot act on.
  if (tls && isIP(client.address.replace(/:\d+$/, '').replace(/^\[|\]$/g, '')) !== 0) (process as { noDeprecation?: boolean }).noDeprecation = true;
  return client;
}

export function tlsOptions(options: ConnectionOptions, env: NodeJS.ProcessEnv): true | StrataTlsOptions | undefined {
  const caFile = options.tlsCa ?? env.STRATA_TLS_CA;
  const certFile = options.tlsCert ?? env.STRATA_TLS_CERT;
  const keyFile = options.tlsKey ?? env.STRATA_TLS_KEY;
  const isOn = options.tls === true || env.STRATA_TLS === '1' || env.STRATA_TLS === 'true' || caFile !== undefined || certFile !== undefined || keyFile !== undefined;
  if (!isOn) return undefined;
  if ((certFile === undefined) !== (keyFile === undefined)) throw new InvalidArgumentError('mutual TLS needs both --tls-cert and --tls-key (or STRATA_TLS_CERT and STRATA_TLS_KEY)');
  const read = (file: string | undefined, what: string) => {
    if (file === undefined) return undefined;
    try {
      return readFileSync(file);
    } catch (error) {
      throw new InvalidArgumentError(`cannot read the TLS ${what} ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  };
  const tls: StrataTlsOptions = {};
  const ca = read(caFile, 'CA (--tls-ca)');
  const cert = read(certFile, 'certificate (--tls-cert)');
  const key = read(keyFile, 'key (--tls-key)');
  if (ca) tls.ca = ca;
  if (cert) tls.cert = cert;
  if (key) tls.key = key;
  if (options.tlsServerName) tls.serverName = options.tlsServerName;
  return Object.keys(tls).length === 0 ? true : tls;
}

/** Runs a command against a client and always closes it. */
export async function withClient<T>(command: Command, run: (client: StrataClient) => Promise<T>): Promise<T> {
  const client = clientFor(command);
  try {
    return await run(client);
  } finally {
    client.close();
  }
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/** Row rules off: cli-table3 draws one between every row, and takes the same characters for the rule under the head. */
const NO_ROW_RULES = { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' };

/** A bordered table with a rule under the head and none between rows (as psql and kcat draw them). */
export function formatTable(head: string[], rows: Array<Array<string | number>>): string {
  const table = new Table({ head, style: { head: [], border: [] }, chars: NO_ROW_RULES });
  for (const row of rows) table.push(row.map(String));
  const lines = table.toString().split('\n');
  // The head is one line (names have no newline): the rule under it is the top border's shape.
  const top = lines[0]!;
  lines.splice(2, 0, top.replace('┌', '├').replaceAll('┬', '┼').replace('┐', '┤'));
  return lines.join('\n');
}

export function printTable(head: string[], rows: Array<Array<string | number>>): void {
  process.stdout.write(formatTable(head, rows) + '\n');
}

export function parseInteger(name: string, min = 0): (value: string) => number {
  return (value) => {
    const parsed = Number(value);
    if (!Number.isSafeInteger(parsed) || parsed < min) throw new UsageError(`${name} must be an integer >= ${min}, got '${value}'`);
    return parsed;
  };
}

/** Collects repeated `--config k=v` options into an object. */
export function collectKeyValue(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const separator = value.indexOf('=');
  if (separator <= 0) throw new UsageError(`expected key=value, got '${value}'`);
  return { ...previous, [value.slice(0, separator)]: value.slice(separator + 1) };
}

/** collectKeyValue for `a=1,b=2` too (as Kafka's tools take configs; no topic config value has a comma). */
export function collectKeyValues(value: string, previous: Record<string, string> = {}): Record<string, string> {
  return value.split(',').reduce((collected, pair) => collectKeyValue(pair, collected), previous);
}

/** An Examples section for a command's --help (commander's addHelpText('after', ...)). */
export function examples(...commandLines: string[]): string {
  return `\nExample${commandLines.length > 1 ? 's' : ''}:\n${commandLines.map((line) => `  $ ${line}`).join('\n')}\n`;
}
