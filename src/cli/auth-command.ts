import type { Command } from 'commander';
import { hashToken } from '../server/auth/static-tokens.js';

/** `strata auth hash-token`: what a token file stores for a token (its SHA-256), never the token. */
export function registerAuthCommand(program: Command): void {
  program
    .command('auth')
    .description('authentication helpers')
    .command('hash-token')
    .description('print the SHA-256 of a token for the --auth-tokens file (the token from the argument, else the first line of stdin)')
    .argument('[token]', 'the token (prefer stdin: an argument shows in ps and shell history)')
    .action(async (token: string | undefined) => {
      let value = token;
      if (value === undefined) {
        const chunks: Buffer[] = [];
        for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
        value = Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
      }
      if (value === '') throw new Error('no token given');
      process.stdout.write(`${hashToken(value)}\n`);
    });
}
