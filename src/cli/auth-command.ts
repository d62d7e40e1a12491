import { InvalidArgumentError, type Command } from 'commander';
import { examples } from './cli-context.js';
import { hashToken } from '../server/auth/static-tokens.js';

/** `strata auth hash-token`: what a token file stores for a token (its SHA-256), never the token. */
export function registerAuthCommand(program: Command): void {
  program
    .command('auth')
    .description('authentication helpers')
    .addHelpText('after', examples("printf '%s' \"$TOKEN\" | strata auth hash-token"))
    .command('hash-token')
    .addHelpText('after', examples("printf '%s' \"$TOKEN\" | strata auth hash-token      # the line for the --auth-tokens file"))
    .description('print the SHA-256 of a token for the --auth-tokens file (the token from the argument, else the first line of stdin)')
    .argument('[token]', 'the token (prefer stdin: an argument shows in ps and shell history)')
    .action(async (token: string | undefined) => {
      let value = token;
      if (value === undefined) {
        const chunks: Buffer[] = [];
        for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
        value = Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
      }
      if (value === '') throw new InvalidArgumentError('no token given: pass it on stdin (or as the argument)');
      process.stdout.write(`${hashToken(value)}\n`);
    });
}
