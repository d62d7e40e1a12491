import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * This package's version, from its package.json: the nearest one above this file (src/cli in a
 * checkout run through vitest, dist/src/cli when built or installed).
 */
export function strataVersion(): string {
  let directory = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 6; depth++) {
    const file = join(directory, 'package.json');
    if (existsSync(file)) return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
    directory = dirname(directory);
  }
  throw new Error('cannot find the package.json of the strata-log package');
}
