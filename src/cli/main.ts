import { Command, CommanderError } from 'commander';
import { StrataError } from '../core/errors.js';
import { registerBenchCommand } from './bench-command.js';
import { registerCheckCommand } from './check-command.js';
import { examples } from './cli-context.js';
import { errorLine } from './error-fixes.js';
import { registerGroupsCommand } from './groups-command.js';
import { registerConsumeCommand } from './consume-command.js';
import { registerProduceCommand } from './produce-command.js';
import { registerQueueCommand } from './queue-command.js';
import { registerDlqCommand } from './dlq-command.js';
import { registerAclCommand } from './acl-command.js';
import { registerAuthCommand } from './auth-command.js';
import { registerSchemasCommand } from './schemas-command.js';
import { registerQuotasCommand } from './quotas-command.js';
import { registerServeCommand } from './serve-command.js';
import { registerTopicsCommand } from './topics-command.js';
import { strataVersion } from './strata-version.js';

/** The whole command tree, unparsed. */
export function buildProgram(): Command {
  const program = new Command();
  program
    .name('strata')
    .description('Strata: a partitioned append-only log server over gRPC')
    .version(strataVersion(), '-V, --version', 'print the version and exit')
    .option('--server <host:port>', 'server address (default: $STRATA_SERVER, else localhost:7070)')
    .option('--tls', 'connect with TLS, trusting the system root CAs (default: $STRATA_TLS=1)')
    .option('--tls-ca <file>', 'connect with TLS, trusting this CA (PEM) (default: $STRATA_TLS_CA)')
    .option('--tls-cert <file>', "this end's certificate (PEM): the client's for mutual TLS ($STRATA_TLS_CERT); with serve, the server's")
    .option('--tls-key <file>', 'the private key of --tls-cert (PEM) (default: $STRATA_TLS_KEY)')
    .option('--token <token>', 'a bearer token for servers with authentication (default: $STRATA_TOKEN, which keeps it out of ps)')
    .option('--tls-server-name <name>', "the name the server's certificate must carry (default: the --server host)")
    .showHelpAfterError()
    .addHelpText('after', examples('strata topics create orders --partitions 8', "printf 'alice:paid\\n' | strata produce orders --key-separator :", 'strata consume orders --from-beginning', 'strata <command> --help'));
  registerServeCommand(program);
  registerTopicsCommand(program);
  registerProduceCommand(program);
  registerConsumeCommand(program);
  registerBenchCommand(program);
  registerGroupsCommand(program);
  registerQueueCommand(program);
  registerDlqCommand(program);
  registerAclCommand(program);
  registerAuthCommand(program);
  registerCheckCommand(program);
  registerSchemasCommand(program);
  registerQuotasCommand(program);
  return program;
}

export async function main(argv: readonly string[]): Promise<void> {
  // A reader that goes away (`strata groups describe g | head -3`) is not an error of the command:
  // what is left to print is dropped (commands that print as they go stop: StdoutLines).
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
  });
  const program = buildProgram();
  try {
    await program.parseAsync(argv as string[]);
  } catch (error) {
    // Expected failures print one line and exit 1; anything else is a bug and keeps its stack. A usage
    // error an action throws (commander's InvalidArgumentError) is one too: commander itself prints only
    // those of its option parsers.
    if (error instanceof CommanderError) {
      process.stderr.write(`strata: error: ${error.message}\n`);
      process.exitCode = 1;
      return;
    }
    if (!(error instanceof StrataError)) throw error;
    process.stderr.write(errorLine(error) + '\n');
    process.exitCode = 1;
  }
}
