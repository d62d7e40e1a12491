import { InvalidArgumentError as UsageError, type Command } from 'commander';
import type { QueueDepth, QueueGroupDescription, QueueResetSpec } from '../client/admin.js';
import type { QueueMessage } from '../client/queue-message.js';
import type { QueueGroupConfigOptions, QueueGroupConfigValues } from '../client/queue-options.js';
import { InvalidArgumentError } from '../core/errors.js';
import { QUEUE_DEFAULT_IN_FLIGHT } from '../core/limits.js';
import { collectKeyValue, examples, parseInteger, printJson, printTable, withClient } from './cli-context.js';
import { formatRecordJson, type OutputEncoding } from './consume-command.js';
import { onStopSignals, StdoutLines } from './stdout-lines.js';
import { RecordDecoder } from './record-decoder.js';

type AckMode = 'ack' | 'release' | 'reject' | 'none';
const ACK_MODES: readonly AckMode[] = ['ack', 'release', 'reject', 'none'];

interface QueueConsumeOptions {
  group: string;
  inFlight?: number;
  ackMode: AckMode;
  maxMessages?: number;
  timeoutMs?: number;
  json?: boolean;
  encoding: OutputEncoding;
  decode?: boolean;
}

/** `--set` keys: the client's names, and Kafka-style dotted ones (max.delivery.attempts). */
const CONFIG_KEYS: Record<string, keyof QueueGroupConfigValues> = {
  'lock.duration.ms': 'lockDurationMs',
  'max.delivery.attempts': 'maxDeliveryAttempts',
  'backoff.base.ms': 'backoffBaseMs',
  'backoff.factor': 'backoffFactor',
  'backoff.max.ms': 'backoffMaxMs',
  'backoff.jitter': 'backoffJitter',
  ordering: 'ordering',
  delivery: 'delivery',
  'dead.letter.topic.suffix': 'deadLetterTopicSuffix',
  start: 'start',
};
const NUMERIC_KEYS = new Set<keyof QueueGroupConfigValues>(['lockDurationMs', 'maxDeliveryAttempts', 'backoffBaseMs', 'backoffFactor', 'backoffMaxMs', 'backoffJitter']);

/** `--set k=v` pairs as a partial configuration (values checked by the client, then the server). */
export function parseQueueConfig(pairs: Record<string, string>): QueueGroupConfigOptions {
  const config: Record<string, string | number> = {};
  for (const [rawKey, rawValue] of Object.entries(pairs)) {
    const key = CONFIG_KEYS[rawKey] ?? (Object.values(CONFIG_KEYS).includes(rawKey as keyof QueueGroupConfigValues) ? (rawKey as keyof QueueGroupConfigValues) : undefined);
    if (!key) throw new InvalidArgumentError(`unknown queue group config '${rawKey}' (known: ${Object.keys(CONFIG_KEYS).join(', ')})`);
    if (NUMERIC_KEYS.has(key)) {
      const value = Number(rawValue);
      if (rawValue.trim() === '' || !Number.isFinite(value)) throw new InvalidArgumentError(`${rawKey} must be a number, got '${rawValue}'`);
      config[key] = value;
    } else {
      config[key] = rawValue;
    }
  }
  return config as QueueGroupConfigOptions;
}

function parseEncoding(value: string): OutputEncoding {
  if (value !== 'utf8' && value !== 'base64' && value !== 'hex') throw new UsageError(`--encoding must be one of utf8, base64, hex, got '${value}'`);
  return value;
}

function parseAckMode(value: string): AckMode {
  if (!(ACK_MODES as readonly string[]).includes(value)) throw new UsageError(`--ack-mode must be one of ${ACK_MODES.join(', ')}, got '${value}'`);
  return value as AckMode;
}

function configLine(config: QueueGroupConfigValues | undefined): string {
  if (!config) return 'configuration unknown';
  const jitterPercent = Math.round(config.backoffJitter * 100);
  return (
    `lock ${config.lockDurationMs} ms, at most ${config.maxDeliveryAttempts} deliveries, backoff ${config.backoffBaseMs} ms x${config.backoffFactor} up to ${config.backoffMaxMs} ms ±${jitterPercent} %, ` +
    `ordering ${config.ordering}, ${config.delivery}, dead letters to <topic>${config.deadLetterTopicSuffix}, new partitions start at ${config.start}`
  );
}

