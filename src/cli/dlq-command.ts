import { status as grpcStatus } from '@grpc/grpc-js';
import type { Command } from 'commander';
import { StrataClientError } from '../client/client-error.js';
import type { ConsumedRecord } from '../client/consume.js';
import { MAX_CLI_UNACKNOWLEDGED_RECORDS } from '../core/limits.js';
import { DEAD_LETTER_HEADER_PREFIX, DEFAULT_DEAD_LETTER_SUFFIX, deadLetterInfo as readDeadLetterInfo, type DeadLetterInfo } from '../core/dead-letter-headers.js';
import type { StrataClient } from '../client/strata-client.js';
import { examples, parseInteger, printJson, printTable, withClient } from './cli-context.js';
import { formatRecordJson } from './consume-command.js';
import { StdoutLines } from './stdout-lines.js';

const DEFAULT_SUFFIX = DEFAULT_DEAD_LETTER_SUFFIX;
const DEAD_LETTER_PREFIX = DEAD_LETTER_HEADER_PREFIX;
export type { DeadLetterInfo };

/**
 * Every record of `topic` from its log start up to its end as of now (records appended meanwhile are
 * not read), in offset order per partition; `onRecord` returning false stops the reading.
 */
async function readToEnd(client: StrataClient, topic: string, onRecord: (record: ConsumedRecord) => Promise<boolean> | boolean): Promise<void> {
  const remaining = new Map<number, number>();
  for (const { partition, offset } of await client.admin.listOffsets(topic, 'latest')) remaining.set(partition, offset);
  for (const { partition, offset } of await client.admin.listOffsets(topic, 'earliest')) if (offset >= remaining.get(partition)!) remaining.delete(partition);
  if (remaining.size === 0) return;
  const controller = new AbortController();
  for await (const record of client.consume(topic, { from: 'earliest', partitions: [...remaining.keys()], signal: controller.signal })) {
    if (!(await onRecord(record))) break;
    if (record.offset + 1 >= remaining.get(record.partition)!) remaining.delete(record.partition);
    if (remaining.size === 0) break;
  }
  controller.abort();
}

/** Dead-letter topics: those queue groups name in their describe, and those named `*<.dlq>`; each with its source topic. */
export async function deadLetterTopics(client: StrataClient): Promise<Map<string, { sourceTopic: string; groups: Set<string> }>> {
  const existing = new Set((await client.admin.listTopics()).map((t) => t.name));
  const found = new Map<string, { sourceTopic: string; groups: Set<string> }>();
  // A server without queue groups (UNIMPLEMENTED) still has the group consumer's dead-letter topics.
  const queueGroups = await client.admin.listQueueGroups().catch((error: unknown) => {
    if (error instanceof StrataClientError && error.grpcStatus === grpcStatus.UNIMPLEMENTED) return [];
    throw error;
  });
  for (const { groupId } of queueGroups) {
    const description = await client.admin.describeQueueGroup(groupId).catch(() => undefined); // deleted meanwhile
    for (const partition of description?.partitions ?? []) {
      if (!partition.deadLetterTopic || !existing.has(partition.deadLetterTopic)) continue;
      const entry = found.get(partition.deadLetterTopic) ?? { sourceTopic: partition.topic, groups: new Set<string>() };
      entry.groups.add(groupId);
      found.set(partition.deadLetterTopic, entry);
    }
  }
  for (const topic of existing) {
    if (topic.endsWith(DEFAULT_SUFFIX) && topic.length > DEFAULT_SUFFIX.length && !found.has(topic)) {
      found.set(topic, { sourceTopic: topic.slice(0, -DEFAULT_SUFFIX.length), groups: new Set() });
    }
  }
  return found;
}

/** Records a topic holds now: the sum over its partitions of log end minus log start. */
export async function topicRecordCount(client: StrataClient, topic: string): Promise<number> {
  const latest = await client.admin.listOffsets(topic, 'latest');
  const earliest = new Map((await client.admin.listOffsets(topic, 'earliest')).map((o) => [o.partition, o.offset]));
  return latest.reduce((sum, o) => sum + o.offset - (earliest.get(o.partition) ?? 0), 0);
}

function deadLetterLine(record: ConsumedRecord, info: DeadLetterInfo): string {
  const source = info.sourceTopic !== undefined ? `${info.sourceTopic}/${info.sourcePartition ?? '?'}@${info.sourceOffset ?? '?'}` : 'unknown source';
  const at = info.deadLetteredAtMs !== undefined ? new Date(info.deadLetteredAtMs).toISOString() : '?';
  const key = record.key === null ? '' : ` key=${record.key.toString('utf8')}`;
  return `${record.partition}@${record.offset} from ${source}, group ${info.group ?? '?'}, ${info.attempts ?? '?'} attempts, ${info.cause ?? '?'} at ${at}: ${info.error ?? ''}${key} value=${record.value?.toString('utf8') ?? 'null'}`;
}

