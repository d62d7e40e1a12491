import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { SERVER_NODE_FLAGS } from '../../src/cli/server-node-flags.js';

const root = (path: string) => fileURLToPath(new URL(`../../${path}`, import.meta.url));

describe('the server V8 flags', () => {
  it('are the same in bin/strata.js, the Makefile and SERVER_NODE_FLAGS', () => {
    const flags = SERVER_NODE_FLAGS.join(' ');
    expect(readFileSync(root('bin/strata.js'), 'utf8').split('\n')[0]).toBe(`#!/usr/bin/env -S node ${flags}`);
    expect(readFileSync(root('Makefile'), 'utf8')).toContain(`SERVER_NODE_FLAGS := ${flags}\n`);
  });

  it('take effect when bin/strata.js is run as a program (its shebang)', async () => {
    // The young generation V8 reports is larger than its 1 MiB default only when the flags applied.
    const probe = `import v8 from 'node:v8'; console.log(v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size);`;
    const { stdout: plain } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', probe]);
    const { stdout: flagged } = await promisify(execFile)(process.execPath, [...SERVER_NODE_FLAGS, '--input-type=module', '-e', probe]);
    expect(Number(flagged)).toBeGreaterThan(4 * Number(plain));
    // And the shebang line runs: `strata --help` through the kernel's #! handling, not `node file`.
    const { stdout } = await promisify(execFile)(root('bin/strata.js'), ['--help']);
    expect(stdout).toContain('Usage: strata');
  });
});
