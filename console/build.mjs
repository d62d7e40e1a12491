// Bundles the console's front end (console/src, plain ES modules with Preact + htm and uPlot) into
// dist/console/: app.js, app.css and index.html, which the broker serves at / on its HTTP port.
// `make build` runs it; so do the console's browser tests, so that they always test these sources.
import { copyFile, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const outDir = join(here, '..', 'dist', 'console');

export async function buildConsole() {
  await mkdir(outDir, { recursive: true });
  await build({
    entryPoints: { app: join(here, 'src', 'main.js') },
    outdir: outDir,
    bundle: true,
    format: 'esm',
    target: ['chrome110', 'firefox110', 'safari16'],
    minify: true,
    sourcemap: true,
    legalComments: 'eof',
    logLevel: 'warning',
  });
  await copyFile(join(here, 'index.html'), join(outDir, 'index.html'));
  return outDir;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await buildConsole();
}
