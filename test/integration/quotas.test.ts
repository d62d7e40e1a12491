import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QUOTA_NAMES } from '../../src/client/quota-admin.js';
import { StrataClient } from '../../src/client/strata-client.js';
import { QUOTA_KEYS } from '../../src/quotas/principal-quotas.js';
import { hashToken } from '../../src/server/auth/static-tokens.js';
import { type RunningServer, startServer } from '../../src/server/bootstrap.js';
import { resolveServerConfig, type ServerConfig } from '../../src/server/server-config.js';
import { capturingLogger, type LogLine } from '../helpers/capturing-logger.js';
import { useInProcessServer } from '../helpers/in-process-server.js';
import { rejection } from '../helpers/rejection.js';
import { makeTempDir } from '../helpers/temp-dir.js';

describe('QuotaService and client.quotas (no authentication: every call is ANONYMOUS)', () => {
  const fixture = useInProcessServer({ quotas: { max_groups: 100, producer_byte_rate: 5_000_000 } });

  it('the client lists the same keys as the server', () => {
    expect([...QUOTA_NAMES]).toEqual([...QUOTA_KEYS]);
  });

  it('sets with a dry run first, merges, removes keys and entries, lists, and resolves with the level of each value', async () => {
    const quotas = fixture.client.quotas;
    expect(await quotas.set('alice', { producer_byte_rate: 1_048_576 }, { dryRun: true })).toEqual({
      isChanged: true,
      previous: { entity: 'alice', values: {} },
      entry: { entity: 'alice', values: { producer_byte_rate: 1_048_576 } },
    });
    expect(await quotas.list()).toEqual([]);
    await quotas.set('alice', { producer_byte_rate: 1_048_576 });
    await quotas.set('alice', { max_streams: 8 });
    expect((await quotas.set('alice', { max_streams: 8 })).isChanged).toBe(false);
    await quotas.set('*', { consumer_byte_rate: 2_000_000.5, max_streams: 50 });
    expect(await quotas.list()).toEqual([
      { entity: '*', values: { consumer_byte_rate: 2_000_000.5, max_streams: 50 } },
      { entity: 'alice', values: { producer_byte_rate: 1_048_576, max_streams: 8 } },
    ]);
    expect(await quotas.list({ entity: 'alice' })).toEqual([{ entity: 'alice', values: { producer_byte_rate: 1_048_576, max_streams: 8 } }]);
    expect(await quotas.resolve('alice')).toEqual([
      { key: 'producer_byte_rate', value: 1_048_576, level: 'principal' },
      { key: 'consumer_byte_rate', value: 2_000_000.5, level: 'default' },
      { key: 'admin_request_rate', value: null, level: 'unlimited' },
      { key: 'max_groups', value: 100, level: 'config' },
      { key: 'max_connections', value: null, level: 'unlimited' },
      { key: 'max_streams', value: 8, level: 'principal' },
    ]);
    // The server's QuotaSource sees the same.
    expect(fixture.server.quotas.quotasFor('alice')).toMatchObject({ producer_byte_rate: 1_048_576, consumer_byte_rate: 2_000_000.5, max_groups: 100, max_streams: 8 });
    expect(fixture.server.quotas.quotasFor('bob')).toMatchObject({ producer_byte_rate: 5_000_000, max_streams: 50 });
    const removed = await quotas.remove('alice', ['max_streams']);
    expect(removed).toEqual({ isChanged: true, previous: { entity: 'alice', values: { producer_byte_rate: 1_048_576, max_streams: 8 } }, entry: { entity: 'alice', values: { producer_byte_rate: 1_048_576 } } });
    expect(fixture.server.quotas.quotasFor('alice').max_streams).toBe(50);
    expect((await quotas.remove('*', 'all', { dryRun: true })).isChanged).toBe(true);
    await quotas.remove('*', 'all');
    expect(await quotas.list()).toEqual([{ entity: 'alice', values: { producer_byte_rate: 1_048_576 } }]);
  });

  it('refuses bad keys, values and entities with INVALID_ARGUMENT, changing nothing', async () => {
    const quotas = fixture.client.quotas;
    const before = await quotas.list();
    for (const attempt of [
      quotas.set('carol', { bogus_rate: 1 } as never),
      quotas.set('carol', { max_groups: 1.5 }),
      quotas.set('carol', { producer_byte_rate: -5 }),
      quotas.set('carol', {}),
      quotas.set('', { max_groups: 1 }),
      quotas.remove('alice', ['bogus' as never]),
      quotas.remove('alice', []),
    ]) {
      const error = await rejection(attempt);
      expect(error).toMatchObject({ code: 'INVALID_ARGUMENT' });
    }
    expect(await quotas.list()).toEqual(before);
  });

  it('keeps the entries across a restart (rebuilt from __quotas)', async () => {
    await fixture.client.quotas.set('dave', { max_connections: 3 });
    const before = await fixture.client.quotas.list();
    await fixture.restart();
    expect(await fixture.client.quotas.list()).toEqual(before);
    expect(fixture.server.quotas.quotasFor('dave').max_connections).toBe(3);
  });
});

