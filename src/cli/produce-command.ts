import { createInterface } from 'node:readline';
import { InvalidArgumentError as UsageError, type Command } from 'commander';
import type { ConsumedRecord } from '../client/consume.js';
import { ServerUnreachableError } from '../client/client-error.js';
import { InvalidArgumentError, RecordSerializationError } from '../core/errors.js';
import { MAX_CLI_UNACKNOWLEDGED_RECORDS } from '../core/limits.js';
import { examples, parseInteger, withClient } from './cli-context.js';
import { valueSerializerFor, parseSchemaType, type ValueSchemaOptions } from './value-schema.js';

interface ProduceOptions {
  key?: string;
  partition?: number;
  value?: string;
  keySeparator?: string;
  acks: 'default' | 'none' | 'written' | 'durable';
  json?: boolean;
  producerName?: string;
  messageIdFromKey?: boolean;
  header: ConsumedRecord['headers'];
  emptyAsNull?: boolean;
}

type ProduceCommandOptions = ProduceOptions & ValueSchemaOptions;

/** Repeated `--header k=v` as Kafka's ordered header list: order and repeated keys kept. */
function collectHeader(value: string, previous: ConsumedRecord['headers'] = []): ConsumedRecord['headers'] {
  const separator = value.indexOf('=');
  if (separator <= 0) throw new UsageError(`--header expects key=value, got '${value}'`);
  return [...previous, { key: value.slice(0, separator), value: Buffer.from(value.slice(separator + 1), 'utf8') }];
}

export function registerProduceCommand(program: Command): void {
  program
    .command('produce <topic>')
    .description('write records: --value once, or one record per line of standard input')
    .option('--key <key>', 'record key (same key, same partition)')
    .option('--partition <p>', 'write to this partition instead of choosing by key', parseInteger('--partition'))
    .option('--value <value>', 'a single record value; without it, each stdin line is a record')
    .option('--key-separator <sep>', 'split each stdin line into key and value at the first <sep>')
    .option('--acks <level>', 'default | none | written | durable', 'default')
    .option('--json', 'print one JSON line per acknowledged record')
    .option('--message-id-from-key', 'use each record\'s key as its message id (topics with dedupe.window.ms: a record whose id was appended within the window is not written again)')
    .option('--producer-name <name>', "like Kafka's transactional.id: a newer producer with this name fences this one (it stops with PRODUCER_FENCED)")
    .option('--header <key=value>', 'a header on every record (repeatable; order and repeated keys kept)', collectHeader, [])
    .option('--value-schema-id <id>', 'each value is JSON, encoded with this registered schema (any format) in Confluent framing', parseInteger('--value-schema-id', 0))
    .option('--value-schema <file>', 'each value is JSON, encoded with the schema in this file (registered under <topic>-value first, if it is not there)')
    .option('--schema-type <avro|json|protobuf>', "the format of --value-schema's file (default avro)", parseSchemaType)
    .option('--message-name <name>', 'Protobuf: the message values are (default the first of the schema)')
    .option('-Z, --empty-as-null', "send an empty value as a null value (kcat's -Z): a tombstone for its key on a compacted topic")
    .addHelpText(
      'after',
      examples(
        'strata produce orders --key alice --value "signed up" --header source=web --header trace=abc',
        "printf 'alice:paid\\nbob:refunded\\n' | strata produce orders --key-separator :",
        "strata produce orders --key alice --value '' -Z      # a null value",
        'echo \'{"id": 7, "total": 12}\' | strata produce orders --value-schema order.avsc',
      ),
    )
    .action(async (topic: string, options: ProduceCommandOptions, command: Command) => {
      const valueSchema = valueSerializerFor(options);
      const count = await withClient(command, async (client) => {
        const producerOptions = { acks: options.acks, ...(options.producerName !== undefined ? { producerName: options.producerName, logger: { warn: () => undefined } } : {}) };
        const producer = valueSchema ? client.producer({ ...producerOptions, valueSerializer: valueSchema.serializer(client.schemas) }) : client.producer(producerOptions);
        let sentCount = 0;
        let duplicateCount = 0;
        let outstanding = 0;
        let onRoom: (() => void) | undefined;
        let firstError: unknown;
        const lines = options.value === undefined ? createInterface({ input: process.stdin, crlfDelay: Infinity }) : undefined;
        const sendLine = (line: string) => {
          let key = options.key ?? null;
          let value: string | null = line;
          if (options.keySeparator !== undefined) {
            const at = line.indexOf(options.keySeparator);
            if (at >= 0) {
              key = line.slice(0, at);
              value = line.slice(at + options.keySeparator.length);
            }
          }
          if (options.messageIdFromKey && key === null) {
            firstError ??= new InvalidArgumentError('--message-id-from-key needs a key for every record (--key, or --key-separator with a key on each line)');
            lines?.close();
            return;
          }
          if (options.emptyAsNull && value === '') value = null;
          let encoded: unknown = value;
          if (valueSchema && value !== null) {
            try {
              encoded = valueSchema.parse(value, sentCount + 1);
            } catch (error) {
              firstError ??= error;
              lines?.close();
              return;
            }
          }
          sentCount++;
          outstanding++;
          // Not awaited one by one, so the producer can batch; MAX_CLI_UNACKNOWLEDGED_RECORDS bounds what stdin queues.
          producer
            .send(topic, { key, value: encoded as string | null, ...(options.header.length > 0 ? { headers: options.header } : {}), ...(options.partition !== undefined ? { partition: options.partition } : {}), ...(options.messageIdFromKey ? { messageId: key! } : {}) })
            .then(
              (metadata) => {
                if (metadata.duplicate) duplicateCount++;
                if (options.json) process.stdout.write(JSON.stringify(metadata) + '\n');
              },
              (error: unknown) => {
                firstError ??= error;
                // Nobody to send to (the producer waited as long as it allows), or a newer producer of
                // the same name took over: reading more would only fail more.
                // A value that does not fit its schema: the rest would likely not either.
                if (error instanceof ServerUnreachableError || (error as { code?: unknown }).code === 'PRODUCER_FENCED' || error instanceof RecordSerializationError) lines?.close();
              },
            )
            .finally(() => {
              outstanding--;
              if (outstanding < MAX_CLI_UNACKNOWLEDGED_RECORDS) onRoom?.();
            });
        };
        try {
          if (!lines) sendLine(options.value!);
          else {
            for await (const line of lines) {
              sendLine(line);
              if (outstanding >= MAX_CLI_UNACKNOWLEDGED_RECORDS) await new Promise<void>((resolve) => (onRoom = resolve));
            }
          }
          await producer.flush();
          if (firstError) throw firstError;
          return { sentCount, duplicateCount };
        } finally {
          await producer.close();
        }
      });
      const { sentCount, duplicateCount } = count;
      const duplicates = duplicateCount > 0 ? ` (${duplicateCount} ${duplicateCount === 1 ? 'was a duplicate' : 'were duplicates'}, not written again)` : '';
      if (!options.json) process.stderr.write(`produced ${sentCount} record${sentCount === 1 ? '' : 's'} to ${topic}${duplicates}\n`);
    });
}
