import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashToken } from '../../src/server/auth/static-tokens.js';
import { STRATA_BIN, startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const run = promisify(execFile);

describe('strata acl and strata auth (CLI)', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let server: ServerProcess | undefined;
  const strata = (args: string[], env: Record<string, string> = {}) =>
    run(process.execPath, [STRATA_BIN, '--server', server!.address, ...args], { env: { ...process.env, STRATA_TOKEN: '', ...env }, timeout: 30_000 });

  beforeAll(async () => {
    dir = await makeTempDir();
    writeFileSync(join(dir.path, 'tokens.json'), JSON.stringify([{ principal: 'root', sha256: hashToken('root-token') }, { principal: 'alice', sha256: hashToken('alice-token') }]));
    server = await startServerProcess(join(dir.path, 'data'), ['--auth-tokens', join(dir.path, 'tokens.json'), '--super-user', 'root']);
  });
  afterAll(async () => {
    await server?.stop('SIGKILL');
    await dir?.remove();
  });

  it('hash-token prints the SHA-256 a token file stores', async () => {
    const child = run(process.execPath, [STRATA_BIN, 'auth', 'hash-token'], { timeout: 30_000 });
    child.child.stdin!.end('root-token\n');
    expect((await child).stdout.trim()).toBe(hashToken('root-token'));
  });

  it('adds a rule only with --execute (a dry run first), lists and removes it; --token and STRATA_TOKEN carry the token', async () => {
    const rule = ['--principal', 'alice', '--operation', 'describe', '--topic', 'pay', '--prefix'];
    const dry = await strata(['--token', 'root-token', 'acl', 'add', ...rule]);
    expect(dry.stdout).toMatch(/would add: ALLOW alice describe on topic names starting with 'pay'/);
    expect(JSON.parse((await strata(['acl', 'list', '--json'], { STRATA_TOKEN: 'root-token' })).stdout)).toEqual([]);
    expect((await strata(['acl', 'add', ...rule, '--execute'], { STRATA_TOKEN: 'root-token' })).stdout).toMatch(/^added: /);
    expect((await strata(['acl', 'add', ...rule, '--execute'], { STRATA_TOKEN: 'root-token' })).stdout).toMatch(/no change: the rule is there already/);
    expect(JSON.parse((await strata(['acl', 'list', '--json'], { STRATA_TOKEN: 'root-token' })).stdout)).toEqual([
      { principal: 'alice', resourceType: 'topic', patternType: 'prefix', resourceName: 'pay', operation: 'describe', permission: 'allow' },
    ]);
    expect((await strata(['acl', 'remove', ...rule, '--execute'], { STRATA_TOKEN: 'root-token' })).stdout).toMatch(/^removed: /);
    const producerRule = await strata(['acl', 'add', '--principal', 'billing', '--operation', 'write', '--producer', 'billing-service'], { STRATA_TOKEN: 'root-token' });
    expect(producerRule.stdout).toMatch(/would add: ALLOW billing write on producer 'billing-service'/);
    const refused = await strata(['--token', 'wrong', 'topics', 'list']).catch((error: { code: number; stderr: string }) => error);
    expect(refused).toMatchObject({ code: expect.any(Number) });
    expect((refused as { stderr: string }).stderr).toMatch(/AUTHENTICATION_FAILED/);
    const denied = await strata(['--token', 'alice-token', 'acl', 'add', ...rule]).catch((error: { stderr: string }) => error);
    expect((denied as { stderr: string }).stderr).toMatch(/PERMISSION_DENIED/);
  });
});
