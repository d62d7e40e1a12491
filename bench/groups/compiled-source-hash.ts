import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/** A short hash of the compiled group code that ran (dist/src/groups and dist/src/core). */
export function compiledSourceHash(): string {
  // Paths are hashed relative to dist/bench (where groups-bench.js is, and this code was), so the same
  // code still gives the hash that earlier results printed.
  const benchDir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
  const hash = createHash('sha256');
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.js')) hash.update(path.relative(benchDir, full)).update(fs.readFileSync(full));
    }
  };
  try {
    for (const dir of ['groups', 'core']) walk(path.join(benchDir, '..', 'src', dir));
    return hash.digest('hex').slice(0, 12);
  } catch {
    return 'unknown';
  }
}
