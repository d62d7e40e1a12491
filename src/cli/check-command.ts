import { status as grpcStatus } from '@grpc/grpc-js';
import { InvalidArgumentError as UsageError, type Command } from 'commander';
import { connectionErrorOf, StrataClientError } from '../client/client-error.js';
import type { StrataClient } from '../client/strata-client.js';
import { ServerUnreachableError } from '../client/transport-errors.js';
import { StrataError } from '../core/errors.js';
import { clientFor, examples, parseInteger, printJson } from './cli-context.js';
import { deadLetterTopics, topicRecordCount } from './dlq-command.js';

/** Exit codes as Nagios plugins and rpk's health checks have them. */
export const CHECK_EXIT_CODES = { ok: 0, warning: 1, critical: 2 } as const;
export type CheckSeverity = keyof typeof CHECK_EXIT_CODES;

export interface CheckFinding {
  severity: Exclude<CheckSeverity, 'ok'>;
  /** What was measured: `group billing orders/0 lag`, `dead-letter topic orders.dlq`, ... */
  subject: string;
  message: string;
}

export interface CheckLimits {
  maxLagRecords?: number;
  maxLagSeconds?: number;
  maxDlq?: number;
  /** A value above warnRatio x its maximum (and not above the maximum) is a warning. */
  warnRatio: number;
}

/** critical above the maximum, warning above warnRatio x the maximum, else undefined (also without a maximum). */
export function severityOf(value: number, max: number | undefined, warnRatio: number): Exclude<CheckSeverity, 'ok'> | undefined {
  if (max === undefined) return undefined;
  if (value > max) return 'critical';
  if (value > max * warnRatio) return 'warning';
  return undefined;
}

interface CheckOptions {
  maxLagRecords?: number;
  maxLagSeconds?: number;
  maxDlq?: number;
  group?: string;
  warnRatio: number;
  timeoutMs: number;
  json?: boolean;
}

function parseRatio(value: string): number {
  const ratio = Number(value);
  if (value.trim() === '' || !(ratio >= 0 && ratio <= 1)) throw new UsageError(`--warn-ratio must be a number from 0 to 1, got '${value}'`);
  return ratio;
}

/** What one run looked at, for the OK line. */
interface Checked {
  groups: number;
  queueGroups: number;
  deadLetterTopics: number;
  partitions: number;
}

/**
 * Everything `strata check` measures, read through the Admin API: per partition the lag of consumer
 * groups (partitions with a commit: without one there is no lag to speak of, as Kafka's tools show
 * `-`), per topic the depth and oldest unacknowledged age of queue groups, the records held by
 * dead-letter topics, and every partition's status.
 */
