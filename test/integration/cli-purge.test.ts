import { describe, expect, it } from 'vitest';
import { StrataClient } from '../../src/client/strata-client.js';
import { useCliServer } from '../helpers/cli-server.js';

describe('strata topics purge', () => {
  const cli = useCliServer();
  const { strata } = cli;

  async function withClient<T>(run: (client: StrataClient) => Promise<T>): Promise<T> {
    const client = new StrataClient({ address: cli.server.address });
    try {
      return await run(client);
    } finally {
      client.close();
    }
  }

  const starts = () => withClient(async (c) => (await c.admin.describeTopic('cp')).partitions.map((p) => p.logStartOffset));

  it('prints what would go and changes nothing by default; purges with --execute; --all empties a partition', async () => {
    await withClient(async (client) => {
      await client.admin.createTopic('cp', { partitions: 2 });
      const producer = client.producer();
      await producer.sendBatch('cp', Array.from({ length: 30 }, (_, i) => ({ value: `a${i}`, partition: 0 })));
      await producer.sendBatch('cp', Array.from({ length: 8 }, (_, i) => ({ value: `b${i}`, partition: 1 })));
      await producer.close();
    });

    const dryRun = await strata('topics', 'purge', 'cp', '--before', '5');
    expect(dryRun.stdout).toMatch(/partition\s*│\s*log start\s*│\s*new log start\s*│\s*records purged\s*│\s*high watermark/);
    expect(dryRun.stdout).toMatch(/│\s*0\s*│\s*0\s*│\s*5\s*│\s*5\s*│\s*30\s*│/);
    expect(dryRun.stdout).toMatch(/│\s*1\s*│\s*0\s*│\s*5\s*│\s*5\s*│\s*8\s*│/);
    expect(dryRun.stdout).toMatch(/dry run: 10 records would be purged, nothing changed \(add --execute to purge\)/);
    expect(await starts()).toEqual([0, 0]);

    const executed = await strata('topics', 'purge', 'cp', '--partition', '0', '--before', '12', '--execute');
    expect(executed.stdout).toMatch(/purged 12 records/);
    expect(await starts()).toEqual([12, 0]);

    const all = JSON.parse((await strata('topics', 'purge', 'cp', '--partition', '1', '--all', '--execute', '--json')).stdout) as { partitions: unknown[]; validatedOnly: boolean };
    expect(all).toEqual({ partitions: [{ partition: 1, previousLogStartOffset: 0, logStartOffset: 8, purgedRecords: 8, highWatermark: 8 }], validatedOnly: false });
    expect(await starts()).toEqual([12, 8]);
    // describe shows the new start.
    expect((await strata('topics', 'describe', 'cp')).stdout).toMatch(/│\s*0\s*│\s*12\s*│\s*30\s*│\s*30\s*│/);
  });

  it('refuses a usage error and a bad request with a one-line error, exit code 1, and changes nothing', async () => {
    await expect(strata('topics', 'purge', 'cp')).rejects.toMatchObject({ code: 1, stderr: expect.stringMatching(/choose exactly one of --before OFFSET and --all/) });
    await expect(strata('topics', 'purge', 'cp', '--before', '3', '--all')).rejects.toMatchObject({ code: 1 });
    await expect(strata('topics', 'purge', 'cp', '--before', '31', '--execute')).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/^strata: OFFSET_OUT_OF_RANGE: offset 31 is outside the valid range \[12, 30\]/),
    });
    await expect(strata('topics', 'purge', '__consumer_offsets', '--all', '--execute')).rejects.toMatchObject({ code: 1, stderr: expect.stringMatching(/INTERNAL_TOPIC/) });
    await expect(strata('topics', 'purge', 'cp', '--partition', '7', '--all')).rejects.toMatchObject({ code: 1, stderr: expect.stringMatching(/PARTITION_NOT_FOUND/) });
    expect(await starts()).toEqual([12, 8]);
  });
});
