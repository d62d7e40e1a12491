import { InvalidArgumentError as UsageError, type Command } from 'commander';
import { InvalidArgumentError, TopicNotFoundError } from '../core/errors.js';
import type { ConsumedRecord, ConsumeOptions } from '../client/consume.js';
import { parseInteger, withClient } from './cli-context.js';
import { onStopSignals, StdoutLines } from './stdout-lines.js';

interface ConsumeCommandOptions {
  fromBeginning?: boolean;
  offset?: number;
  fromTime?: string;
  partition?: number;
  maxMessages?: number;
  follow?: boolean;
  json?: boolean;
  group?: string;
  instanceId?: string;
  encoding: OutputEncoding;
}

function parseEncoding(value: string): OutputEncoding {
  if (!(ENCODINGS as readonly string[]).includes(value)) throw new UsageError(`--encoding must be one of ${ENCODINGS.join(', ')}, got '${value}'`);
  return value as OutputEncoding;
}

/** One printed line for a record. */
function recordLine(record: ConsumedRecord, options: ConsumeCommandOptions): string {
  return options.json ? formatRecordJson(record, options.encoding) : (toText(record.value, options.encoding) ?? '');
}

/** How keys, values and header values are printed: UTF-8 text (bytes that are not UTF-8 become U+FFFD), or lossless base64 / hex. */
export type OutputEncoding = 'utf8' | 'base64' | 'hex';
const ENCODINGS: readonly OutputEncoding[] = ['utf8', 'base64', 'hex'];

function toText(value: Buffer | null, encoding: OutputEncoding = 'utf8'): string | null {
  return value === null ? null : value.toString(encoding);
}

