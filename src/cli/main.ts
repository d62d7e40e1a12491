import { Command } from 'commander';
import { StrataError } from '../core/errors.js';
import { registerServeCommand } from './serve-command.js';

export async function main(argv: readonly string[]): Promise<void> {
  const program = new Command();
  program.name('strata').description('Strata: a partitioned append-only log server over gRPC').showHelpAfterError();
  registerServeCommand(program);
  try {
    await program.parseAsync(argv as string[]);
  } catch (error) {
    if (error instanceof StrataError) {
      process.stderr.write(`strata: ${error.code}: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
}