const depthCells = (d: QueueDepth) => [d.depth, d.inFlight, d.waitingForRetry, d.oldestUnacknowledgedAgeMs, d.deadLetterDepth, d.deadLettered, d.redeliveries];
const EMPTY_DEPTH: QueueDepth = { depth: 0, inFlight: 0, waitingForRetry: 0, oldestUnacknowledgedAgeMs: 0, deadLetterDepth: 0, deadLettered: 0, redeliveries: 0 };

export function printQueueDescription(d: QueueGroupDescription): void {
  process.stdout.write(`queue group ${d.groupId}: ${d.members.length} member${d.members.length === 1 ? '' : 's'}; ${configLine(d.config)}\n`);
  if (d.members.length > 0) {
    printTable(
      ['member', 'client id', 'topics', 'in flight', 'limit'],
      d.members.map((m) => [m.memberId, m.clientId || '-', m.topics.join(' '), m.inFlight, m.inFlightLimit]),
    );
  }
  const head = ['topic', 'partition', 'start offset', 'high watermark', 'depth', 'in flight', 'waiting', 'oldest unacked ms', 'dead-letter depth', 'dead-lettered', 'redeliveries', 'dead-letter topic'];
  const rows: Array<Array<string | number>> = d.partitions.map((p) => {
    const [depth, inFlight, waiting, oldest, dlqDepth, deadLettered, redeliveries] = depthCells(p.depth ?? EMPTY_DEPTH);
    return [p.topic, p.partition, p.startOffset, p.highWatermark, depth!, inFlight!, waiting!, oldest!, dlqDepth!, deadLettered!, redeliveries!, p.deadLetterTopic || '-'];
  });
  const [depth, inFlight, waiting, oldest, dlqDepth, deadLettered, redeliveries] = depthCells(d.total);
  rows.push(['total', '', '', '', depth!, inFlight!, waiting!, oldest!, dlqDepth!, deadLettered!, redeliveries!, '']);
  printTable(head, rows);
}

/** One printed line per message: its value, or JSON with the record's fields, delivery count and lock deadline. */
function messageLine(message: QueueMessage, options: QueueConsumeOptions): string {
  if (!options.json) return message.value === null ? '' : message.value.toString(options.encoding);
  const record = JSON.parse(formatRecordJson(message, options.encoding)) as object;
  return JSON.stringify({ ...record, deliveryCount: message.deliveryCount, lockDeadlineMs: message.lockDeadlineMs });
}

function answer(message: QueueMessage, mode: AckMode): Promise<void> | undefined {
  if (mode === 'ack') return message.ack();
  if (mode === 'release') return message.release({ reason: 'released by strata queue consume' });
  if (mode === 'reject') return message.reject('rejected by strata queue consume');
  return undefined;
}

/**
 * `queue consume`: a queue group member that prints what it is handed and answers each printed
 * message as --ack-mode says (none: it holds them until it exits, then the server releases them).
 * Stops after --max-messages, after --timeout-ms without a message, or on SIGINT / SIGTERM; then
 * sends its answers, waits for their results and leaves.
 */
