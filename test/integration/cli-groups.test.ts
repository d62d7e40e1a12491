import { describe, expect, it } from 'vitest';
import { useCliServer } from '../helpers/cli-server.js';

describe('strata groups (through Admin) against a real server', () => {
  const { strata } = useCliServer();

  it('resets offsets to every target the CLI offers (a dry run unless --execute), lists and deletes a group', async () => {
    await strata('topics', 'create', 'cg', '--partitions', '1');
    for (let i = 0; i < 6; i++) await strata('produce', 'cg', '--value', `v${i}`);
    type Plan = { changes: Array<{ partition: number; previousOffset: number; newOffset: number }>; executed: boolean };
    const reset = async (...args: string[]) => JSON.parse((await strata('groups', 'reset-offsets', 'cg-group', '--topic', 'cg', '--json', ...args)).stdout) as Plan;

    const executed = await reset('--to-offset', '4', '--execute');
    expect(executed).toEqual({ changes: [{ topic: 'cg', partition: 0, previousOffset: -1, newOffset: 4 }], executed: true });
    expect((await reset('--to-earliest')).changes[0]).toMatchObject({ previousOffset: 4, newOffset: 0 });
    expect((await reset('--to-latest')).changes[0]).toMatchObject({ previousOffset: 4, newOffset: 6 });
    expect((await reset('--shift-by', '-3')).changes[0]).toMatchObject({ previousOffset: 4, newOffset: 1 });
    expect((await reset('--to-datetime', new Date(Date.now() + 60_000).toISOString())).changes[0]).toMatchObject({ newOffset: 6 });
    expect((await reset('--to-datetime', '2000-01-01T00:00:00Z')).changes[0]).toMatchObject({ newOffset: 0 });
    const table = (await strata('groups', 'reset-offsets', 'cg-group', '--topic', 'cg', '--to-earliest')).stdout;
    expect(table).toMatch(/dry run: nothing changed/);
    await expect(strata('groups', 'reset-offsets', 'cg-group', '--topic', 'cg', '--to-earliest', '--to-latest')).rejects.toMatchObject({ code: 1, stderr: expect.stringMatching(/choose exactly one/) });

    const list = JSON.parse((await strata('groups', 'list', '--json')).stdout) as Array<{ groupId: string }>;
    expect(list.map((g) => g.groupId)).toEqual(['cg-group']);
    expect((await strata('groups', 'list')).stdout).toMatch(/cg-group/);
    const described = JSON.parse((await strata('groups', 'describe', 'cg-group', '--json')).stdout) as { lag: Array<{ committedOffset: number; lagRecords: number }> };
    expect(described.lag).toEqual([expect.objectContaining({ committedOffset: 4, lagRecords: 2 })]);

    expect((await strata('groups', 'delete', 'cg-group')).stdout).toMatch(/deleted group cg-group/);
    await expect(strata('groups', 'delete', 'cg-group')).rejects.toMatchObject({ code: 1, stderr: expect.stringMatching(/GROUP_NOT_FOUND/) });
  });
});
