import { execFile } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

describe('a usage error a command finds in its action', () => {
  it('prints one line and exits 1, without a stack trace', async () => {
    const failure = await promisify(execFile)(process.execPath, [join(ROOT, 'bin', 'strata.js'), 'acl', 'add', '--principal', 'alice', '--operation', 'read']).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );
    expect(failure?.code).toBe(1);
    expect(failure?.stderr.trim()).toBe('strata: error: name one resource: --topic NAME, --group NAME, --queue-group NAME, --schema-subject NAME, --producer NAME or --cluster');
  });
});