async function consumeQueue(topic: string, options: QueueConsumeOptions, command: Command): Promise<void> {
  await withClient(command, async (client) => {
    const controller = new AbortController();
    // No more held than will be printed: what a member holds when it leaves waits out its backoff.
    const inFlightLimit = options.inFlight ?? Math.min(QUEUE_DEFAULT_IN_FLIGHT, options.maxMessages ?? QUEUE_DEFAULT_IN_FLIGHT);
    // When --max-messages fits in one window, the answers go at the end, with the leave: an answer
    // sent earlier frees a place the server fills with a record nobody will print (and whose delivery
    // then counts). Past one window they must go as they come: held, they hold the server's next
    // deliveries, and the run would stall for the whole linger at every window.
    const answerLingerMs = options.maxMessages !== undefined && options.maxMessages <= inFlightLimit ? 60_000 : 2;
    const queue = client.queue({ groupId: options.group, topics: [topic], inFlightLimit, answerLingerMs, clientId: 'strata-cli', signal: controller.signal, logger: { warn: (fields, message) => void process.stderr.write(`${message} ${JSON.stringify(fields)}\n`) } });
    const signals = onStopSignals(() => controller.abort());
    const out = new StdoutLines();
    const decoder = options.decode ? new RecordDecoder(client.schemas, options.encoding, (text) => void process.stderr.write(`${text}\n`)) : undefined;
    // Answers on their way (at most about the in-flight limit: the server hands out no more).
    const answers = new Set<Promise<void>>();
    let answerCount = 0;
    let failedAnswers = 0;
    let idleTimer: NodeJS.Timeout | undefined;
    const armIdle = () => {
      if (options.timeoutMs === undefined) return;
      clearTimeout(idleTimer);
      idleTimer = setTimeout(() => controller.abort(), options.timeoutMs);
    };
    try {
      armIdle();
      let count = 0;
      for await (const message of queue) {
        armIdle();
        // stdout gone (`| head`): the message in hand was not printed, so it is not answered.
        const line = decoder ? await decoder.line(message, { deliveryCount: message.deliveryCount, lockDeadlineMs: message.lockDeadlineMs }) : messageLine(message, options);
        if (!(await out.write(line))) break;
        const answered = answer(message, options.ackMode);
        if (answered) {
          answerCount++;
          const settled = answered
            .catch((error: unknown) => {
              failedAnswers++;
              process.stderr.write(`answer for ${message.topic}/${message.partition}@${message.offset} failed: ${(error as Error).message}\n`);
            })
            .finally(() => answers.delete(settled));
          answers.add(settled);
        }
        if (options.maxMessages !== undefined && ++count >= options.maxMessages) break;
      }
    } finally {
      clearTimeout(idleTimer);
      await queue.close();
      await Promise.all([...answers]);
      signals.dispose();
      out.dispose();
    }
    if (failedAnswers > 0) {
      process.stderr.write(`${failedAnswers} of ${answerCount} answers failed (their records go to a member again)\n`);
      process.exitCode = 1;
    }
  });
}

/** Where `queue reset` moves the start offset, from its flags. */
function resetTarget(options: { toEarliest?: boolean; toLatest?: boolean; toOffset?: number }): QueueResetSpec {
  const chosen = [options.toEarliest, options.toLatest, options.toOffset !== undefined].filter(Boolean).length;
  if (chosen !== 1) throw new InvalidArgumentError('choose exactly one of --to-earliest, --to-latest, --to-offset');
  if (options.toEarliest) return 'earliest';
  if (options.toLatest) return 'latest';
  return options.toOffset!;
}