export function registerDlqCommand(program: Command): void {
  const dlq = program.command('dlq').description('dead-letter topics: list, inspect, redrive to their source').addHelpText('after', examples('strata dlq list', 'strata dlq inspect orders.dlq --max-messages 10', 'strata dlq redrive orders.dlq --execute'));

  dlq
    .command('list [topic]')
    .addHelpText('after', examples('strata dlq list', 'strata dlq list orders --json'))
    .description('dead-letter topics (of one source topic if given) and how many records they hold')
    .option('--json', 'print JSON')
    .action(async (sourceTopic: string | undefined, options: { json?: boolean }, command: Command) => {
      const rows = await withClient(command, async (client) => {
        const topics = [...(await deadLetterTopics(client)).entries()].filter(([, t]) => sourceTopic === undefined || t.sourceTopic === sourceTopic).sort(([a], [b]) => a.localeCompare(b));
        const result = [];
        for (const [topic, { sourceTopic: source, groups }] of topics) {
          const partitions = (await client.admin.listOffsets(topic, 'latest')).length;
          result.push({ topic, sourceTopic: source, partitions, records: await topicRecordCount(client, topic), queueGroups: [...groups].sort() });
        }
        return result;
      });
      if (options.json) return printJson(rows);
      printTable(['dead-letter topic', 'source topic', 'partitions', 'records', 'queue groups'], rows.map((r) => [r.topic, r.sourceTopic, r.partitions, r.records, r.queueGroups.join(' ') || '-']));
    });

  dlq
    .command('inspect <dlqTopic>')
    .addHelpText('after', examples('strata dlq inspect orders.dlq --max-messages 10', 'strata dlq inspect orders.dlq --json'))
    .description('print dead letters with where they came from and why: source coordinates, group, attempts, cause, last error')
    .option('--max-messages <n>', 'stop after this many', parseInteger('--max-messages', 1))
    .option('--json', 'one JSON object per line: the record and its deadLetter fields')
    .action(async (topic: string, options: { maxMessages?: number; json?: boolean }, command: Command) => {
      const out = new StdoutLines();
      try {
        await withClient(command, async (client) => {
          let count = 0;
          await readToEnd(client, topic, async (record) => {
            const info = readDeadLetterInfo(record.headers);
            const line = options.json ? JSON.stringify({ ...(JSON.parse(formatRecordJson(record)) as object), deadLetter: info }) : deadLetterLine(record, info);
            if (!(await out.write(line))) return false;
            return options.maxMessages === undefined || ++count < options.maxMessages;
          });
        });
      } finally {
        out.dispose();
      }
    });

  dlq
    .command('redrive <dlqTopic>')
    .addHelpText('after', examples('strata dlq redrive orders.dlq            # a dry run: what would go where', 'strata dlq redrive orders.dlq --execute'))
    .description('append dead letters back to their source topic and partition (key, value, headers and timestamp kept, strata.dlq.* headers dropped); a dry run unless --execute')
    .option('--execute', 'append them (each source record once, even if the dead-letter topic holds it twice)')
    .option('--json', 'print JSON')
    .action(async (topic: string, options: { execute?: boolean; json?: boolean }, command: Command) => {
      const summary = await withClient(command, async (client) => {
        const seen = new Set<string>();
        const perTarget = new Map<string, number>();
        let duplicates = 0;
        let withoutSource = 0;
        let appended = 0;
        const producer = options.execute ? client.producer({ acks: 'durable' }) : undefined;
        // Sends not yet acknowledged, bounded as `strata produce` bounds them.
        const outstanding = new Set<Promise<unknown>>();
        let firstError: unknown;
        try {
          await readToEnd(client, topic, async (record) => {
            const info = readDeadLetterInfo(record.headers);
            if (info.sourceTopic === undefined || info.sourcePartition === undefined || info.sourceOffset === undefined) {
              withoutSource++;
              return true;
            }
            const coordinates = `${info.sourceTopic}\u0000${info.sourcePartition}\u0000${info.sourceOffset}`;
            if (seen.has(coordinates)) {
              duplicates++; // a crash between the dead-letter append and the archive wrote it twice
              return true;
            }
            seen.add(coordinates);
            const target = `${info.sourceTopic}/${info.sourcePartition}`;
            perTarget.set(target, (perTarget.get(target) ?? 0) + 1);
            if (!producer) return true;
            // The list as the record has it: an object would keep one value of a repeated key, and no null.
            const headers = record.headers.filter((h) => !h.key.startsWith(DEAD_LETTER_PREFIX));
            while (outstanding.size >= MAX_CLI_UNACKNOWLEDGED_RECORDS) await Promise.race(outstanding);
            if (firstError !== undefined) return false;
            const tracked: Promise<unknown> = producer
              .send(info.sourceTopic, { key: record.key, value: record.value, headers, timestampMs: record.timestampMs, partition: info.sourcePartition })
              .then(
                () => void appended++,
                (error: unknown) => void (firstError ??= error),
              )
              .finally(() => outstanding.delete(tracked));
            outstanding.add(tracked);
            return true;
          });
          await Promise.all([...outstanding]);
        } finally {
          await producer?.close();
        }
        // What was appended before the failure stays appended: say how much, then fail.
        if (firstError !== undefined) {
          process.stderr.write(`appended ${appended} records before a failure\n`);
          throw firstError;
        }
        const wouldAppend = [...perTarget.values()].reduce((a, b) => a + b, 0);
        return { executed: options.execute ?? false, records: wouldAppend, appended, duplicates, withoutSource, perTarget: Object.fromEntries([...perTarget.entries()].sort()) };
      });
      if (options.json) return printJson(summary);
      if (summary.records > 0) printTable(['source topic/partition', 'records'], Object.entries(summary.perTarget));
      const skipped = [summary.duplicates > 0 ? `${summary.duplicates} duplicates skipped` : '', summary.withoutSource > 0 ? `${summary.withoutSource} without source headers skipped` : ''].filter(Boolean).join(', ');
      const tail = skipped ? ` (${skipped})` : '';
      if (summary.executed) process.stdout.write(`appended ${summary.appended} records to their source topics${tail}\n`);
      else process.stdout.write(`dry run: would append ${summary.records} records to their source topics${tail}; add --execute to append them\n`);
    });
}
