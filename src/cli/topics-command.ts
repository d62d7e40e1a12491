import type { Command } from 'commander';
import type { TopicConfigChange } from '../client/admin.js';
import { collectKeyValues, examples, parseInteger, printJson, printTable, withClient } from './cli-context.js';
import { registerTopicsPurgeCommand } from './topics-purge-command.js';

/** Kafka's kafka-topics.sh warning when partitions are added, word for word. */
export const ADD_PARTITIONS_WARNING =
  'WARNING: If partitions are increased for a topic that has a key, the partition logic or ordering of the messages will be affected';

/** `retention.ms: 604800000 (default) -> 60000 (set)`. */
function describeChange(change: TopicConfigChange): string {
  const side = (value: string, isOverride: boolean) => `${value} (${isOverride ? 'set' : 'default'})`;
  const unchanged = change.oldValue === change.newValue && change.wasOverride === change.isOverride ? ', unchanged' : '';
  return `  ${change.key}: ${side(change.oldValue, change.wasOverride)} -> ${side(change.newValue, change.isOverride)}${unchanged}\n`;
}

/** Repeated `--delete k` (or `--delete a,b`) into a list. */
function collectKeys(value: string, previous: string[] = []): string[] {
  return [...previous, ...value.split(',').filter((key) => key.length > 0)];
}

const STATUS_LABELS: Record<string, string> = {
  PARTITION_STATUS_ONLINE: 'online',
  PARTITION_STATUS_FAILED: 'failed',
  PARTITION_STATUS_DATA_LOSS: 'DATA LOSS',
  PARTITION_STATUS_READ_ONLY: 'read-only',
};

export function registerTopicsCommand(program: Command): void {
  const topics = program.command('topics').description('create, list, describe, alter and delete topics').addHelpText('after', examples('strata topics create orders --partitions 8', 'strata topics list', 'strata topics describe orders', 'strata topics alter-config orders --set retention.ms=86400000'));

  topics
    .command('create <name>')
    .addHelpText('after', examples('strata topics create orders --partitions 8 --config retention.ms=604800000'))
    .description('create a topic')
    .requiredOption('--partitions <n>', 'partition count (1..10000)', parseInteger('--partitions', 1))
    .option('--config <key=value>', 'topic config (retention.ms, segment.bytes, flush, ...): repeatable, or comma-separated a=1,b=2', collectKeyValues, {})
    .option('--json', 'print JSON')
    .action(async (name: string, options: { partitions: number; config: Record<string, string>; json?: boolean }, command: Command) => {
      const topic = await withClient(command, (client) => client.admin.createTopic(name, { partitions: options.partitions, config: options.config }));
      if (options.json) printJson(topic);
      else process.stdout.write(`created topic ${topic.name} with ${topic.partitionCount} partitions\n`);
    });

  topics
    .command('list')
    .addHelpText('after', examples('strata topics list', 'strata topics list --json'))
    .description('list topics')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }, command: Command) => {
      const list = await withClient(command, (client) => client.admin.listTopics());
      if (options.json) printJson(list);
      else printTable(['topic', 'partitions'], list.map((t) => [t.name, t.partitionCount]));
    });

  topics
    .command('describe <name>')
    .addHelpText('after', examples('strata topics describe orders'))
    .description('partitions with their offsets, sizes and status, and the topic config')
    .option('--json', 'print JSON')
    .action(async (name: string, options: { json?: boolean }, command: Command) => {
      const topic = await withClient(command, (client) => client.admin.describeTopic(name));
      if (options.json) return printJson(topic);
      process.stdout.write(`topic ${topic.name}, ${topic.partitionCount} partitions\n`);
      printTable(
        ['partition', 'log start', 'log end', 'high watermark', 'size bytes', 'segments', 'status', 'since', 'error'],
        topic.partitions.map((p) => [
          p.partition,
          p.logStartOffset,
          p.logEndOffset,
          p.highWatermark,
          p.sizeBytes,
          p.segmentCount,
          STATUS_LABELS[p.status] ?? p.status,
          p.statusSinceMs > 0 ? new Date(p.statusSinceMs).toISOString() : '',
          p.error,
        ]),
      );
      printTable(['config', 'value'], Object.entries(topic.config).map(([k, v]) => [k + (k in topic.configOverrides ? ' (set)' : ''), v]));
    });

  topics
    .command('alter-config <name>')
    .addHelpText('after', examples('strata topics alter-config orders --set retention.ms=86400000 --dry-run', 'strata topics alter-config orders --delete retention.ms'))
    .description('change a topic\'s config while it runs: overrides to set or delete (back to the default)')
    .option('--set <key=value>', 'a config override to set: repeatable, or comma-separated a=1,b=2', collectKeyValues, {})
    .option('--delete <key>', 'a config override to delete (the key returns to its default): repeatable, or comma-separated', collectKeys, [])
    .option('--dry-run', 'check the change and print it, changing nothing')
    .option('--json', 'print JSON')
    .action(async (name: string, options: { set: Record<string, string>; delete: string[]; dryRun?: boolean; json?: boolean }, command: Command) => {
      const result = await withClient(command, (client) => client.admin.alterTopicConfig(name, { set: options.set, delete: options.delete, validateOnly: options.dryRun ?? false }));
      if (options.json) return printJson({ ...result, dryRun: options.dryRun ?? false });
      process.stdout.write(options.dryRun ? `dry run: topic ${name} would change (nothing changed; run without --dry-run to apply):\n` : `altered topic ${name}:\n`);
      for (const change of result.changes) process.stdout.write(describeChange(change));
    });

  topics
    .command('delete <name>')
    .addHelpText('after', examples('strata topics delete orders'))
    .description('delete a topic and all its data')
    .option('--json', 'print JSON')
    .action(async (name: string, options: { json?: boolean }, command: Command) => {
      await withClient(command, (client) => client.admin.deleteTopic(name));
      if (options.json) printJson({ deleted: name });
      else process.stdout.write(`deleted topic ${name}\n`);
    });

  registerTopicsPurgeCommand(topics);

  topics
    .command('add-partitions <name>')
    .addHelpText('after', examples('strata topics add-partitions orders --partitions 16 --force'))
    .description('grow a topic to more partitions (keys move to other partitions: needs --force)')
    .requiredOption('--partitions <n>', 'the new partition count', parseInteger('--partitions', 1))
    .option('--force', 'add them although records with a key will go to other partitions than before')
    .option('--json', 'print JSON')
    .action(async (name: string, options: { partitions: number; force?: boolean; json?: boolean }, command: Command) => {
      // As kafka-topics.sh: a key's partition is its hash modulo the count, so most keys move, and a
      // key's new records are no longer ordered after its old ones (they sit in another partition).
      process.stderr.write(`${ADD_PARTITIONS_WARNING}\n`);
      if (!options.force) {
        process.stderr.write(`strata: nothing changed: run again with --force to add partitions to ${name}\n`);
        process.exitCode = 1;
        return;
      }
      const topic = await withClient(command, (client) => client.admin.createPartitions(name, options.partitions));
      if (options.json) printJson(topic);
      else process.stdout.write(`topic ${topic.name} now has ${topic.partitionCount} partitions\n`);
    });
}
