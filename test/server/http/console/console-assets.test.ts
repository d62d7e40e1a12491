import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../../src/core/logger.js';
import { CONSOLE_CSP, loadConsoleAssets, registerConsoleAssets } from '../../../../src/server/http/console/console-assets.js';
import { HttpServer } from '../../../../src/server/http/http-server.js';
import { httpCall } from '../../../helpers/http-call.js';
import { useTempDir } from '../../../helpers/temp-dir.js';

describe('console assets', () => {
  const temp = useTempDir({ prefix: 'strata-console-assets-' });
  let server: HttpServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  async function serve(dir: string): Promise<number> {
    server = new HttpServer(silentLogger);
    registerConsoleAssets(server, loadConsoleAssets(dir));
    return server.listen('127.0.0.1', 0);
  }

  it('answers / with 503 and the fix when the front end is not built', async () => {
    const port = await serve(join(temp.path, 'missing'));
    const answer = await httpCall(port, 'GET', '/');
    expect(answer.status).toBe(503);
    expect(answer.body).toMatch(/make build/);
  });

  it('serves only the files of the assets directory with known types, held in memory, each with the CSP', async () => {
    const dir = join(temp.path, 'built');
    mkdirSync(join(dir, 'nested'), { recursive: true });
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>x</title>');
    writeFileSync(join(dir, 'app.js'), 'export {};');
    writeFileSync(join(dir, 'notes.txt'), 'not an asset type');
    writeFileSync(join(dir, 'nested', 'deep.js'), 'export {};');
    const port = await serve(dir);
    // Written after loading: not served (nothing is read per request).
    writeFileSync(join(dir, 'late.js'), 'export {};');
    const index = await httpCall(port, 'GET', '/');
    expect(index.status).toBe(200);
    expect(index.headers['content-security-policy']).toBe(CONSOLE_CSP);
    expect((await httpCall(port, 'GET', '/assets/app.js')).headers['content-type']).toBe('text/javascript; charset=utf-8');
    for (const path of ['/assets/notes.txt', '/assets/late.js', '/assets/nested%2Fdeep.js', '/assets/..%2F..%2Fetc%2Fpasswd', '/assets/index.html']) {
      expect((await httpCall(port, 'GET', path)).status, path).toBe(404);
    }
    expect((await httpCall(port, 'GET', '/assets/nested/deep.js')).status).toBe(404);
  });
});
