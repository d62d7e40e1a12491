import { execFile } from 'node:child_process';
import { copyFile, mkdir, utimes, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { makeTempDir } from '../helpers/temp-dir.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const run = promisify(execFile);

describe('make run and make build', () => {
  let dir: { path: string; remove: () => Promise<void> } | undefined;
  afterEach(async () => dir?.remove());

  it('compile only when a source, the config, the generated types or the dependencies changed', async () => {
    // The Makefile in a tree of empty files with chosen times: `make -n` prints what it would run.
    dir = await makeTempDir();
    const root = dir.path;
    await copyFile(join(ROOT, 'Makefile'), join(root, 'Makefile'));
    const nowS = Math.floor(Date.now() / 1000);
    const file = async (path: string, ageS: number) => {
      await mkdir(dirname(join(root, path)), { recursive: true });
      await writeFile(join(root, path), '');
      await utimes(join(root, path), nowS - ageS, nowS - ageS);
    };
    for (const path of ['package.json', 'package-lock.json', 'proto/strata/v1/a.proto', 'tsconfig.json', 'src/a.ts', 'test/b.ts', 'bench/c.ts']) await file(path, 1000);
    await file('node_modules/.package-lock.json', 900);
    await file('src/generated/.stamp', 800);
    await file('src/generated/strata/v1/A.ts', 800);
    await file('dist/.build-stamp', 700);
    const plan = async (target: string) => (await run('make', ['-n', target], { cwd: root })).stdout;

    expect(await plan('run')).not.toMatch(/tsc/);
    expect(await plan('run')).toMatch(/bin\/strata\.js serve/);
    for (const [changed, ageS] of [['src/a.ts', 1000], ['test/b.ts', 1000], ['bench/c.ts', 1000], ['tsconfig.json', 1000], ['src/generated/.stamp', 800]] as const) {
      await file(changed, 10);
      expect(await plan('run'), changed).toMatch(/npx tsc -p tsconfig\.json/);
      await file(changed, ageS);
    }
    expect(await plan('build')).not.toMatch(/tsc/);
  });
});
