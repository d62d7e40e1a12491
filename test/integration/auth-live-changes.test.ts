import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { StrataClient } from '../../src/client/strata-client.js';
import { hashToken } from '../../src/server/auth/static-tokens.js';
import { type RunningServer, startServer } from '../../src/server/bootstrap.js';
import { resolveServerConfig } from '../../src/server/server-config.js';
import { capturingLogger, type LogLine } from '../helpers/capturing-logger.js';
import { rejection } from '../helpers/rejection.js';
import { makeTempDir } from '../helpers/temp-dir.js';

/**
 * The auth gate's hot path seen from outside (auth-gate.ts keeps a stream's decisions until the ACL
 * store's generation moves, and does not intercept what it has nothing to do for): a rule changed
 * while a produce stream is open applies to that stream's next request; a server without
 * authentication still audits its admin actions.
 */
describe('the auth gate on a real server', () => {
  let dir: { path: string; remove: () => Promise<void> } | undefined;
  let server: RunningServer | undefined;
  const clients: StrataClient[] = [];
  const client = (token?: string) => {
    const made = new StrataClient({ address: `127.0.0.1:${server!.port}`, ...(token !== undefined ? { token } : {}) });
    clients.push(made);
    return made;
  };

  afterEach(async () => {
    for (const made of clients.splice(0)) made.close();
    await server?.close();
    server = undefined;
    await dir?.remove();
  });

  it('applies an ACL change to a produce stream that is already open: a deny added, then the allow removed; a refused request fails alone and at once', async () => {
    dir = await makeTempDir();
    writeFileSync(join(dir.path, 'tokens.json'), JSON.stringify([{ principal: 'root', sha256: hashToken('root-token') }, { principal: 'bob', sha256: hashToken('bob-token') }]));
    server = await startServer(resolveServerConfig({ dataDir: join(dir.path, 'data'), port: 0, httpPort: 0, host: '127.0.0.1', authTokensFile: join(dir.path, 'tokens.json'), superUsers: ['root'] }), capturingLogger([], 'warn'));
    const root = client('root-token');
    await root.admin.createTopic('orders', { partitions: 1 });
    await root.admin.createTopic('orders-eu', { partitions: 1 });
    await root.acls.add({ principal: 'bob', resourceType: 'topic', patternType: 'prefix', resourceName: 'orders', operation: 'write', permission: 'allow' });
    // A refused request fails alone (the gate's refusal answered as its failure): at once, with the
    // default 120 s delivery timeout, and the stream's other requests go on.
    const producer = client('bob-token').producer();
    for (let i = 0; i < 3; i++) await producer.send('orders', { value: `before ${i}` });
    await producer.send('orders-eu', { value: 'before' });
    await root.acls.add({ principal: 'bob', resourceType: 'topic', resourceName: 'orders-eu', operation: 'write', permission: 'deny' });
    const [denied, allowed] = await Promise.allSettled([producer.send('orders-eu', { value: 'after the deny' }), producer.send('orders', { value: 'beside the denied one' })]);
    expect(denied.status === 'rejected' && (denied.reason as { code: string }).code).toBe('PERMISSION_DENIED');
    expect(allowed.status).toBe('fulfilled');
    await producer.close().catch(() => undefined);

    const again = client('bob-token').producer();
    await again.send('orders', { value: 'still allowed' });
    await root.acls.remove({ principal: 'bob', resourceType: 'topic', patternType: 'prefix', resourceName: 'orders', operation: 'write', permission: 'allow' });
    expect((await rejection(again.send('orders', { value: 'after the removal' }))).code).toBe('PERMISSION_DENIED');
    await again.close().catch(() => undefined);
    const ends = await root.admin.listOffsets('orders', 'latest');
    expect(ends[0]!.offset).toBe(5);
    expect((await root.admin.listOffsets('orders-eu', 'latest'))[0]!.offset).toBe(1);
  }, 20_000);

  it('serves a server without authentication as before: produce and replay work, admin actions are audited as ANONYMOUS', async () => {
    dir = await makeTempDir();
    const lines: LogLine[] = [];
    server = await startServer(resolveServerConfig({ dataDir: dir.path, port: 0, httpPort: 0, host: '127.0.0.1' }), capturingLogger(lines, 'info'));
    const anonymous = client();
    await anonymous.admin.createTopic('plain', { partitions: 2 });
    const producer = anonymous.producer();
    await producer.sendBatch('plain', Array.from({ length: 100 }, (_, i) => ({ value: `r${i}` })));
    await producer.close();
    let count = 0;
    for await (const batch of anonymous.consumeBatches('plain', { from: 'earliest', signal: AbortSignal.timeout(10_000) })) {
      count += batch.length;
      if (count >= 100) break;
    }
    expect(count).toBe(100);
    await anonymous.admin.deleteTopic('plain');
    const audits = lines.filter((line) => line.audit === 'admin');
    expect(audits.map((line) => [line.method, line.principal, line.outcome])).toEqual([
      ['/strata.v1.AdminService/CreateTopic', 'ANONYMOUS', 'done'],
      ['/strata.v1.AdminService/DeleteTopic', 'ANONYMOUS', 'done'],
    ]);
  });
});
