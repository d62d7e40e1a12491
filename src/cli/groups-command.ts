import { userInfo, hostname } from 'node:os';
import type { Command } from 'commander';
import type { OffsetResetSpec } from '../client/admin.js';
import { InvalidArgumentError } from '../core/errors.js';
import { examples, parseInteger, printJson, printTable, withClient } from './cli-context.js';

interface ResetOptions {
  topic: string;
  toEarliest?: boolean;
  toLatest?: boolean;
  toOffset?: number;
  toDatetime?: string;
  shiftBy?: string;
  execute?: boolean;
  json?: boolean;
}

function resetTarget(options: ResetOptions): OffsetResetSpec {
  const chosen = [options.toEarliest, options.toLatest, options.toOffset !== undefined, options.toDatetime !== undefined, options.shiftBy !== undefined].filter(Boolean);
  if (chosen.length !== 1) throw new InvalidArgumentError('choose exactly one of --to-earliest, --to-latest, --to-offset, --to-datetime, --shift-by');
  if (options.toEarliest) return 'earliest';
  if (options.toLatest) return 'latest';
  if (options.toOffset !== undefined) return { offset: options.toOffset };
  if (options.toDatetime !== undefined) {
    const timestampMs = Date.parse(options.toDatetime);
    if (Number.isNaN(timestampMs)) throw new InvalidArgumentError(`--to-datetime: not a date: '${options.toDatetime}'`);
    return { timestampMs };
  }
  const shift = Number(options.shiftBy);
  if (!Number.isSafeInteger(shift)) throw new InvalidArgumentError(`--shift-by must be an integer, got '${options.shiftBy}'`);
  return { shiftBy: shift };
}

export function registerGroupsCommand(program: Command): void {
  const groups = program.command('groups').description('list, describe, reset and delete consumer groups').addHelpText('after', examples('strata groups list', 'strata groups describe billing', 'strata groups reset-offsets billing --topic orders --to-earliest --execute'));

  groups
    .command('list')
    .description('consumer groups with their member counts and epochs')
    .addHelpText('after', examples('strata groups list', 'strata groups list --json'))
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }, command: Command) => {
      const list = await withClient(command, (c) => c.admin.listGroups());
      if (options.json) return printJson(list);
      printTable(['group', 'members', 'epoch'], list.map((g) => [g.groupId, g.memberCount, g.groupEpoch]));
    });

  groups
    .command('describe <group>')
    .addHelpText('after', examples('strata groups describe billing', 'strata groups describe billing --json'))
    .description('members and their partitions; committed offset, log end offset and lag per partition')
    .option('--json', 'print JSON')
    .action(async (groupId: string, options: { json?: boolean }, command: Command) => {
      const d = await withClient(command, (c) => c.admin.describeGroup(groupId));
      if (options.json) return printJson(d);
      const churn = d.recentChurn > 0 ? `, ${d.recentChurn} joins in the last 5 min did not stay (rebalance window ${d.rebalanceWindowMs} ms)` : '';
      process.stdout.write(`group ${d.groupId}, epoch ${d.groupEpoch}, ${d.members.length} members${churn}\n`);
      if (d.members.length > 0) {
        printTable(
          ['member', 'instance id', 'epoch', 'heartbeat age ms', 'rejoins 5 min', 'assigned'],
          d.members.map((m) => [
            m.memberId + (m.streamLost ? ' (stream lost)' : ''),
            m.instanceId || '-',
            m.memberEpoch,
            Number(m.lastHeartbeatAgeMs),
            m.instanceId ? m.recentRejoins : '-',
            m.assignment.map((a) => `${a.topic}:${a.partitions.join(',')}`).join(' ') || '-',
          ]),
        );
      }
      // A fenced member whose heartbeats are still refused is a live duplicate of the instance id.
      for (const f of d.fencedMembers) {
        const alive = f.refusedCount > 0 ? `, ${f.refusedCount} of its heartbeats or commits refused since: two processes share this instance id` : '';
        process.stdout.write(`fenced (FENCED_INSTANCE_ID): ${f.memberId} of instance ${f.instanceId}, by ${f.byMemberId}, ${Number(f.fencedAgeMs)} ms ago${alive}\n`);
      }
      printTable(
        ['topic', 'partition', 'committed', 'log end', 'lag', 'lag ms', 'since commit ms', 'owner'],
        d.lag.map((l) => {
          // No commit, no lag (as kafka-consumer-groups shows it): where a member starts is its own setting.
          const isCommitted = l.committedOffset >= 0;
          return [l.topic, l.partition, isCommitted ? l.committedOffset : '-', l.logEndOffset, isCommitted ? l.lagRecords : '-', isCommitted ? l.lagMs : '-', Number(l.sinceCommitMs) < 0 ? '-' : Number(l.sinceCommitMs), l.ownerMemberId || '-'];
        }),
      );
      const uncommitted = d.lag.filter((l) => l.committedOffset < 0);
      if (uncommitted.length > 0) {
        const shown = uncommitted.slice(0, 20).map((l) => `${l.topic}/${l.partition} ${l.lagRecords} records`);
        const held = shown.join(', ') + (uncommitted.length > shown.length ? ` and ${uncommitted.length - shown.length} more` : '');
        process.stdout.write(
          `no commit on ${uncommitted.length} partition${uncommitted.length === 1 ? '' : 's'} (lag -): a member starts there at the log end and reads only new records, ` +
            `or with --from-beginning (fromBeginning: true) at the log start and reads what is there now: ${held}\n`,
        );
      }
    });

  groups
    .command('reset-offsets <group>')
    .addHelpText('after', examples('strata groups reset-offsets billing --topic orders --to-datetime 2026-01-01T00:00:00Z   # a dry run', 'strata groups reset-offsets billing --topic orders --shift-by -100 --execute'))
    .description('move committed offsets; prints the plan, and applies it only with --execute')
    .requiredOption('--topic <topic>', 'topic whose offsets move')
    .option('--to-earliest', 'to the log start')
    .option('--to-latest', 'to the log end')
    .option('--to-offset <n>', 'to this offset (clamped to the log)', parseInteger('--to-offset'))
    .option('--to-datetime <iso>', 'to the first record at or after this time')
    .option('--shift-by <n>', 'by this many records from the committed offset (negative goes back)')
    .option('--execute', 'apply the plan (on a live group too: its members resume from the new offsets)')
    .option('--json', 'print JSON')
    .action(async (groupId: string, options: ResetOptions, command: Command) => {
      const to = resetTarget(options);
      const requestedBy = `${userInfo().username}@${hostname()}`;
      const response = await withClient(command, (c) => c.admin.resetOffsets(groupId, { topic: options.topic, to, execute: options.execute ?? false, requestedBy }));
      if (options.json) return printJson(response);
      printTable(['topic', 'partition', 'current', 'new'], response.changes.map((c) => [c.topic, c.partition, c.previousOffset < 0 ? '-' : c.previousOffset, c.newOffset]));
      process.stdout.write(response.executed ? 'offsets reset\n' : 'dry run: nothing changed (add --execute to apply)\n');
    });

  groups
    .command('delete <group>')
    .addHelpText('after', examples('strata groups delete billing'))
    .description('delete a group with no live members, and its committed offsets')
    .option('--json', 'print JSON')
    .action(async (groupId: string, options: { json?: boolean }, command: Command) => {
      await withClient(command, (c) => c.admin.deleteGroup(groupId));
      if (options.json) printJson({ deleted: groupId });
      else process.stdout.write(`deleted group ${groupId}\n`);
    });
}
