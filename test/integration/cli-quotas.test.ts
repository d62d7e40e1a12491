import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STRATA_BIN, startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const run = promisify(execFile);
/** A printed table's cells, row by row (its box lines dropped). */
const tableRows = (text: string) =>
  text
    .split('\n')
    .map((line) => line.replace(/[│┌┐└┘├┤┬┴┼─]/g, ' ').trim())
    .filter((line) => line !== '')
    .map((line) => line.split(/\s+/));

describe('strata quotas (CLI) and strata serve --quota', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let server: ServerProcess | undefined;
  const strata = (...args: string[]) => run(process.execPath, [STRATA_BIN, '--server', server!.address, ...args], { env: { ...process.env, STRATA_TOKEN: '' }, timeout: 30_000 });
  const failure = (...args: string[]) => strata(...args).then(
    () => {
      throw new Error(`expected strata ${args.join(' ')} to fail`);
    },
    (error: { code: number; stdout: string; stderr: string }) => error,
  );

  beforeAll(async () => {
    dir = await makeTempDir();
    server = await startServerProcess(join(dir.path, 'data'), ['--quota', 'max_groups=100', '--quota', 'producer_byte_rate=5000000']);
  });
  afterAll(async () => {
    await server?.stop('SIGKILL');
    await dir?.remove();
  });

  it('sets only with --execute (a dry run first), lists, resolves with where each value comes from, and removes', async () => {
    expect((await strata('quotas', 'set', '--principal', 'alice', 'producer_byte_rate=1048576', 'max_streams=8')).stdout).toBe(
      'would change the quotas of alice:\n  producer_byte_rate: unset -> 1048576\n  max_streams: unset -> 8\n(dry run: add --execute to set them)\n',
    );
    expect(JSON.parse((await strata('quotas', 'list', '--json')).stdout)).toEqual([]);
    expect((await strata('quotas', 'set', '--principal', 'alice', 'producer_byte_rate=1048576', 'max_streams=8', '--execute')).stdout).toBe(
      'changed the quotas of alice:\n  producer_byte_rate: unset -> 1048576\n  max_streams: unset -> 8\n',
    );
    expect((await strata('quotas', 'set', '--principal', 'alice', 'max_streams=8', '--execute')).stdout).toBe('no change: alice has these quotas already\n');
    expect(JSON.parse((await strata('quotas', 'set', '--default', 'consumer_byte_rate=2000000', '--execute', '--json')).stdout)).toEqual({
      dryRun: false,
      changed: true,
      entity: '*',
      previous: {},
      values: { consumer_byte_rate: 2_000_000 },
    });
    expect(tableRows((await strata('quotas', 'list')).stdout)).toEqual([
      ['entity', 'quota', 'value'],
      ['*', 'consumer_byte_rate', '2000000'],
      ['alice', 'producer_byte_rate', '1048576'],
      ['alice', 'max_streams', '8'],
    ]);
    // The defaults given to strata serve --quota are the last level.
    expect(JSON.parse((await strata('quotas', 'list', '--principal', 'alice', '--resolved', '--json')).stdout)).toEqual([
      { key: 'producer_byte_rate', value: 1_048_576, level: 'principal' },
      { key: 'consumer_byte_rate', value: 2_000_000, level: 'default' },
      { key: 'admin_request_rate', value: null, level: 'unlimited' },
      { key: 'max_groups', value: 100, level: 'config' },
      { key: 'max_connections', value: null, level: 'unlimited' },
      { key: 'max_streams', value: 8, level: 'principal' },
    ]);
    expect(tableRows((await strata('quotas', 'list', '--principal', 'bob', '--resolved')).stdout)).toEqual([
      ['quota', 'value', 'from'],
      ['producer_byte_rate', '5000000', 'config'],
      ['consumer_byte_rate', '2000000', 'default'],
      ['admin_request_rate', 'unlimited', '-'],
      ['max_groups', '100', 'config'],
      ['max_connections', 'unlimited', '-'],
      ['max_streams', 'unlimited', '-'],
    ]);
    expect((await strata('quotas', 'remove', '--principal', 'alice', 'max_streams')).stdout).toBe('would change the quotas of alice:\n  max_streams: 8 -> unset\n(dry run: add --execute to remove them)\n');
    expect((await strata('quotas', 'remove', '--principal', 'alice', 'max_streams', '--execute')).stdout).toBe('changed the quotas of alice:\n  max_streams: 8 -> unset\n');
    expect((await strata('quotas', 'remove', '--default', '--all', '--execute')).stdout).toBe("changed the quotas of the default entry '*':\n  consumer_byte_rate: 2000000 -> unset\n");
    expect(JSON.parse((await strata('quotas', 'list', '--json')).stdout)).toEqual([{ entity: 'alice', values: { producer_byte_rate: 1_048_576 } }]);
  }, 120_000);

  it('refuses what is not a quota, a missing entity and bad values with one line and exit code 1, changing nothing', async () => {
    const before = (await strata('quotas', 'list', '--json')).stdout;
    const cases: Array<[string[], RegExp]> = [
      [['quotas', 'set', '--principal', 'alice', 'bogus=1', '--execute'], /unknown quota 'bogus'/],
      [['quotas', 'set', '--principal', 'alice', 'max_groups', '--execute'], /KEY=VALUE/],
      [['quotas', 'set', 'max_groups=1', '--execute'], /--principal NAME, or --default/],
      [['quotas', 'set', '--principal', 'alice', '--default', 'max_groups=1', '--execute'], /--principal NAME, or --default/],
      // Checked by the server: a count is a whole number.
      [['quotas', 'set', '--principal', 'alice', 'max_groups=1.5', '--execute'], /INVALID_ARGUMENT.*whole number/],
      [['quotas', 'remove', '--principal', 'alice', '--execute'], /--all for the whole entry/],
      [['quotas', 'list', '--resolved'], /--resolved needs --principal/],
    ];
    for (const [args, message] of cases) {
      const error = await failure(...args);
      expect(error.code, args.join(' ')).toBe(1);
      expect(error.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
      expect(error.stderr).toMatch(message);
    }
    expect((await strata('quotas', 'list', '--json')).stdout).toBe(before);
  }, 120_000);
});
