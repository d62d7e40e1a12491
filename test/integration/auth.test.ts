import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { exportSPKI, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StrataClient } from '../../src/client/strata-client.js';
import { type RunningServer, startServer } from '../../src/server/bootstrap.js';
import { hashToken } from '../../src/server/auth/static-tokens.js';
import { resolveServerConfig, type ServerConfig } from '../../src/server/server-config.js';
import { capturingLogger, type LogLine } from '../helpers/capturing-logger.js';
import { rejection } from '../helpers/rejection.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { httpCall } from '../helpers/http-call.js';

const ISSUER = 'https://issuer.test';
const AUDIENCE = 'strata';
const NOW_S = () => Math.floor(Date.now() / 1000);

describe('authentication and ACLs', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let server: RunningServer | undefined;
  let config: ServerConfig;
  const lines: LogLine[] = [];
  const clients: StrataClient[] = [];
  let signJwt: (claims: Record<string, unknown>, options?: { audience?: string; issuer?: string; expiresInS?: number }) => Promise<string>;
  let isPeerLoopback = true;

  const start = async () => {
    server = await startServer(config, capturingLogger(lines, 'info'), undefined, { isLoopbackPeer: () => isPeerLoopback });
  };
  const client = (token?: string) => {
    const made = new StrataClient({ address: `127.0.0.1:${server!.port}`, ...(token !== undefined ? { token } : {}) });
    clients.push(made);
    return made;
  };

  beforeAll(async () => {
    dir = await makeTempDir();
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    const other = await generateKeyPair('ES256');
    writeFileSync(join(dir.path, 'jwt.pem'), await exportSPKI(publicKey));
    signJwt = async (claims, options = {}) => {
      const key = claims.signedByStranger ? other.privateKey : privateKey;
      return new SignJWT({ ...claims, signedByStranger: undefined })
        .setProtectedHeader({ alg: 'ES256' })
        .setIssuer(options.issuer ?? ISSUER)
        .setAudience(options.audience ?? AUDIENCE)
        .setIssuedAt()
        .setExpirationTime(NOW_S() + (options.expiresInS ?? 600))
        .sign(key);
    };
    writeFileSync(
      join(dir.path, 'tokens.json'),
      JSON.stringify([
        { principal: 'root', sha256: hashToken('root-token') },
        { principal: 'alice', sha256: hashToken('alice-token') },
        { principal: 'bob', sha256: hashToken('bob-token') },
      ]),
    );
    config = resolveServerConfig({
      dataDir: join(dir.path, 'data'),
      port: 0,
      httpPort: 0,
      host: '127.0.0.1',
      authTokensFile: join(dir.path, 'tokens.json'),
      jwt: { issuer: ISSUER, audience: AUDIENCE, publicKeyFiles: [join(dir.path, 'jwt.pem')] },
      superUsers: ['root'],
      consoleActions: true,
    });
    await start();
  });

  afterAll(async () => {
    for (const made of clients) made.close();
    await server?.close();
    await dir?.remove();
  });

  it('refuses calls without credentials, with an unknown token, a bad JWT or a token over plaintext from another host: UNAUTHENTICATED', async () => {
    const cases: Array<[string, string | undefined]> = [
      ['no credentials', undefined],
      ['an unknown static token', 'not-a-token'],
      ['an expired JWT', await signJwt({ sub: 'alice' }, { expiresInS: -120 })],
      ['a JWT for another audience', await signJwt({ sub: 'alice' }, { audience: 'someone-else' })],
      ['a JWT of another issuer', await signJwt({ sub: 'alice' }, { issuer: 'https://evil.test' })],
      ['a JWT signed by another key', await signJwt({ sub: 'alice', signedByStranger: true })],
    ];
    for (const [what, token] of cases) {
      const error = await rejection(client(token).admin.listTopics());
      expect(error.grpcStatus, what).toBe(grpc.status.UNAUTHENTICATED);
      expect(error.code, what).toBe('AUTHENTICATION_FAILED');
    }
    isPeerLoopback = false;
    try {
      const error = await rejection(client('root-token').admin.listTopics());
      expect(error.grpcStatus).toBe(grpc.status.UNAUTHENTICATED);
      expect(error.message).toMatch(/only over TLS or from this machine/);
    } finally {
      isPeerLoopback = true;
    }
    // Health is open to probes.
    const health = new grpc.Client(`127.0.0.1:${server!.port}`, grpc.credentials.createInsecure());
    const status = await new Promise<number>((resolve) =>
      health.makeUnaryRequest('/grpc.health.v1.Health/Check', () => Buffer.alloc(0), (b: Buffer) => b, {}, (error) => resolve(error ? error.code! : 0)),
    );
    health.close();
    expect(status).toBe(0);
  });

  it('asks a token provider for every call (a refreshed token takes over at the next one); a provider that fails ends the call with its message', async () => {
    const tokens = ['not-a-token', 'root-token'];
    let failure: Error | undefined;
    const provider = async () => {
      if (failure) throw failure;
      return tokens.shift() ?? 'root-token';
    };
    const made = new StrataClient({ address: `127.0.0.1:${server!.port}`, token: provider });
    clients.push(made);
    expect((await rejection(made.admin.listTopics())).code, 'the first, stale token').toBe('AUTHENTICATION_FAILED');
    await made.admin.listTopics();
    failure = new Error('the identity provider is unreachable');
    const error = await rejection(made.admin.listTopics());
    expect(error.grpcStatus).toBe(grpc.status.UNAUTHENTICATED);
    expect(error.message).toMatch(/token provider failed: the identity provider is unreachable/);
    // The stream calls too: a producer whose provider fails is told why.
    const producer = made.producer();
    const sendError = await rejection(producer.send('anything', { value: Buffer.from('x') }));
    expect(sendError.message).toMatch(/identity provider is unreachable/);
    await producer.close().catch(() => undefined);
  });

  it('accepts a static token and a valid JWT (principal from sub), and denies by default', async () => {
    await client('root-token').admin.createTopic('orders', { partitions: 1 });
    const viaJwt = client(await signJwt({ sub: 'carol' }));
    const denied = await rejection(viaJwt.admin.describeTopic('orders'));
    expect(denied.grpcStatus).toBe(grpc.status.PERMISSION_DENIED);
    expect(denied.code).toBe('PERMISSION_DENIED');
    expect(denied.message).toMatch(/carol may not describe topic 'orders'/);
  });

  it('allows by literal and prefix rules, lets a deny win, and says the same for a topic that exists and one that does not', async () => {
    const root = client('root-token');
    await root.admin.createTopic('sales-eu', { partitions: 1 });
    await root.admin.createTopic('sales-secret', { partitions: 1 });
    const dry = await root.acls.add({ principal: 'alice', resourceType: 'topic', patternType: 'prefix', resourceName: 'sales-', operation: 'read', permission: 'allow' }, { dryRun: true });
    expect(dry.isChanged).toBe(true);
    const alice = client('alice-token');
    expect((await rejection(alice.admin.describeTopic('sales-eu'))).code).toBe('PERMISSION_DENIED');
    await root.acls.add({ principal: 'alice', resourceType: 'topic', patternType: 'prefix', resourceName: 'sales-', operation: 'read', permission: 'allow' });
    await root.acls.add({ principal: 'alice', resourceType: 'topic', resourceName: 'sales-secret', operation: 'describe', permission: 'deny' });
    await root.acls.add({ principal: 'bob', resourceType: 'topic', resourceName: 'orders', operation: 'write', permission: 'allow' });
    expect((await alice.admin.describeTopic('sales-eu')).name).toBe('sales-eu');
    const secret = await rejection(alice.admin.describeTopic('sales-secret'));
    const missing = await rejection(alice.admin.describeTopic('sales-missing'));
    expect(secret.code).toBe('PERMISSION_DENIED');
    // A topic alice may describe but that does not exist is NOT_FOUND, as before; one she may not is the same refusal whether it exists or not.
    expect(missing.code).toBe('TOPIC_NOT_FOUND');
    const hidden = await rejection(alice.admin.describeTopic('orders'));
    const hiddenMissing = await rejection(alice.admin.describeTopic('no-such-topic'));
    expect([hidden.grpcStatus, hidden.code]).toEqual([grpc.status.PERMISSION_DENIED, 'PERMISSION_DENIED']);
    expect([hiddenMissing.grpcStatus, hiddenMissing.code]).toEqual([grpc.status.PERMISSION_DENIED, 'PERMISSION_DENIED']);
    expect(hiddenMissing.message.replace('no-such-topic', 'X')).toBe(hidden.message.replace('orders', 'X'));
    // Lists show only what the principal may describe.
    expect((await alice.admin.listTopics()).map((t) => t.name).sort()).toEqual(['sales-eu']);
    // A literal rule is that name only; write does not give read.
    const bob = client('bob-token');
    expect((await rejection(bob.admin.createTopic('orders-2', { partitions: 1 }))).code).toBe('PERMISSION_DENIED');
    const producer = bob.producer();
    await producer.send('orders', { value: Buffer.from('one') });
    // The produce stream is checked per request: a topic bob may not write ends it with PERMISSION_DENIED.
    expect((await rejection(producer.send('sales-eu', { value: Buffer.from('no') }))).code).toBe('PERMISSION_DENIED');
    await producer.close().catch(() => undefined);
    expect((await root.admin.listOffsets('sales-eu', 'latest'))[0]!.offset).toBe(0);
    // Write implies describe (as in Kafka); it does not give read.
    expect((await bob.admin.listOffsets('orders', 'latest'))[0]!.offset).toBe(1);
    const read = await rejection(bob.admin.listOffsets('sales-eu', 'latest'));
    expect(read.code).toBe('PERMISSION_DENIED');
    const consumed = bob.consume('orders', { from: 'earliest' })[Symbol.asyncIterator]();
    expect((await rejection(consumed.next())).code).toBe('PERMISSION_DENIED');
    await consumed.return?.();
    // Removing is a dry run unless asked; then the rule is gone.
    const rule = { principal: 'bob', resourceType: 'topic', resourceName: 'orders', operation: 'write', permission: 'allow' } as const;
    expect((await root.acls.remove(rule, { dryRun: true })).isChanged).toBe(true);
    expect((await root.acls.list({ principal: 'bob' })).length).toBe(1);
    expect((await root.acls.remove(rule)).isChanged).toBe(true);
    expect((await root.acls.remove(rule)).isChanged).toBe(false);
    expect(await root.acls.list({ principal: 'bob' })).toEqual([]);
    // Only the cluster's alter may change ACLs.
    expect((await rejection(alice.acls.add({ ...rule, principal: 'alice' }))).code).toBe('PERMISSION_DENIED');
  });

  it('audits refusals and admin actions with the principal and call id, and records the authenticated principal as an offset reset\'s requester', async () => {
    const root = client('root-token');
    const alice = client('alice-token');
    await root.admin.createTopic('audited', { partitions: 1 });
    const producer = root.producer();
    await producer.send('audited', { value: Buffer.from('x') });
    await producer.close();
    await root.acls.add({ principal: 'alice', resourceType: 'group', resourceName: 'billing', operation: 'alter', permission: 'allow' });
    await root.acls.add({ principal: 'alice', resourceType: 'topic', resourceName: 'audited', operation: 'describe', permission: 'allow' });
    await alice.admin.resetOffsets('billing', { topic: 'audited', to: 'latest', execute: true, requestedBy: 'somebody-else' });
    // The console's reset checks as gRPC's: alter on the group and describe on the topic named in the body.
    const consoleReset = (topic: string) =>
      httpCall(server!.httpPort!, 'POST', '/api/groups/billing/reset-offsets', JSON.stringify({ topic, to: 'latest' }), { authorization: 'Bearer alice-token', 'content-type': 'application/json' });
    expect((await consoleReset('audited')).status).toBe(200);
    const hiddenTopic = await consoleReset('orders');
    expect(hiddenTopic.status).toBe(403);
    expect(JSON.parse(hiddenTopic.body).error.code).toBe('PERMISSION_DENIED');
    const refused = await rejection(alice.admin.deleteTopic('audited'));
    expect(refused.callId).toBeDefined();
    const denied = lines.find((line) => line.audit === 'denied' && line.callId === refused.callId);
    expect(denied).toMatchObject({ principal: 'alice', method: '/strata.v1.AdminService/DeleteTopic', resourceType: 'topic', resourceName: 'audited', operation: 'delete', code: 'PERMISSION_DENIED' });
    expect(lines.find((line) => line.audit === 'admin' && line.method === '/strata.v1.AdminService/CreateTopic' && (line.resources as string[]).includes('topic:audited:create'))).toMatchObject({ principal: 'root', outcome: 'done' });
    expect(lines.find((line) => line.audit === 'admin' && line.method === '/strata.v1.AdminService/ResetOffsets')).toMatchObject({ principal: 'alice', outcome: 'done' });
    expect(lines.find((line) => line.audit === 'admin' && line.method === '/strata.v1.AclService/AddAcl')).toMatchObject({ principal: 'root', outcome: 'done' });
    // The reset's record in __consumer_offsets names alice, not what the client claimed.
    const resets: Array<Record<string, unknown>> = [];
    const deadline = AbortSignal.timeout(10_000);
    for await (const batch of root.consumeBatches('__consumer_offsets', { from: 'earliest', signal: deadline })) {
      for (const record of batch) {
        const value = JSON.parse(record.value!.toString()) as Record<string, unknown>;
        if (value.type === 'reset' && value.groupId === 'billing') resets.push(value);
      }
      if (resets.length > 0) break;
    }
    expect(resets.map((r) => r.by)).toEqual(['alice']);
  });

  it('checks the HTTP port the same way: probes open, 401 without credentials, 403 without a rule, the same 403 for a topic that does not exist', async () => {
    const port = server!.httpPort!;
    expect((await httpCall(port, 'GET', '/healthz')).status).toBe(200);
    const anonymous = await httpCall(port, 'GET', '/api/topics');
    expect(anonymous.status).toBe(401);
    expect(JSON.parse(anonymous.body).error.code).toBe('AUTHENTICATION_FAILED');
    expect((await httpCall(port, 'GET', '/api/topics', undefined, { authorization: 'Bearer wrong' })).status).toBe(401);
    expect((await httpCall(port, 'GET', '/api/topics', undefined, { authorization: 'Bearer root-token' })).status).toBe(200);
    const alice = { authorization: 'Bearer alice-token' };
    expect((await httpCall(port, 'GET', '/api/topics/sales-eu', undefined, alice)).status).toBe(200);
    const hidden = await httpCall(port, 'GET', '/api/topics/orders', undefined, alice);
    const hiddenMissing = await httpCall(port, 'GET', '/api/topics/no-such-topic', undefined, alice);
    expect([hidden.status, hiddenMissing.status]).toEqual([403, 403]);
    expect(JSON.parse(hiddenMissing.body).error.code).toBe('PERMISSION_DENIED');
    expect((await httpCall(port, 'GET', '/api/topics/orders/messages', undefined, alice)).status).toBe(403);
    // Lists are cut to what the principal may describe, as gRPC's: alice's topics page never shows 'orders'.
    const names = async (headers: Record<string, string>) => (JSON.parse((await httpCall(port, 'GET', '/api/topics', undefined, headers)).body) as { items: Array<{ name: string }> }).items.map((t) => t.name);
    const everything = await names({ authorization: 'Bearer root-token' });
    expect(everything).toEqual(expect.arrayContaining(['orders', 'sales-eu']));
    const seenByAlice = await names(alice);
    expect(seenByAlice).toContain('sales-eu');
    expect(seenByAlice).not.toContain('orders');
  });

  it('lets a principal take a producer name (and so fence its other instances) only with write on the producer resource', async () => {
    const root = client('root-token');
    await root.admin.createTopic('named-writes', { partitions: 1 });
    await root.acls.add({ principal: 'bob', resourceType: 'topic', resourceName: 'named-writes', operation: 'write', permission: 'allow' });
    const bob = client('bob-token');
    const named = bob.producer({ producerName: 'billing-service' });
    const refused = await rejection(named.send('named-writes', { value: Buffer.from('x') }));
    expect(refused.code).toBe('PERMISSION_DENIED');
    expect(refused.message).toMatch(/producer 'billing-service'/);
    await named.close().catch(() => undefined);
    // An unnamed producer id is anybody's: the topic's write rule is what counts.
    const unnamed = bob.producer();
    await unnamed.send('named-writes', { value: Buffer.from('y') });
    await unnamed.close();
    await root.acls.add({ principal: 'bob', resourceType: 'producer', patternType: 'prefix', resourceName: 'billing-', operation: 'write', permission: 'allow' });
    const allowed = bob.producer({ producerName: 'billing-service' });
    await allowed.send('named-writes', { value: Buffer.from('z') });
    await allowed.close();
  });

  it('guards the schema registry by subject, over REST (Confluent paths) and gRPC', async () => {
    const port = server!.httpPort!;
    const root = client('root-token');
    await root.acls.add({ principal: 'bob', resourceType: 'schema_subject', patternType: 'prefix', resourceName: 'orders-', operation: 'write', permission: 'allow' });
    const schema = JSON.stringify({ schema: JSON.stringify({ type: 'record', name: 'Order', fields: [{ name: 'id', type: 'string' }] }) });
    const json = { 'content-type': 'application/vnd.schemaregistry.v1+json' };
    const unauthenticated = await httpCall(port, 'POST', '/subjects/orders-value/versions', schema, json);
    expect(unauthenticated.status, 'no credentials').toBe(401);
    // In the registry's error shape, which Confluent's clients parse (the console keeps Strata's).
    expect(JSON.parse(unauthenticated.body)).toMatchObject({ error_code: 40101 });
    const registered = await httpCall(port, 'POST', '/subjects/orders-value/versions', schema, { ...json, authorization: 'Bearer bob-token' });
    expect(registered.status).toBe(200);
    const { id } = JSON.parse(registered.body) as { id: number };
    const outside = await httpCall(port, 'POST', '/subjects/payments-value/versions', schema, { ...json, authorization: 'Bearer bob-token' });
    expect(outside.status, 'outside the prefix').toBe(403);
    expect(JSON.parse(outside.body)).toMatchObject({ error_code: 40301 });
    expect((await httpCall(port, 'DELETE', '/subjects/orders-value', undefined, { authorization: 'Bearer bob-token' })).status, 'write is not delete').toBe(403);
    // A schema by id (what a deserializer asks for) needs authentication only.
    expect((await httpCall(port, 'GET', `/schemas/ids/${id}`, undefined, { authorization: 'Bearer alice-token' })).status).toBe(200);
    expect((await httpCall(port, 'GET', `/schemas/ids/${id}`)).status).toBe(401);
    // REST and gRPC: the subject list is cut to what the principal may describe (write implies describe).
    const subjectsOf = async (token: string) => JSON.parse((await httpCall(port, 'GET', '/subjects', undefined, { authorization: `Bearer ${token}` })).body) as string[];
    expect(await subjectsOf('bob-token')).toEqual(['orders-value']);
    expect(await subjectsOf('alice-token')).toEqual([]);
    expect(JSON.parse((await httpCall(port, 'GET', `/schemas/ids/${id}/versions`, undefined, { authorization: 'Bearer alice-token' })).body)).toEqual([]);
    expect(await client('bob-token').schemas.listSubjects()).toEqual(['orders-value']);
    expect(await client('alice-token').schemas.listSubjects()).toEqual([]);
  });

  it('keeps the ACLs across a restart (rebuilt from __acls)', async () => {
    const before = await client('root-token').acls.list();
    expect(before.length).toBeGreaterThan(0);
    await server!.close();
    server = undefined;
    await start();
    expect(await client('root-token').acls.list()).toEqual(before);
    expect((await client('alice-token').admin.describeTopic('sales-eu')).name).toBe('sales-eu');
  });
});
