import { InvalidArgumentError as UsageError, type Command } from 'commander';
import Table from 'cli-table3';
import { StrataClient } from '../client/strata-client.js';

/** The server address: --server, else STRATA_SERVER, else localhost:7070 (the client's default). */
export function clientFor(command: Command): StrataClient {
  const server = command.optsWithGlobals<{ server?: string }>().server;
  return new StrataClient(server ? { address: server } : {});
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

export function printTable(head: string[], rows: Array<Array<string | number>>): void {
  const table = new Table({ head, style: { head: [], border: [] } });
  for (const row of rows) table.push(row.map(String));
  process.stdout.write(table.toString() + '\n');
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
