import type { Command } from 'commander';
import { DEFAULT_QUOTA_ENTITY, QUOTA_NAMES, type QuotaChangeResult, type QuotaName } from '../client/quota-admin.js';
import { InvalidArgumentError } from '../core/errors.js';
import { examples, printJson, printTable, withClient } from './cli-context.js';

interface EntityOptions {
  principal?: string;
  default?: boolean;
}

interface ChangeOptions extends EntityOptions {
  execute?: boolean;
  json?: boolean;
}

/** The entity the flags name: --principal NAME, or --default for '*'; exactly one. */
export function entityFromOptions(options: EntityOptions): string {
  if ((options.principal !== undefined) === (options.default === true)) throw new InvalidArgumentError(`name one entity: --principal NAME, or --default for the entry every principal inherits ('${DEFAULT_QUOTA_ENTITY}')`);
  return options.principal ?? DEFAULT_QUOTA_ENTITY;
}

/** KEY=VALUE arguments as quota values (the server checks the keys and values again). */
export function quotaValuesFromArgs(args: readonly string[]): Partial<Record<QuotaName, number>> {
  if (args.length === 0) throw new InvalidArgumentError(`name at least one quota as KEY=VALUE (keys: ${QUOTA_NAMES.join(', ')})`);
  const values: Partial<Record<QuotaName, number>> = {};
  for (const arg of args) {
    const match = /^([a-z_]+)=(.+)$/.exec(arg);
    if (!match || !Number.isFinite(Number(match[2]))) throw new InvalidArgumentError(`quotas are KEY=VALUE with a number, e.g. producer_byte_rate=1048576, got '${arg}'`);
    checkKey(match[1]!);
    values[match[1] as QuotaName] = Number(match[2]);
  }
  return values;
}

function checkKey(key: string): void {
  if (!(QUOTA_NAMES as readonly string[]).includes(key)) throw new InvalidArgumentError(`unknown quota '${key}' (keys: ${QUOTA_NAMES.join(', ')})`);
}

function entityName(entity: string): string {
  return entity === DEFAULT_QUOTA_ENTITY ? `the default entry '${DEFAULT_QUOTA_ENTITY}'` : entity;
}

/** The keys a change touches, each as `key: before -> after`. */
function changedLines(result: QuotaChangeResult): string[] {
  const show = (value: number | undefined) => (value === undefined ? 'unset' : String(value));
  return QUOTA_NAMES.filter((key) => result.previous.values[key] !== result.entry.values[key]).map((key) => `  ${key}: ${show(result.previous.values[key])} -> ${show(result.entry.values[key])}`);
}

function printChange(verb: 'set' | 'remove', entity: string, result: QuotaChangeResult, options: ChangeOptions): void {
  const isDryRun = options.execute !== true;
  if (options.json) {
    printJson({ dryRun: isDryRun, changed: result.isChanged, entity, previous: result.previous.values, values: result.entry.values });
    return;
  }
  if (!result.isChanged) {
    process.stdout.write(`no change: ${entityName(entity)} ${verb === 'set' ? 'has these quotas already' : 'sets none of these quotas'}\n`);
    return;
  }
  const lines = changedLines(result).join('\n');
  if (isDryRun) process.stdout.write(`would change the quotas of ${entityName(entity)}:\n${lines}\n(dry run: add --execute to ${verb} them)\n`);
  else process.stdout.write(`changed the quotas of ${entityName(entity)}:\n${lines}\n`);
}

function entityOptions(command: Command): Command {
  return command.option('--principal <name>', 'the entry of this principal').option('--default', `the default entry ('${DEFAULT_QUOTA_ENTITY}'), which every principal without its own value inherits`);
}

/** `strata quotas set|remove|list`: per-principal quotas kept by the server (README "Quotas"). */
export function registerQuotasCommand(program: Command): void {
  const quotas = program
    .command('quotas')
    .description(`per-principal quotas: ${QUOTA_NAMES.join(', ')}`)
    .addHelpText('after', examples('strata quotas set --principal alice producer_byte_rate=1048576 max_groups=100 --execute', 'strata quotas list --principal alice --resolved'));
  entityOptions(quotas.command('set'))
    .description('set quotas of a principal or of the default entry; its other quotas stay (a dry run unless --execute)')
    .argument('<key=value...>', `quotas to set: ${QUOTA_NAMES.join(', ')} (byte rates in bytes/s, admin_request_rate in calls/s, the rest counts)`)
    .option('--execute', 'make the change (without it: a dry run that shows what would change)')
    .option('--json', 'print JSON')
    .addHelpText('after', examples('strata quotas set --principal alice producer_byte_rate=1048576          # a dry run', 'strata quotas set --default consumer_byte_rate=10485760 max_streams=200 --execute'))
    .action(async (args: string[], options: ChangeOptions, command: Command) => {
      const entity = entityFromOptions(options);
      const values = quotaValuesFromArgs(args);
      const result = await withClient(command, (client) => client.quotas.set(entity, values, { dryRun: options.execute !== true }));
      printChange('set', entity, result, options);
    });
  entityOptions(quotas.command('remove'))
    .description('remove quotas of a principal or of the default entry, so they fall back to the next level (a dry run unless --execute)')
    .argument('[keys...]', 'the quotas to remove')
    .option('--all', 'remove the whole entry')
    .option('--execute', 'make the change (without it: a dry run that shows what would change)')
    .option('--json', 'print JSON')
    .addHelpText('after', examples('strata quotas remove --principal alice max_groups --execute', 'strata quotas remove --default --all --execute'))
    .action(async (keys: string[], options: ChangeOptions & { all?: boolean }, command: Command) => {
      const entity = entityFromOptions(options);
      if ((keys.length > 0) === (options.all === true)) throw new InvalidArgumentError('name the quotas to remove, or --all for the whole entry');
      keys.forEach(checkKey);
      const result = await withClient(command, (client) => client.quotas.remove(entity, options.all ? 'all' : (keys as QuotaName[]), { dryRun: options.execute !== true }));
      printChange('remove', entity, result, options);
    });
  entityOptions(quotas.command('list'))
    .description('list the quota entries, or what applies to one principal (--resolved)')
    .option('--resolved', 'with --principal: every quota that applies to it, and where each comes from (its entry, the default entry, the server config)')
    .option('--json', 'print JSON')
    .addHelpText('after', examples('strata quotas list', 'strata quotas list --principal alice --resolved --json'))
    .action(async (options: EntityOptions & { resolved?: boolean; json?: boolean }, command: Command) => {
      if (options.principal !== undefined && options.default === true) throw new InvalidArgumentError('name one entity: --principal NAME or --default');
      if (options.resolved) {
        if (options.principal === undefined) throw new InvalidArgumentError('--resolved needs --principal NAME: the principal whose quotas to resolve');
        const principal = options.principal;
        const resolved = await withClient(command, (client) => client.quotas.resolve(principal));
        if (options.json) printJson(resolved);
        else printTable(['quota', 'value', 'from'], resolved.map((quota) => [quota.key, quota.value === null ? 'unlimited' : quota.value, quota.level === 'unlimited' ? '-' : quota.level]));
        return;
      }
      const entity = options.principal ?? (options.default ? DEFAULT_QUOTA_ENTITY : undefined);
      const entries = await withClient(command, (client) => client.quotas.list(entity === undefined ? {} : { entity }));
      if (options.json) {
        printJson(entries);
        return;
      }
      printTable(['entity', 'quota', 'value'], entries.flatMap((entry) => QUOTA_NAMES.filter((key) => entry.values[key] !== undefined).map((key) => [entry.entity, key, entry.values[key]!])));
    });
}
