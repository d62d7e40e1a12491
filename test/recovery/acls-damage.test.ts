import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { StrataClient } from '../../src/client/strata-client.js';
import { ACLS_TOPIC } from '../../src/core/internal-topics.js';
import { hashToken } from '../../src/server/auth/static-tokens.js';
import { type RunningServer, startServer } from '../../src/server/bootstrap.js';
import { resolveServerConfig, type ServerConfig } from '../../src/server/server-config.js';
import { capturingLogger, type LogLine } from '../helpers/capturing-logger.js';
import { rejection } from '../helpers/rejection.js';
import { makeTempDir } from '../helpers/temp-dir.js';

/**
 * `__acls` damaged on disk between two runs of a server (a batch header the startup walk refuses, as
 * the other damage tests make it): the rules after the damage are unknown, so the store holds none and
 * deny by default refuses every call a super user does not make, until an operator acts; the super
 * users keep the server manageable; the log says what happened.
 */
describe('a damaged __acls partition', () => {
  let dir: { path: string; remove: () => Promise<void> } | undefined;
  let server: RunningServer | undefined;
  const clients: StrataClient[] = [];

  afterEach(async () => {
    for (const made of clients.splice(0)) made.close();
    await server?.close();
    server = undefined;
    await dir?.remove();
  });

  it.each([
    {
      damage: "the second batch's base offset (the header walk at startup refuses the partition)",
      apply: (bytes: Buffer, secondBatchAt: number) => (bytes[secondBatchAt + 7]! ^= 0x40),
    },
    {
      damage: "a byte of the second batch's records (CRC-covered: the replay applies the first rule, then meets the damage)",
      apply: (bytes: Buffer, secondBatchAt: number) => (bytes[secondBatchAt + 12 + bytes.readInt32BE(secondBatchAt + 8) - 2]! ^= 0x01),
    },
  ])('after damage to $damage: refuses a normal principal, serves a super user, refuses ACL changes with DATA_LOSS, and logs DATA LOSS in __acls', async ({ apply }) => {
    dir = await makeTempDir();
    writeFileSync(join(dir.path, 'tokens.json'), JSON.stringify([{ principal: 'root', sha256: hashToken('root-token') }, { principal: 'alice', sha256: hashToken('alice-token') }]));
    const config: ServerConfig = resolveServerConfig({ dataDir: join(dir.path, 'data'), port: 0, httpPort: 0, host: '127.0.0.1', authTokensFile: join(dir.path, 'tokens.json'), superUsers: ['root'] });
    const client = (token: string) => {
      const made = new StrataClient({ address: `127.0.0.1:${server!.port}`, token });
      clients.push(made);
      return made;
    };

    server = await startServer(config, capturingLogger([], 'warn'));
    await client('root-token').admin.createTopic('orders', { partitions: 1 });
    // One record (one batch) per rule: the damage goes into the second, so a valid batch is before it and one after.
    await client('root-token').acls.add({ principal: 'alice', resourceType: 'topic', resourceName: 'orders', operation: 'read', permission: 'allow' });
    await client('root-token').acls.add({ principal: 'alice', resourceType: 'topic', resourceName: 'orders', operation: 'write', permission: 'allow' });
    await client('root-token').acls.add({ principal: 'alice', resourceType: 'group', resourceName: 'billing', operation: 'read', permission: 'allow' });
    const alice = client('alice-token').producer();
    await alice.send('orders', { value: 'before the damage' });
    await alice.close();
    expect((await client('alice-token').admin.describeTopic('orders')).name).toBe('orders');
    for (const made of clients.splice(0)) made.close();
    await server.close();
    server = undefined;

    const partitionDir = join(config.dataDir, ACLS_TOPIC, '0');
    const segments = readdirSync(partitionDir).filter((name) => name.endsWith('.log'));
    expect(segments).toEqual(['00000000000000000000.log']);
    const segment = join(partitionDir, segments[0]!);
    const bytes = readFileSync(segment);
    const secondBatchAt = 12 + bytes.readInt32BE(8);
    expect(secondBatchAt + 12 + bytes.readInt32BE(secondBatchAt + 8)).toBeLessThan(bytes.length);
    apply(bytes, secondBatchAt);
    writeFileSync(segment, bytes);

    const lines: LogLine[] = [];
    server = await startServer(config, capturingLogger(lines, 'info'));
    const dataLoss = lines.find((line) => /DATA LOSS in __acls/.test(line.msg));
    expect(dataLoss, 'the server logs the damage').toBeDefined();
    expect(dataLoss!.msg).toMatch(/every call a super user does not make is refused until an operator acts/);
    expect(dataLoss!.level).toBeGreaterThanOrEqual(50);

    // alice's rules (even the one before the damage) are not trusted: deny by default, for every call.
    const describeRefused = await rejection(client('alice-token').admin.describeTopic('orders'));
    expect([describeRefused.grpcStatus, describeRefused.code]).toEqual([grpc.status.PERMISSION_DENIED, 'PERMISSION_DENIED']);
    const consumed = client('alice-token').consume('orders', { from: 'earliest' })[Symbol.asyncIterator]();
    expect((await rejection(consumed.next())).code).toBe('PERMISSION_DENIED');
    await consumed.return?.();
    expect(lines.some((line) => line.audit === 'denied' && line.principal === 'alice' && line.resourceName === 'orders')).toBe(true);

    // The super user is served: reads, writes, admin.
    const root = client('root-token');
    expect((await root.admin.describeTopic('orders')).name).toBe('orders');
    const producer = root.producer();
    await producer.send('orders', { value: 'after the damage' });
    await producer.close();
    expect((await root.admin.listOffsets('orders', 'latest'))[0]!.offset).toBe(2);
    await root.admin.createTopic('after', { partitions: 1 });

    // An ACL change would be written after the damage and replayed without what it followed: refused.
    const change = await rejection(root.acls.add({ principal: 'alice', resourceType: 'topic', resourceName: 'after', operation: 'read', permission: 'allow' }));
    expect([change.grpcStatus, change.code]).toEqual([grpc.status.DATA_LOSS, 'DATA_LOSS']);
    expect((await rejection(client('alice-token').admin.describeTopic('after'))).code).toBe('PERMISSION_DENIED');
  });
});
