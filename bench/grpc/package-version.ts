import * as fs from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The installed version, read from node_modules: what actually ran, not what package.json asks for. */
export function packageVersion(name: string): string {
  try {
    const file = fileURLToPath(new URL(`../../../node_modules/${name}/package.json`, import.meta.url));
    return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
  } catch {
    return 'not installed';
  }
}
