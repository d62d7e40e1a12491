import { Command } from 'commander';
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
  registerCheckCommand(program);
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
    // Expected failures print one line and exit 1; anything else is a bug and keeps its stack.
    if (!(error instanceof StrataError)) throw error;
    process.stderr.write(errorLine(error) + '\n');
    process.exitCode = 1;
  }
}
