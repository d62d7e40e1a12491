import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A fresh directory under the system temp dir; `remove()` deletes it and everything in it. */
export async function makeTempDir(prefix = 'strata-test-'): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/**
 * A temp dir for a describe block (the hooks are registered where it is called): fresh before each
 * test with `each`, else once for the block; removed after. Read `path` inside tests and hooks.
 */
export function useTempDir(options: { each?: boolean; prefix?: string } = {}): { readonly path: string } {
  let dir: { path: string; remove: () => Promise<void> } | undefined;
  const [before, after] = options.each ? [beforeEach, afterEach] : [beforeAll, afterAll];
  before(async () => {
    dir = await makeTempDir(options.prefix);
  });
  after(async () => {
    await dir?.remove();
  });
  return {
    get path(): string {
      if (!dir) throw new Error('useTempDir: the directory exists only inside tests and hooks');
      return dir.path;
    },
  };
}