export function registerQueueCommand(program: Command): void {
  const queue = program.command('queue').description('queue groups: consume with per-record answers, describe, list, configure, reset, delete').addHelpText('after', examples('strata queue consume tasks --group workers --max-messages 10', 'strata queue describe workers', 'strata queue config workers --set max.delivery.attempts=5'));

  queue
    .command('consume <topic>')
    .addHelpText('after', examples('strata queue consume tasks --group workers --max-messages 10', 'strata queue consume tasks --group workers --ack-mode reject --max-messages 1 --json'))
    .description('join a queue group and print the records it hands out, answering each as --ack-mode says')
    .requiredOption('--group <group>', 'the queue group')
    .option('--in-flight <n>', 'most unanswered records held at once (1..10000; default 100, or --max-messages if fewer)', parseInteger('--in-flight', 1))
    .option('--ack-mode <mode>', 'ack | release | reject | none (hold until exit, then the server releases them)', parseAckMode, 'ack')
    .option('--max-messages <n>', 'stop after this many records', parseInteger('--max-messages', 1))
    .option('--timeout-ms <n>', 'stop when no record came for this long', parseInteger('--timeout-ms', 1))
    .option('--json', 'one JSON object per line: topic, partition, offset, timestamp, key, value, headers, deliveryCount, lockDeadlineMs')
    .option('--encoding <utf8|base64|hex>', 'how keys and values print', parseEncoding, 'utf8')
    .option('--decode', "as --json, with key and value decoded by the schema their Confluent framing names (as consume --decode)")
    .action((topic: string, options: QueueConsumeOptions, command: Command) => consumeQueue(topic, options, command));

  queue
    .command('describe <group>')
    .addHelpText('after', examples('strata queue describe workers', 'strata queue describe workers --json'))
    .description('configuration, members, and per partition and in total: depth, in flight, waiting for retry, oldest unacknowledged age, dead letters')
    .option('--json', 'print JSON')
    .action(async (groupId: string, options: { json?: boolean }, command: Command) => {
      const description = await withClient(command, (c) => c.admin.describeQueueGroup(groupId));
      if (options.json) return printJson(description);
      printQueueDescription(description);
    });

  queue
    .command('list')
    .addHelpText('after', examples('strata queue list'))
    .description('queue groups, their member counts and topics')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }, command: Command) => {
      const groups = await withClient(command, (c) => c.admin.listQueueGroups());
      if (options.json) return printJson(groups);
      printTable(['queue group', 'members', 'topics'], groups.map((g) => [g.groupId, g.memberCount, g.topics.join(' ')]));
    });

  queue
    .command('config <group>')
    .addHelpText('after', examples('strata queue config workers --set max.delivery.attempts=5 --set lock.duration.ms=60000'))
    .description(`change a group's configuration; keys: ${Object.keys(CONFIG_KEYS).join(', ')}`)
    .requiredOption('--set <key=value>', 'a value to change (repeatable)', collectKeyValue)
    .option('--json', 'print JSON')
    .action(async (groupId: string, options: { set: Record<string, string>; json?: boolean }, command: Command) => {
      const config = parseQueueConfig(options.set);
      const inForce = await withClient(command, (c) => c.admin.alterQueueGroupConfig(groupId, config));
      if (options.json) return printJson(inForce);
      process.stdout.write(`queue group ${groupId}: ${configLine(inForce)}\n`);
    });

  queue
    .command('reset <group>')
    .addHelpText('after', examples('strata queue reset workers --topic tasks --to-latest            # a dry run', 'strata queue reset workers --topic tasks --to-offset 1000 --execute'))
    .description("move a group's start offset in a topic (everything below counts as done); prints the plan, applies it only with --execute")
    .requiredOption('--topic <topic>', 'the topic whose partitions move')
    .option('--to-earliest', 'to the log start (everything retained is handed out again)')
    .option('--to-latest', 'to the log end (everything there is counts as done)')
    .option('--to-offset <n>', 'to this offset', parseInteger('--to-offset'))
    .option('--partition <p>', 'only this partition', parseInteger('--partition'))
    .option('--execute', 'apply it (refused while the group has members)')
    .option('--json', 'print JSON')
    .action(async (groupId: string, options: { topic: string; toEarliest?: boolean; toLatest?: boolean; toOffset?: number; partition?: number; execute?: boolean; json?: boolean }, command: Command) => {
      const to = resetTarget(options);
      const partitions = options.partition !== undefined ? [options.partition] : [];
      await withClient(command, async (client) => {
        const current = (await client.admin.describeQueueGroup(groupId)).partitions.filter((p) => p.topic === options.topic && (partitions.length === 0 || partitions.includes(p.partition)));
        const currentOf = new Map(current.map((p) => [p.partition, p.startOffset]));
        let changes: Array<{ topic: string; partition: number; previousStartOffset: number | null; newStartOffset: number }>;
        if (options.execute) {
          const moved = await client.admin.resetQueueGroup(groupId, options.topic, to, partitions);
          changes = moved.map((p) => ({ topic: p.topic, partition: p.partition, previousStartOffset: currentOf.get(p.partition) ?? null, newStartOffset: p.startOffset }));
        } else {
          const targets = typeof to === 'number' ? undefined : await client.admin.listOffsets(options.topic, to, partitions);
          const partitionList = targets ? targets.map((t) => t.partition) : partitions.length > 0 ? partitions : current.map((p) => p.partition);
          changes = partitionList.map((partition) => ({
            topic: options.topic,
            partition,
            previousStartOffset: currentOf.get(partition) ?? null,
            newStartOffset: typeof to === 'number' ? to : targets!.find((t) => t.partition === partition)!.offset,
          }));
        }
        if (options.json) return printJson({ changes, executed: options.execute ?? false });
        printTable(['topic', 'partition', 'current start', 'new start'], changes.map((c) => [c.topic, c.partition, c.previousStartOffset ?? '-', c.newStartOffset]));
        process.stdout.write(options.execute ? 'start offsets reset\n' : 'dry run: nothing changed (add --execute to apply)\n');
      });
    });

  queue
    .command('delete <group>')
    .addHelpText('after', examples('strata queue delete workers'))
    .description('forget a group with no members, and its state')
    .option('--json', 'print JSON')
    .action(async (groupId: string, options: { json?: boolean }, command: Command) => {
      await withClient(command, (c) => c.admin.deleteQueueGroup(groupId));
      if (options.json) printJson({ deleted: groupId });
      else process.stdout.write(`deleted queue group ${groupId}\n`);
    });
}
