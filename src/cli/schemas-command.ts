import { readFileSync } from 'node:fs';
import { InvalidArgumentError as UsageError, type Command } from 'commander';
import type { SchemaSpec, SchemaType, SchemaVersionSpec } from '../client/schema-admin.js';
import { examples, parseInteger, printJson, printTable, withClient } from './cli-context.js';

const SCHEMA_TYPES: readonly SchemaType[] = ['AVRO', 'JSON', 'PROTOBUF'];

interface SchemaFileOptions {
  file: string;
  type: string;
}

function schemaFrom(options: SchemaFileOptions): SchemaSpec {
  const schemaType = options.type.toUpperCase() as SchemaType;
  if (!SCHEMA_TYPES.includes(schemaType)) throw new UsageError(`--type must be one of ${SCHEMA_TYPES.join(', ')}, got '${options.type}'`);
  let schema: string;
  try {
    schema = readFileSync(options.file === '-' ? 0 : options.file, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read the schema file ${options.file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  return { schemaType, schema };
}

/** `--schema-version`, not Confluent's `--version`: the program's own `--version` takes that flag wherever it appears. */
function versionSpec(value: string): SchemaVersionSpec {
  if (value === 'latest') return 'latest';
  return parseInteger('--schema-version', 1)(value);
}

/** `strata schemas register|list|get|check-compatibility|delete`: the registry over gRPC (client.schemas). */
export function registerSchemasCommand(program: Command): void {
  const schemas = program
    .command('schemas')
    .description("the schema registry (Confluent's clients use its REST API on the HTTP port)")
    .addHelpText('after', examples('strata schemas register orders-value --file order.avsc', 'strata schemas get orders-value'));

  schemas
    .command('register <subject>')
    .description('register a schema under a subject (the same schema again answers its id)')
    .requiredOption('--file <path>', "the schema's text (- for stdin)")
    .option('--type <type>', 'AVRO, JSON or PROTOBUF', 'AVRO')
    .option('--json', 'print JSON')
    .addHelpText('after', examples('strata schemas register orders-value --file order.avsc', 'strata schemas register events-value --type PROTOBUF --file event.proto'))
    .action(async (subject: string, options: SchemaFileOptions & { json?: boolean }, command: Command) => {
      const schema = schemaFrom(options);
      const { id, version } = await withClient(command, (client) => client.schemas.register(subject, schema));
      if (options.json) printJson({ subject, id, version });
      else process.stdout.write(`${subject}: version ${version}, schema id ${id}\n`);
    });

  schemas
    .command('list [subject]')
    .description('the subjects, or the versions of one subject')
    .option('--deleted', 'include soft-deleted ones')
    .option('--json', 'print JSON')
    .addHelpText('after', examples('strata schemas list', 'strata schemas list orders-value'))
    .action(async (subject: string | undefined, options: { deleted?: boolean; json?: boolean }, command: Command) => {
      const includeDeleted = options.deleted === true;
      if (subject === undefined) {
        const subjects = await withClient(command, (client) => client.schemas.listSubjects({ includeDeleted }));
        if (options.json) printJson(subjects);
        else for (const name of subjects) process.stdout.write(`${name}\n`);
        return;
      }
      const versions = await withClient(command, (client) => client.schemas.listVersions(subject, { includeDeleted }));
      if (options.json) printJson(versions);
      else process.stdout.write(`${versions.join('\n')}\n`);
    });

  schemas
    .command('get <subject>')
    .description("a version's schema (default: the latest)")
    .option('--schema-version <n>', 'a version number, or latest', versionSpec, 'latest' as SchemaVersionSpec)
    .option('--json', 'print JSON (id, version, type, references and the text)')
    .addHelpText('after', examples('strata schemas get orders-value', 'strata schemas get orders-value --schema-version 2 --json'))
    .action(async (subject: string, options: { schemaVersion: SchemaVersionSpec; json?: boolean }, command: Command) => {
      const info = await withClient(command, (client) => client.schemas.getVersion(subject, options.schemaVersion));
      if (options.json) {
        printJson(info);
        return;
      }
      printTable(['subject', 'version', 'id', 'type', 'references'], [[info.subject, info.version, info.id, info.schemaType, info.references.map((r) => `${r.name}=${r.subject}@${r.version}`).join(', ') || '-']]);
      process.stdout.write(`${info.schema}\n`);
    });

  schemas
    .command('check-compatibility <subject>')
    .description("would this schema be accepted under the subject's compatibility level (exit 1 if not)")
    .requiredOption('--file <path>', "the schema's text (- for stdin)")
    .option('--type <type>', 'AVRO, JSON or PROTOBUF', 'AVRO')
    .option('--schema-version <n>', 'check against one version (default: those the level names)', versionSpec)
    .option('--json', 'print JSON')
    .addHelpText('after', examples('strata schemas check-compatibility orders-value --file order-v2.avsc'))
    .action(async (subject: string, options: SchemaFileOptions & { schemaVersion?: SchemaVersionSpec; json?: boolean }, command: Command) => {
      const schema = schemaFrom(options);
      const result = await withClient(command, (client) => client.schemas.checkCompatibility(subject, schema, options.schemaVersion));
      if (options.json) printJson(result);
      else process.stdout.write(result.isCompatible ? 'compatible\n' : `NOT compatible:\n${result.messages.map((m) => `  ${m}`).join('\n')}\n`);
      if (!result.isCompatible) process.exitCode = 1;
    });

  schemas
    .command('delete <subject>')
    .description('soft-delete a subject or one version of it; --permanent forgets what was soft-deleted')
    .option('--schema-version <n>', 'only this version (a number, or latest)', versionSpec)
    .option('--permanent', 'hard delete (only after a soft delete, as in Confluent)')
    .option('--json', 'print JSON')
    .addHelpText('after', examples('strata schemas delete orders-value --schema-version 1', 'strata schemas delete orders-value && strata schemas delete orders-value --permanent'))
    .action(async (subject: string, options: { schemaVersion?: SchemaVersionSpec; permanent?: boolean; json?: boolean }, command: Command) => {
      const permanent = options.permanent === true;
      const versions = await withClient(command, async (client) =>
        options.schemaVersion === undefined ? client.schemas.deleteSubject(subject, { permanent }) : [await client.schemas.deleteVersion(subject, options.schemaVersion, { permanent })],
      );
      if (options.json) printJson({ subject, deletedVersions: versions, permanent });
      else process.stdout.write(`${subject}: ${permanent ? 'permanently ' : ''}deleted version${versions.length === 1 ? '' : 's'} ${versions.join(', ')}\n`);
    });
}