/** ISO 8601, or null for a time a Date cannot hold (a producer may stamp any safe integer of ms). */
function isoTime(timestampMs: number): string | null {
  const date = new Date(timestampMs);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

export function formatRecordJson(record: ConsumedRecord, encoding: OutputEncoding = 'utf8'): string {
  return JSON.stringify({
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    timestamp: isoTime(record.timestampMs),
    timestampMs: record.timestampMs,
    key: toText(record.key, encoding),
    value: toText(record.value, encoding),
    headers: Object.fromEntries(record.headers.map((h) => [h.key, toText(h.value, encoding)])),
  });
}

export function registerConsumeCommand(program: Command): void {
  program
    .command('consume <topic>')
    .description('print records; without --follow, stops at the end of the log as it was at the start')
    .option('--from-beginning', 'replay from the earliest offset (offset zero unless retention removed it)')
    .option('--offset <n>', 'start at this offset (on every partition read)', parseInteger('--offset'))
    .option('--from-time <iso>', 'start at the first record at or after this time')
    .option('--partition <p>', 'read only this partition', parseInteger('--partition'))
    .option('--max-messages <n>', 'stop after this many records', parseInteger('--max-messages', 1))
    .option('--follow', 'keep printing new records as they arrive')
    .option('--json', 'one JSON object per line: topic, partition, offset, timestamp, key, value, headers')
    .option('--encoding <utf8|base64|hex>', 'how keys and values print: utf8 (bytes that are not UTF-8 show as U+FFFD), or base64 / hex for binary data', parseEncoding, 'utf8')
    .option('--group <group>', 'join this consumer group: read the partitions it assigns, committing as it goes (implies --follow)')
    .option('--instance-id <id>', 'static group membership: a restart with the same id keeps its partitions')
    .action(async (topic: string, options: ConsumeCommandOptions, command: Command) => {
      if (options.group !== undefined) return consumeInGroup(topic, options, command);
      const starts = [options.fromBeginning, options.offset !== undefined, options.fromTime !== undefined].filter(Boolean).length;
      if (starts > 1) throw new InvalidArgumentError('use only one of --from-beginning, --offset and --from-time');
      let from: ConsumeOptions['from'] = 'latest';
      if (options.fromBeginning) from = 'earliest';
      else if (options.offset !== undefined) from = options.offset;
      else if (options.fromTime !== undefined) {
        const timestampMs = Date.parse(options.fromTime);
        if (Number.isNaN(timestampMs)) throw new InvalidArgumentError(`--from-time: not a date: '${options.fromTime}'`);
        from = { timestampMs };
      }
      const controller = new AbortController();
      const signals = onStopSignals(() => controller.abort());
      const out = new StdoutLines();
      try {
        await withClient(command, async (client) => {
          let partitions = options.partition !== undefined ? [options.partition] : undefined;
          // Without --follow: read up to each partition's end as of now, then stop.
          const remaining = new Map<number, number>();
          if (!options.follow) {
            for (const { partition, offset } of await client.admin.listOffsets(topic, 'latest', partitions)) remaining.set(partition, offset);
            const startOffsets = typeof from === 'number' ? undefined : await client.admin.listOffsets(topic, from, partitions);
            for (const start of startOffsets ?? []) if (start.offset >= remaining.get(start.partition)!) remaining.delete(start.partition);
            if (typeof from === 'number') for (const [p, end] of remaining) if (from >= end) remaining.delete(p);
            if (remaining.size === 0) return;
            // Only what is left to read: an --offset past a partition's end is nothing to read there, not an error.
            partitions = [...remaining.keys()];
          }
          let count = 0;
          const signal = AbortSignal.any([controller.signal, out.closed]);
          for await (const record of client.consume(topic, { from, ...(partitions ? { partitions } : {}), signal })) {
            if (!(await out.write(recordLine(record, options)))) break;
            count++;
            if (options.maxMessages !== undefined && count >= options.maxMessages) break;
            if (!options.follow) {
              const end = remaining.get(record.partition);
              if (end !== undefined && record.offset + 1 >= end) remaining.delete(record.partition);
              if (remaining.size === 0) break;
            }
          }
        });
      } finally {
        signals.dispose();
        out.dispose();
      }
    });
}

/** `consume --group`: a group member until --max-messages, SIGINT or SIGTERM; then commit and leave. */
async function consumeInGroup(topic: string, options: ConsumeCommandOptions, command: Command): Promise<void> {
  if (options.offset !== undefined || options.fromTime !== undefined || options.partition !== undefined) {
    throw new InvalidArgumentError('with --group, the group decides partitions and offsets: --offset, --from-time and --partition do not apply');
  }
  await withClient(command, async (client) => {
    // A member of a topic that does not exist yet waits for it (as a Kafka consumer does); say so.
    await client.admin.describeTopic(topic).catch((error: unknown) => {
      if (!(error instanceof TopicNotFoundError)) throw error;
      process.stderr.write(`topic ${topic} does not exist yet: waiting for it to be created\n`);
    });
    const describe = (ps: Array<{ topic: string; partition: number }>) => ps.map((p) => `${p.topic}/${p.partition}`).sort().join(' ');
    const consumer = client.consumer({
      groupId: options.group!,
      ...(options.instanceId !== undefined ? { instanceId: options.instanceId } : {}),
      topics: [topic],
      fromBeginning: options.fromBeginning ?? false,
      onAssigned: (ps) => void process.stderr.write(`assigned: ${describe(ps)}\n`),
      onRevoked: (ps) => void process.stderr.write(`revoked: ${describe(ps)}\n`),
    });
    const signals = onStopSignals(() => void consumer.close());
    const out = new StdoutLines();
    try {
      let count = 0;
      for await (const record of consumer) {
        // stdout gone (`| head`): the record in hand was not printed, so it is not committed.
        if (!(await out.write(recordLine(record, options)))) break;
        if (options.maxMessages !== undefined && ++count >= options.maxMessages) {
          // Printed: count it as processed (leaving the loop alone would leave it to be read again).
          await consumer.commit();
          break;
        }
      }
    } finally {
      await consumer.close();
      signals.dispose();
      out.dispose();
    }
  });
}
