import { InvalidArgumentError as UsageError, type Command } from 'commander';
import type { AclRuleSpec } from '../client/acl-admin.js';
import { examples, printJson, printTable, withClient } from './cli-context.js';

interface AclRuleOptions {
  principal: string;
  operation: string;
  topic?: string;
  group?: string;
  queueGroup?: string;
  schemaSubject?: string;
  producer?: string;
  cluster?: boolean;
  prefix?: boolean;
  deny?: boolean;
  execute?: boolean;
  json?: boolean;
}

const OPERATIONS = ['read', 'write', 'create', 'delete', 'alter', 'describe', 'admin'];

/** The rule the flags describe: exactly one resource flag, an operation, allow unless --deny. */
export function ruleFromOptions(options: AclRuleOptions): AclRuleSpec {
  const resources: Array<[AclRuleSpec['resourceType'], string | undefined]> = [
    ['topic', options.topic],
    ['group', options.group],
    ['queue_group', options.queueGroup],
    ['schema_subject', options.schemaSubject],
    ['cluster', options.cluster ? 'strata' : undefined],
    ['producer', options.producer],
  ];
  const named = resources.filter(([, name]) => name !== undefined);
  if (named.length !== 1) throw new UsageError('name one resource: --topic NAME, --group NAME, --queue-group NAME, --schema-subject NAME, --producer NAME or --cluster');
  if (!OPERATIONS.includes(options.operation)) throw new UsageError(`--operation must be one of ${OPERATIONS.join(', ')}`);
  const [resourceType, resourceName] = named[0]!;
  return {
    principal: options.principal,
    resourceType,
    patternType: options.prefix ? 'prefix' : 'literal',
    resourceName: resourceName!,
    operation: options.operation as AclRuleSpec['operation'],
    permission: options.deny ? 'deny' : 'allow',
  };
}

function describeRule(rule: AclRuleSpec): string {
  const name = rule.patternType === 'prefix' ? `names starting with '${rule.resourceName}'` : `'${rule.resourceName}'`;
  return `${rule.permission.toUpperCase()} ${rule.principal} ${rule.operation} on ${rule.resourceType.replace('_', ' ')} ${name}`;
}

function ruleOptions(command: Command): Command {
  return command
    .requiredOption('--principal <name>', "who the rule is for ('*': everyone)")
    .requiredOption('--operation <op>', `one of ${OPERATIONS.join(', ')} (admin: every operation)`)
    .option('--topic <name>', 'the rule is on a topic')
    .option('--group <name>', 'on a consumer group')
    .option('--queue-group <name>', 'on a queue group')
    .option('--schema-subject <name>', 'on a schema subject')
    .option('--producer <name>', 'on a named producer (the producerName that fences its older instances)')
    .option('--cluster', 'on the cluster (ACL changes, reflection)')
    .option('--prefix', 'the name is a prefix: every name starting with it')
    .option('--deny', 'deny instead of allow (a deny wins over any allow)')
    .option('--execute', 'make the change (without it: a dry run that shows what would change)')
    .option('--json', 'print JSON');
}

/** `strata acl add|remove|list`: the server's access control rules (servers with authentication). */
export function registerAclCommand(program: Command): void {
  const acl = program
    .command('acl')
    .description('access control rules (servers with authentication configured)')
    .addHelpText('after', examples('strata acl add --principal alice --operation write --topic orders. --prefix --execute', 'strata acl list --principal alice'));
  const actionExamples = {
    add: examples('strata acl add --principal alice --operation read --topic orders            # a dry run', "strata acl add --principal '*' --operation describe --cluster --execute"),
    remove: examples('strata acl remove --principal alice --operation read --topic orders --execute'),
  };
  for (const action of ['add', 'remove'] as const) {
    ruleOptions(acl.command(action).description(`${action} a rule (a dry run unless --execute)`).addHelpText('after', actionExamples[action])).action(async (options: AclRuleOptions, command: Command) => {
      const rule = ruleFromOptions(options);
      const isDryRun = options.execute !== true;
      const result = await withClient(command, (client) => client.acls[action](rule, { dryRun: isDryRun }));
      if (options.json) {
        printJson({ dryRun: isDryRun, changed: result.isChanged, rule: result.rule });
        return;
      }
      const what = describeRule(rule);
      if (!result.isChanged) process.stdout.write(action === 'add' ? `no change: the rule is there already: ${what}\n` : `no change: there is no such rule: ${what}\n`);
      else if (isDryRun) process.stdout.write(`would ${action}: ${what}\n(dry run: add --execute to ${action} it)\n`);
      else process.stdout.write(`${action === 'add' ? 'added' : 'removed'}: ${what}\n`);
    });
  }
  acl
    .command('list')
    .description('list the rules')
    .addHelpText('after', examples('strata acl list', 'strata acl list --principal alice --resource-type topic --json'))
    .option('--principal <name>', "only this principal's rules")
    .option('--resource-type <type>', 'only rules on this resource type (topic, group, queue_group, schema_subject, cluster)')
    .option('--json', 'print JSON')
    .action(async (options: { principal?: string; resourceType?: AclRuleSpec['resourceType']; json?: boolean }, command: Command) => {
      const rules = await withClient(command, (client) => client.acls.list({ ...(options.principal ? { principal: options.principal } : {}), ...(options.resourceType ? { resourceType: options.resourceType } : {}) }));
      if (options.json) {
        printJson(rules);
        return;
      }
      printTable(['principal', 'resource', 'pattern', 'name', 'operation', 'permission'], rules.map((r) => [r.principal, r.resourceType, r.patternType, r.resourceName, r.operation, r.permission]));
    });
}
