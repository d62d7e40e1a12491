import type { Command } from 'commander';
import { InvalidArgumentError } from '../core/errors.js';
import { examples, parseInteger, printJson, printTable, withClient } from './cli-context.js';

interface PurgeOptions {
  partition: number[];
  before?: number;
  all?: boolean;
  execute?: boolean;
  json?: boolean;
}

function collectPartition(value: string, previous: number[] = []): number[] {
  return [...previous, parseInteger('--partition')(value)];
}

/** `strata topics purge`: Kafka's kafka-delete-records, a dry run unless --execute. */
export function registerTopicsPurgeCommand(topics: Command): void {
  topics
    .command('purge <name>')
    .addHelpText('after', examples('strata topics purge orders --before 1000            # a dry run: what would go', 'strata topics purge orders.dlq --all --execute'))
    .description('delete the records below an offset (the log start moves forward); prints what would go, and purges only with --execute')
    .option('--partition <p>', 'only this partition (repeatable; default: every partition)', collectPartition, [])
    .option('--before <offset>', 'records below this offset go (exclusive); at most the high watermark', parseInteger('--before'))
    .option('--all', 'every record readable now (up to the high watermark)')
    .option('--execute', 'purge; without it, nothing changes')
    .option('--json', 'print JSON')
    .action(async (name: string, options: PurgeOptions, command: Command) => {
      if ((options.before === undefined) === !options.all) throw new InvalidArgumentError('choose exactly one of --before OFFSET and --all');
      const before = options.all ? ('all' as const) : options.before!;
      const partitions = options.partition.length > 0 ? options.partition : undefined;
      const result = await withClient(command, (client) => client.admin.purgeRecords(name, { before, ...(partitions ? { partitions } : {}), validateOnly: !options.execute }));
      if (options.json) return printJson(result);
      printTable(
        ['partition', 'log start', 'new log start', 'records purged', 'high watermark'],
        result.partitions.map((p) => [p.partition, p.previousLogStartOffset, p.logStartOffset, p.purgedRecords, p.highWatermark]),
      );
      const total = result.partitions.reduce((sum, p) => sum + p.purgedRecords, 0);
      process.stdout.write(result.validatedOnly ? `dry run: ${total} records would be purged, nothing changed (add --execute to purge)\n` : `purged ${total} records\n`);
    });
}