describe('QuotaService with authentication: cluster alter to change, cluster describe to list, changes audited', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let server: RunningServer | undefined;
  let config: ServerConfig;
  const lines: LogLine[] = [];
  const clients: StrataClient[] = [];
  const client = (token: string) => {
    const made = new StrataClient({ address: `127.0.0.1:${server!.port}`, token });
    clients.push(made);
    return made;
  };

  beforeAll(async () => {
    dir = await makeTempDir();
    writeFileSync(
      join(dir.path, 'tokens.json'),
      JSON.stringify([
        { principal: 'root', sha256: hashToken('root-token') },
        { principal: 'alice', sha256: hashToken('alice-token') },
        { principal: 'ops', sha256: hashToken('ops-token') },
      ]),
    );
    config = resolveServerConfig({ dataDir: join(dir.path, 'data'), port: 0, httpPort: -1, host: '127.0.0.1', authTokensFile: join(dir.path, 'tokens.json'), superUsers: ['root'] });
    server = await startServer(config, capturingLogger(lines, 'info'));
  });

  afterAll(async () => {
    for (const made of clients) made.close();
    await server?.close();
    await dir?.remove();
  });

  it('a principal without rights can neither set, remove nor list quotas; with describe it lists, with alter it sets', async () => {
    const alice = client('alice-token');
    expect(await rejection(alice.quotas.set('alice', { producer_byte_rate: 1e12 }))).toMatchObject({ code: 'PERMISSION_DENIED' });
    expect(await rejection(alice.quotas.set('alice', { producer_byte_rate: 1e12 }, { dryRun: true }))).toMatchObject({ code: 'PERMISSION_DENIED' });
    expect(await rejection(alice.quotas.remove('*', 'all'))).toMatchObject({ code: 'PERMISSION_DENIED' });
    expect(await rejection(alice.quotas.list())).toMatchObject({ code: 'PERMISSION_DENIED' });
    expect(server!.quotas.quotasFor('alice').producer_byte_rate).toBeNull();

    const root = client('root-token');
    await root.quotas.set('alice', { producer_byte_rate: 1_000_000 });
    await root.acls.add({ principal: 'ops', resourceType: 'cluster', resourceName: 'strata', operation: 'describe', permission: 'allow' });
    const ops = client('ops-token');
    expect(await ops.quotas.list()).toEqual([{ entity: 'alice', values: { producer_byte_rate: 1_000_000 } }]);
    expect(await rejection(ops.quotas.set('ops', { max_groups: 1_000 }))).toMatchObject({ code: 'PERMISSION_DENIED' });
    await root.acls.add({ principal: 'ops', resourceType: 'cluster', resourceName: 'strata', operation: 'alter', permission: 'allow' });
    await ops.quotas.set('*', { max_groups: 20 });
    expect(server!.quotas.quotasFor('alice')).toMatchObject({ producer_byte_rate: 1_000_000, max_groups: 20 });
    // Each change is an audited admin action naming its principal; a refused one is logged as denied.
    expect(lines).toContainEqual(expect.objectContaining({ audit: 'admin', principal: 'ops', method: '/strata.v1.QuotaService/SetQuotas' }));
    expect(lines).toContainEqual(expect.objectContaining({ audit: 'denied', principal: 'alice', method: '/strata.v1.QuotaService/SetQuotas' }));
  });
});

describe('quotas set through the QuotaService are what the enforcers apply, from the next call on', () => {
  const fixture = useInProcessServer({});

  it('max_streams set for ANONYMOUS refuses a second stream; removed, it is admitted', async () => {
    const client = fixture.client;
    await client.admin.createTopic('store-enforced', { partitions: 1 });
    const producer = client.producer();
    await producer.send('store-enforced', { value: 'one' });
    await producer.close();
    const subscribe = () =>
      new Promise<{ cancel(): void }>((resolve, reject) => {
        const call = client.stubs.consume.subscribe({ topic: 'store-enforced', start: { point: 'START_POINT_EARLIEST' } });
        call.once('data', () => resolve(call));
        call.once('error', (error: Error & { metadata?: { get(key: string): unknown[] } }) => reject(error));
        call.on('error', () => undefined);
      });
    await client.quotas.set('ANONYMOUS', { max_streams: 1 });
    const first = await subscribe();
    try {
      const refused = await rejection(subscribe());
      expect(refused.message).toMatch(/QUOTA_EXCEEDED|holds 1 streaming call/);
      await client.quotas.remove('ANONYMOUS', 'all');
      const second = await subscribe();
      second.cancel();
    } finally {
      first.cancel();
    }
  });

  it('producer_byte_rate set for ANONYMOUS throttles its produce answers; a raised quota does not', async () => {
    const client = fixture.client;
    await client.admin.createTopic('store-throttled', { partitions: 1 });
    // 110 kB against 10 kB/s over Kafka's 10 s window: about 1 s of throttle.
    await client.quotas.set('ANONYMOUS', { producer_byte_rate: 10_000 });
    const producer = client.producer({ lingerMs: 0 });
    await producer.sendBatch('store-throttled', Array.from({ length: 110 }, () => ({ value: Buffer.alloc(1_000, 1) })));
    expect(producer.throttle.lastThrottleTimeMs).toBeGreaterThan(0);
    const throttledBefore = producer.throttle.throttledCount;
    await client.quotas.set('ANONYMOUS', { producer_byte_rate: 1_000_000_000 });
    await producer.send('store-throttled', { value: 'after' });
    expect(producer.throttle.throttledCount, 'an answer under the raised quota is not held').toBe(throttledBefore);
    await producer.close();
  }, 30_000);
});
