import { describe, expect, it } from 'vitest';
import { useCliServer } from '../helpers/cli-server.js';

/** `strata topics alter-config` and `strata topics add-partitions --force` against a real server process. */
describe('strata topics alter-config and add-partitions', () => {
  const { strata } = useCliServer();
  const overrides = async (topic: string) => (JSON.parse((await strata('topics', 'describe', topic, '--json')).stdout) as { configOverrides: Record<string, string> }).configOverrides;

  it('sets and deletes overrides, printing each key old -> new; describe shows the overrides', async () => {
    await strata('topics', 'create', 'cfg', '--partitions', '2', '--config', 'retention.ms=60000,flush=interval');
    const altered = await strata('topics', 'alter-config', 'cfg', '--set', 'retention.bytes=1048576', '--set', 'retention.ms=120000', '--delete', 'flush');
    expect(altered.stdout).toBe(
      'altered topic cfg:\n' +
        '  flush: interval (set) -> always (default)\n' +
        '  retention.bytes: -1 (default) -> 1048576 (set)\n' +
        '  retention.ms: 60000 (set) -> 120000 (set)\n',
    );
    expect(await overrides('cfg')).toEqual({ 'retention.ms': '120000', 'retention.bytes': '1048576' });
    const table = (await strata('topics', 'describe', 'cfg')).stdout;
    expect(table).toMatch(/retention\.bytes \(set\)\s*│\s*1048576/);
    expect(table).toMatch(/retention\.ms \(set\)\s*│\s*120000/);
    expect(table).toMatch(/│ flush\s*│\s*always/);
  });

  it('--dry-run prints what would change and changes nothing; --json gives the changes and the topic', async () => {
    await strata('topics', 'create', 'dry', '--partitions', '1');
    const dry = await strata('topics', 'alter-config', 'dry', '--set', 'flush=never', '--dry-run');
    expect(dry.stdout).toBe('dry run: topic dry would change (nothing changed; run without --dry-run to apply):\n  flush: always (default) -> never (set)\n');
    expect(await overrides('dry')).toEqual({});
    const json = JSON.parse((await strata('topics', 'alter-config', 'dry', '--set', 'segment.ms=60000', '--json')).stdout) as {
      dryRun: boolean;
      changes: unknown[];
      topic: { configOverrides: Record<string, string> };
    };
    expect(json).toMatchObject({ dryRun: false, changes: [{ key: 'segment.ms', newValue: '60000', isOverride: true }], topic: { configOverrides: { 'segment.ms': '60000' } } });
  });

  it('refuses bad input with one line and exit code 1, changing nothing', async () => {
    await strata('topics', 'create', 'bad', '--partitions', '1', '--config', 'retention.ms=60000');
    await expect(strata('topics', 'alter-config', 'bad', '--set', 'nosuch.key=1')).rejects.toMatchObject({ code: 1, stderr: expect.stringMatching(/^strata: INVALID_CONFIG: unknown topic config 'nosuch.key'/) });
    await expect(strata('topics', 'alter-config', 'bad', '--set', 'retention.ms=soon')).rejects.toMatchObject({ code: 1, stderr: expect.stringMatching(/^strata: INVALID_CONFIG: retention.ms must be/) });
    await expect(strata('topics', 'alter-config', 'bad')).rejects.toMatchObject({ code: 1, stderr: expect.stringMatching(/^strata: INVALID_ARGUMENT: nothing to change/) });
    await expect(strata('topics', 'alter-config', '__consumer_offsets', '--set', 'retention.ms=1')).rejects.toMatchObject({ code: 1, stderr: expect.stringMatching(/^strata: INTERNAL_TOPIC: /) });
    await expect(strata('topics', 'alter-config', 'nosuch', '--set', 'retention.ms=1')).rejects.toMatchObject({ code: 1, stderr: expect.stringMatching(/^strata: TOPIC_NOT_FOUND: /) });
    await expect(strata('topics', 'alter-config', 'bad', '--set', 'retention.ms')).rejects.toMatchObject({ code: 1, stderr: expect.stringMatching(/expected key=value/) });
    expect(await overrides('bad')).toEqual({ 'retention.ms': '60000' });
  });

  it('add-partitions warns that keys move (Kafka\'s words) and changes nothing without --force', async () => {
    await strata('topics', 'create', 'keyed', '--partitions', '2');
    const refused = strata('topics', 'add-partitions', 'keyed', '--partitions', '4');
    await expect(refused).rejects.toMatchObject({ code: 1 });
    const { stderr } = (await refused.catch((error: unknown) => error)) as { stderr: string };
    expect(stderr).toMatch(/^WARNING: If partitions are increased for a topic that has a key, the partition logic or ordering of the messages will be affected\n/);
    expect(stderr).toMatch(/nothing changed: run again with --force/);
    expect(JSON.parse((await strata('topics', 'describe', 'keyed', '--json')).stdout)).toMatchObject({ partitionCount: 2 });

    const forced = await strata('topics', 'add-partitions', 'keyed', '--partitions', '4', '--force');
    expect(forced.stderr).toMatch(/^WARNING: If partitions are increased/);
    expect(forced.stdout).toBe('topic keyed now has 4 partitions\n');
    expect(JSON.parse((await strata('topics', 'describe', 'keyed', '--json')).stdout)).toMatchObject({ partitionCount: 4 });
  });
});
