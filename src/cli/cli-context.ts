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
