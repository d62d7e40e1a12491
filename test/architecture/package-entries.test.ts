import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { useTempDir } from '../helpers/temp-dir.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const DIST_SRC = join(ROOT, 'dist', 'src');
const run = promisify(execFile);

/** Module loader hooks (run in Node's hooks thread) that write every file URL a program loads to a log. */
const HOOKS = `
import { appendFileSync } from 'node:fs';
export async function load(url, context, next) {
  if (url.startsWith('file:')) appendFileSync(process.env.LOADED_LOG, url + '\\n');
  return next(url, context);
}
`;

/**
 * Imports `specifier` by its package name in a fresh Node process (through package.json's "exports",
 * as an application that installed the package would) and returns the files of ours it loaded, as
 * paths below dist/src.
 */
async function loadedBy(specifier: string, dir: string): Promise<string[]> {
  const hooks = join(dir, 'hooks.mjs');
  const log = join(dir, `loaded-${specifier.replace(/\W/g, '_')}.log`);
  writeFileSync(hooks, HOOKS);
  writeFileSync(log, '');
  const register = `import { register } from 'node:module'; register(${JSON.stringify(pathToFileURL(hooks).href)});`;
  // Run from the package root: a package can import itself by its own name through "exports".
  await run(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(register)}`, '--input-type=module', '-e', `await import(${JSON.stringify(specifier)});`], {
    cwd: ROOT,
    env: { ...process.env, LOADED_LOG: log },
  });
  return readFileSync(log, 'utf8')
    .split('\n')
    .filter((url) => url.startsWith('file:'))
    .map((url) => fileURLToPath(url))
    .filter((path) => path.startsWith(DIST_SRC + '/'))
    .map((path) => relative(DIST_SRC, path));
}

describe('package entries', () => {
  const temp = useTempDir({ prefix: 'strata-entries-' });
  const name = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string }).name;

  it('the root entry is the client: it loads no server, storage, broker, group or CLI module', async () => {
    const loaded = await loadedBy(name, temp.path);
    expect(loaded).toContain('client/strata-client.js');
    const serverSide = loaded.filter((path) => /^(server|storage|broker|groups|cli)\//.test(path) || path === 'server-entry.js');
    expect(serverSide).toEqual([]);
  });

  it('the ./server subpath embeds a server', async () => {
    const loaded = await loadedBy(`${name}/server`, temp.path);
    expect(loaded).toContain('server/bootstrap.js');
    expect(loaded).toContain('storage/log-manager.js');
  });

  it('exports what the README shows from the root entry, and the server from ./server', async () => {
    const probe = `const client = await import(${JSON.stringify(name)}); const server = await import(${JSON.stringify(`${name}/server`)});
      console.log(JSON.stringify({ client: Object.keys(client).sort(), server: Object.keys(server).sort() }));`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', probe], { cwd: ROOT });
    const { client, server } = JSON.parse(stdout) as { client: string[]; server: string[] };
    for (const symbol of ['StrataClient', 'Producer', 'Admin', 'GroupConsumer', 'StrataClientError', 'TopicNotFoundError', 'OffsetOutOfRangeError', 'ServerUnreachableError', 'encodeRecordBatch', 'ManualClock']) expect(client).toContain(symbol);
    expect(client).not.toContain('startServer');
    for (const symbol of ['startServer', 'LogManager', 'resolveServerConfig']) expect(server).toContain(symbol);
  });
});
