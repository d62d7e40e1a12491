import type { Command } from 'commander';
import { collectKeyValues, examples, parseInteger, printJson, printTable, withClient } from './cli-context.js';

const STATUS_LABELS: Record<string, string> = {
  PARTITION_STATUS_ONLINE: 'online',
  PARTITION_STATUS_FAILED: 'failed',
  PARTITION_STATUS_DATA_LOSS: 'DATA LOSS',
  PARTITION_STATUS_READ_ONLY: 'read-only',
};

export function registerTopicsCommand(program: Command): void {
  const topics = program.command('topics').description('create, list, describe and delete topics').addHelpText('after', examples('strata topics create orders --partitions 8', 'strata topics list', 'strata topics describe orders'));

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
    .command('delete <name>')
    .addHelpText('after', examples('strata topics delete orders'))
    .description('delete a topic and all its data')
    .option('--json', 'print JSON')
    .action(async (name: string, options: { json?: boolean }, command: Command) => {
      await withClient(command, (client) => client.admin.deleteTopic(name));
      if (options.json) printJson({ deleted: name });
      else process.stdout.write(`deleted topic ${name}\n`);
    });

  topics
    .command('add-partitions <name>')
    .addHelpText('after', examples('strata topics add-partitions orders --partitions 16'))
    .description('grow a topic to more partitions')
    .requiredOption('--partitions <n>', 'the new partition count', parseInteger('--partitions', 1))
    .option('--json', 'print JSON')
    .action(async (name: string, options: { partitions: number; json?: boolean }, command: Command) => {
      const topic = await withClient(command, (client) => client.admin.createPartitions(name, options.partitions));
      if (options.json) printJson(topic);
      else process.stdout.write(`topic ${topic.name} now has ${topic.partitionCount} partitions\n`);
    });
}