export async function runChecks(client: StrataClient, limits: CheckLimits, group?: string): Promise<{ findings: CheckFinding[]; checked: Checked }> {
  const findings: CheckFinding[] = [];
  const add = (severity: CheckFinding['severity'] | undefined, subject: string, message: string) => {
    if (severity) findings.push({ severity, subject, message });
  };
  const limitText = (value: number, max: number, unit: string) => `${value} ${unit} (max ${max}${value <= max ? `, warning above ${max * limits.warnRatio}` : ''})`;
  const checked: Checked = { groups: 0, queueGroups: 0, deadLetterTopics: 0, partitions: 0 };
  const sourceTopics = new Set<string>();

  const groupIds = group !== undefined ? [group] : (await client.admin.listGroups()).map((g) => g.groupId);
  for (const groupId of groupIds) {
    const description = await client.admin.describeGroup(groupId).catch((error: unknown) => {
      if ((error as StrataError).code === 'GROUP_NOT_FOUND') return undefined; // deleted meanwhile, or a queue group
      throw error;
    });
    if (!description) continue;
    checked.groups++;
    for (const lag of description.lag) {
      sourceTopics.add(lag.topic);
      if (lag.committedOffset < 0) continue;
      const subject = `group ${groupId} ${lag.topic}/${lag.partition}`;
      const records = Number(lag.lagRecords);
      const seconds = Number(lag.lagMs) / 1000;
      if (limits.maxLagRecords !== undefined) add(severityOf(records, limits.maxLagRecords, limits.warnRatio), subject, `lag ${limitText(records, limits.maxLagRecords, 'records')}`);
      if (limits.maxLagSeconds !== undefined) add(severityOf(seconds, limits.maxLagSeconds, limits.warnRatio), subject, `lag ${limitText(seconds, limits.maxLagSeconds, 's')}`);
    }
  }

  // A server without queue groups answers UNIMPLEMENTED: nothing to check there.
  const queueGroupIds = await client.admin.listQueueGroups().then(
    (groups) => groups.map((g) => g.groupId).filter((id) => group === undefined || id === group),
    (error: unknown) => {
      if (error instanceof StrataClientError && error.grpcStatus === grpcStatus.UNIMPLEMENTED) return [];
      throw error;
    },
  );
  const queueDeadLetterTopics = new Set<string>();
  for (const groupId of queueGroupIds) {
    const description = await client.admin.describeQueueGroup(groupId).catch((error: unknown) => {
      if ((error as StrataError).code === 'QUEUE_GROUP_NOT_FOUND') return undefined;
      throw error;
    });
    if (!description) continue;
    checked.queueGroups++;
    const perTopic = new Map<string, { depth: number; oldestAgeMs: number }>();
    for (const partition of description.partitions) {
      sourceTopics.add(partition.topic);
      if (partition.deadLetterTopic) queueDeadLetterTopics.add(partition.deadLetterTopic);
      const total = perTopic.get(partition.topic) ?? { depth: 0, oldestAgeMs: 0 };
      total.depth += Number(partition.depth?.depth ?? 0);
      total.oldestAgeMs = Math.max(total.oldestAgeMs, Number(partition.depth?.oldestUnacknowledgedAgeMs ?? 0));
      perTopic.set(partition.topic, total);
    }
    for (const [topic, { depth, oldestAgeMs }] of [...perTopic].sort(([a], [b]) => a.localeCompare(b))) {
      const subject = `queue group ${groupId} ${topic}`;
      const seconds = oldestAgeMs / 1000;
      if (limits.maxLagRecords !== undefined) add(severityOf(depth, limits.maxLagRecords, limits.warnRatio), subject, `depth ${limitText(depth, limits.maxLagRecords, 'records')}`);
      if (limits.maxLagSeconds !== undefined) add(severityOf(seconds, limits.maxLagSeconds, limits.warnRatio), subject, `oldest unacknowledged ${limitText(seconds, limits.maxLagSeconds, 's')}`);
    }
  }
  if (group !== undefined && checked.groups === 0 && checked.queueGroups === 0) add('critical', `group ${group}`, 'not found: no consumer group or queue group of that id (strata groups list, strata queue list)');

  const deadLetters = [...(await deadLetterTopics(client)).entries()]
    .filter(([topic, { sourceTopic }]) => group === undefined || sourceTopics.has(sourceTopic) || queueDeadLetterTopics.has(topic))
    .sort(([a], [b]) => a.localeCompare(b));
  for (const [topic] of deadLetters) {
    checked.deadLetterTopics++;
    const records = await topicRecordCount(client, topic);
    if (limits.maxDlq !== undefined) add(severityOf(records, limits.maxDlq, limits.warnRatio), `dead-letter topic ${topic}`, `${limitText(records, limits.maxDlq, 'records')}: strata dlq inspect ${topic}`);
  }

  const topics = group !== undefined ? [...sourceTopics].sort() : (await client.admin.listTopics()).map((t) => t.name).sort();
  for (const name of topics) {
    const topic = await client.admin.describeTopic(name).catch((error: unknown) => {
      if ((error as StrataError).code === 'TOPIC_NOT_FOUND') return undefined;
      throw error;
    });
    for (const partition of topic?.partitions ?? []) {
      checked.partitions++;
      if (partition.status === 'PARTITION_STATUS_ONLINE') continue;
      // Read-only: a full disk; it takes writes again by itself once there is space.
      const severity = partition.status === 'PARTITION_STATUS_READ_ONLY' ? 'warning' : 'critical';
      const status = partition.status.replace('PARTITION_STATUS_', '').toLowerCase();
      add(severity, `partition ${name}/${partition.partition}`, `${status}${partition.error ? `: ${partition.error}` : ''}`);
    }
  }
  return { findings, checked };
}

