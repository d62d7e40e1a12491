import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/main.js';

/** Every command of the tree with its path (`strata topics create`). */
function allCommands(command: Command, path: string[] = []): Array<{ path: string; command: Command }> {
  const own = [...path, command.name()];
  return [{ path: own.join(' '), command }, ...command.commands.flatMap((sub) => allCommands(sub, own))];
}

function helpOf(command: Command): string {
  let text = '';
  command.configureOutput({ writeOut: (s) => (text += s), writeErr: (s) => (text += s) });
  command.outputHelp();
  return text;
}

describe('strata <command> --help', () => {
  it('shows an example of the command itself, for every command', () => {
    const commands = allCommands(buildProgram()).filter(({ path }) => path !== 'strata help');
    expect(commands.length).toBeGreaterThan(25);
    const missing = commands.filter(({ path, command }) => {
      const help = helpOf(command);
      const section = /\nExamples?:\n((?: {2}\$ .*\n)+)/.exec(help);
      // The examples run this command (the root's and a group's: any of theirs).
      return !section || !section[1]!.split('\n').some((line) => line.startsWith(`  $ ${path}`) || (path === 'strata' && line.startsWith('  $ ')) || line.includes(`| ${path}`));
    });
    expect(missing.map(({ path }) => path)).toEqual([]);
  });
});
