import { InvalidArgumentError as UsageError, type Command } from 'commander';
import { InvalidArgumentError, TopicNotFoundError } from '../core/errors.js';
import type { ConsumedRecord, ConsumeOptions } from '../client/consume.js';
import { examples, parseInteger, withClient } from './cli-context.js';
import { compileRecordFormat, FORMAT_TOKENS_HELP, toText, type OutputEncoding } from './record-format.js';
import { onStopSignals, StdoutLines } from './stdout-lines.js';
import { RecordDecoder } from './record-decoder.js';
import type { StrataClient } from '../client/strata-client.js';

export type { OutputEncoding } from './record-format.js';

interface ConsumeCommandOptions {
  fromBeginning?: boolean;
  offset?: number;
  fromTime?: string;
  partition?: number;
  maxMessages?: number;
  follow?: boolean;
  json?: boolean;
  format?: string;
  printKeys?: boolean;
  group?: string;
  instanceId?: string;
  encoding: OutputEncoding;
  decode?: boolean;
}

/** How a record is printed: a line at once, or (--decode) once its schema is fetched. */
type RecordPrinter = (record: ConsumedRecord) => string | Promise<string>;

function parseEncoding(value: string): OutputEncoding {
  if (!(ENCODINGS as readonly string[]).includes(value)) throw new UsageError(`--encoding must be one of ${ENCODINGS.join(', ')}, got '${value}'`);
  return value as OutputEncoding;
}

/** What is printed for a record, newline included: --json, --format, --print-keys, else the value alone. */
function recordPrinter(options: ConsumeCommandOptions): (record: ConsumedRecord) => string {
  const chosen = [options.json, options.format !== undefined, options.printKeys].filter(Boolean).length;
  if (chosen > 1) throw new InvalidArgumentError('use only one of --json, --format and --print-keys');
  if (options.decode && (options.format !== undefined || options.printKeys)) throw new InvalidArgumentError('--decode prints JSON lines: it does not go with --format or --print-keys');
  if (options.json) return (record) => formatRecordJson(record, options.encoding) + '\n';
  // As Kafka's console consumer with print.key=true: key, a tab, value.
  const format = compileRecordFormat(options.format ?? (options.printKeys ? '%k\\t%v\\n' : '%v\\n'));
  return (record) => format(record, options.encoding);
}

const ENCODINGS: readonly OutputEncoding[] = ['utf8', 'base64', 'hex'];

/** A --format that does not compile is a usage error, refused while the options are parsed. */
function checkFormat(format: string): string {
  compileRecordFormat(format);
  return format;
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
    // A list, as the record has them: in order, a repeated key kept, a null value null.
    headers: record.headers.map((h) => ({ key: h.key, value: toText(h.value, encoding) })),
  });
}

/** The printer to use with `client`: --decode's decodes keys and values through the server's schema registry. */
function printerFor(client: StrataClient, options: ConsumeCommandOptions, print: RecordPrinter): RecordPrinter {
  if (!options.decode) return print;
  const decoder = new RecordDecoder(client.schemas, options.encoding, (text) => void process.stderr.write(`${text}\n`));
  return async (record) => (await decoder.line(record)) + '\n';
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
    .option('--json', 'one JSON object per line: topic, partition, offset, timestamp, key, value (null for a null value), headers (a list of {key, value} in order, repeats kept)')
    .option('--format <fmt>', `print each record as this kcat-style format, as it is (end it in \\n for lines): ${FORMAT_TOKENS_HELP}`, checkFormat)
    .option('--print-keys', "print the key, a tab, then the value (kcat's -f '%k\\t%v\\n')")
    .option('--encoding <utf8|base64|hex>', 'how keys and values print: utf8 (bytes that are not UTF-8 show as U+FFFD), or base64 / hex for binary data', parseEncoding, 'utf8')
    .option('--decode', 'one JSON line per record, its key and value decoded with the schema their Confluent framing names (fetched from the registry by id; Avro, JSON Schema, Protobuf), plus keySchemaId and valueSchemaId; unframed ones print as text with a null id')
    .option('--group <group>', 'join this consumer group: read the partitions it assigns, committing as it goes (implies --follow)')
    .option('--instance-id <id>', 'static group membership: a restart with the same id keeps its partitions')
    .addHelpText(
      'after',
      examples(
        'strata consume orders --from-beginning --max-messages 10',
        "strata consume orders --from-beginning --format '%p@%o %k=%v [%h]\\n'",
        'strata consume orders --follow --print-keys',
        'strata consume orders --group billing --from-beginning',
        'strata consume orders --from-beginning --decode',
      ),
    )
    .action(async (topic: string, options: ConsumeCommandOptions, command: Command) => {
      const print = recordPrinter(options);
      if (options.group !== undefined) return consumeInGroup(topic, options, print, command);
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
          const printRecord = printerFor(client, options, print);
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
            if (!(await out.writeText(await printRecord(record)))) break;
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
async function consumeInGroup(topic: string, options: ConsumeCommandOptions, print: RecordPrinter, command: Command): Promise<void> {
  if (options.offset !== undefined || options.fromTime !== undefined || options.partition !== undefined) {
    throw new InvalidArgumentError('with --group, the group decides partitions and offsets: --offset, --from-time and --partition do not apply');
  }
  await withClient(command, async (client) => {
    const printRecord = printerFor(client, options, print);
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
        if (!(await out.writeText(await printRecord(record)))) break;
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