export function registerCheckCommand(program: Command): void {
  program
    .command('check')
    .description(
      'health check for cron jobs and probes: one line per finding, exit 0 ok, 1 warning, 2 critical. ' +
        'Critical: a value above its maximum, a partition failed or damaged, the server unreachable. ' +
        'Warning: a value above --warn-ratio x its maximum, a partition read-only (disk full). ' +
        'Group lag counts partitions with a commit; a queue group\'s depth and oldest unacknowledged age count as its lag.',
    )
    .option('--max-lag-records <n>', 'most records a consumer group may be behind on a partition, or a queue group hold unacknowledged in a topic', parseInteger('--max-lag-records'))
    .option('--max-lag-seconds <s>', 'oldest age in seconds of a record a consumer group has not consumed, or a queue group not acknowledged', parseInteger('--max-lag-seconds'))
    .option('--max-dlq <n>', 'most records a dead-letter topic may hold (0: any dead letter is critical)', parseInteger('--max-dlq'))
    .option('--group <group>', 'check only this consumer group or queue group (and the dead-letter topics of what it reads)')
    .option('--warn-ratio <r>', 'a value above this fraction of its maximum is a warning', parseRatio, 0.8)
    .option('--timeout-ms <n>', 'deadline of each call to the server', parseInteger('--timeout-ms', 1), 10_000)
    .option('--json', 'print {status, findings, checked} as JSON')
    .addHelpText('after', examples('strata check --max-lag-records 10000 --max-lag-seconds 300 --max-dlq 0 || notify "strata: exit $?"', 'strata check --group billing --max-lag-seconds 60 --warn-ratio 0.5 --json'))
    // A probe reads a usage error as critical, not as the warning exit code 1 commander gives it.
    .exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : CHECK_EXIT_CODES.critical))
    .action(async (options: CheckOptions, command: Command) => {
      let client: StrataClient | undefined;
      let findings: CheckFinding[];
      let checked: Checked | undefined;
      try {
        // Inside the try: TLS settings that cannot be read are a critical finding too.
        client = clientFor(command, { callTimeoutMs: options.timeoutMs });
        ({ findings, checked } = await runChecks(client, options, options.group));
      } catch (error) {
        if (!(error instanceof StrataError)) throw error;
        const isUnreachable = error instanceof ServerUnreachableError || (error instanceof StrataClientError && (error.grpcStatus === grpcStatus.UNAVAILABLE || error.grpcStatus === grpcStatus.DEADLINE_EXCEEDED));
        const subject = isUnreachable ? `server ${client?.address ?? '?'}` : 'check';
        findings = [{ severity: 'critical', subject, message: isUnreachable ? `unreachable: ${(error instanceof StrataClientError && connectionErrorOf(error)) || error.message}` : `failed: ${error.code}: ${error.message}` }];
      } finally {
        client?.close();
      }
      const status: CheckSeverity = findings.some((f) => f.severity === 'critical') ? 'critical' : findings.length > 0 ? 'warning' : 'ok';
      if (options.json) printJson({ status, findings, checked: checked ?? null });
      else {
        for (const f of findings) process.stdout.write(`${f.severity.toUpperCase()} ${f.subject}: ${f.message}\n`);
        if (status === 'ok' && checked) {
          process.stdout.write(`OK ${checked.groups} consumer groups, ${checked.queueGroups} queue groups, ${checked.deadLetterTopics} dead-letter topics, ${checked.partitions} partitions\n`);
        }
      }
      process.exitCode = CHECK_EXIT_CODES[status];
    });
}
