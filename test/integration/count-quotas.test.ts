import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StrataClient } from '../../src/client/strata-client.js';
import { StrataClientError } from '../../src/client/client-error.js';
import { silentLogger } from '../../src/core/logger.js';
import type { GroupHeartbeatRequest } from '../../src/generated/strata/v1/GroupHeartbeatRequest.js';
import { StaticQuotaSource, type QuotaValues } from '../../src/quotas/principal-quotas.js';
import { type RunningServer, startServer } from '../../src/server/bootstrap.js';
import { hashToken } from '../../src/server/auth/static-tokens.js';
import { ANONYMOUS_PRINCIPAL } from '../../src/server/auth/authenticator.js';
import { resolveServerConfig, type ServerConfig } from '../../src/server/server-config.js';
import { eventually } from '../helpers/eventually.js';
import { scrape, valueOf } from '../helpers/prometheus-text.js';
import { RawQueueSession } from '../helpers/raw-queue-session.js';
import { rejection } from '../helpers/rejection.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { makeTestCertificates } from '../helpers/test-certificates.js';

const GROUPS = { initialRebalanceDelayMs: 50, rebalanceDelayMs: 50, heartbeatIntervalMs: 200, sessionTimeoutMs: 3_000 };

interface Answer {
  memberId: string;
  memberEpoch: number;
  failure: { code: string; grpcStatus: number; message: string } | null;
}

/** A server on a free port over a temp dir, with `quotas` as its QuotaSource; closed with its clients. */
function useQuotaServer(entries: Record<string, QuotaValues>, config: Partial<ServerConfig> = {}, files: Record<string, string> = {}) {
  let dir: { path: string; remove: () => Promise<void> } | undefined;
  let server: RunningServer | undefined;
  const clients: StrataClient[] = [];
  beforeAll(async () => {
    dir = await makeTempDir();
    const paths: Record<string, string> = {};
    for (const [name, text] of Object.entries(files)) writeFileSync((paths[name] = join(dir.path, name)), text);
    const resolved = resolveServerConfig({ dataDir: join(dir.path, 'data'), port: 0, httpPort: 0, host: '127.0.0.1', groups: GROUPS, ...config, ...(paths['tokens.json'] ? { authTokensFile: paths['tokens.json'] } : {}) });
    server = await startServer(resolved, silentLogger, undefined, { quotaSource: new StaticQuotaSource(new Map(Object.entries(entries))) });
  });
  afterAll(async () => {
    for (const client of clients) client.close();
    await server?.close();
    await dir?.remove();
  });
  return {
    get server(): RunningServer {
      return server!;
    },
    /** A client on a connection of its own. */
    client(token?: string): StrataClient {
      const made = new StrataClient({ address: `127.0.0.1:${server!.port}`, ...(token !== undefined ? { token } : {}) });
      clients.push(made);
      return made;
    },
  };
}

/** Heartbeats on one stream of their own, one answer each, then the stream ends. */
async function heartbeats(client: StrataClient, requests: Array<Partial<GroupHeartbeatRequest>>): Promise<Answer[]> {
  const stream = client.stubs.groups.groupHeartbeat();
  const answers: Answer[] = [];
  const all = new Promise<void>((resolve, reject) => {
    stream.on('data', (answer: Answer) => {
      answers.push(answer);
      if (answers.length === requests.length) resolve();
    });
    stream.on('error', reject);
  });
  for (const request of requests) stream.write({ groupId: 'g', memberId: '', memberEpoch: 0, topics: ['jobs'], owned: [], instanceId: '', idleMs: 0, ...request });
  await all;
  stream.end();
  return answers;
}

/** A Subscribe call from the start of `topic` (which has a record), once that record came: admitted and open. */
function openSubscription(client: StrataClient, topic = 'jobs'): Promise<grpc.ClientReadableStream<unknown>> {
  const call = client.stubs.consume.subscribe({ topic, start: { point: 'START_POINT_EARLIEST' }, maxBytes: 0 }) as grpc.ClientReadableStream<unknown>;
  return new Promise((resolve, reject) => {
    call.once('data', () => resolve(call));
    call.once('error', (error) => reject(StrataClientError.fromServiceError(error)));
  }).finally(() => call.on('error', () => undefined)) as Promise<grpc.ClientReadableStream<unknown>>;
}

async function createTopicOfOneRecord(client: StrataClient, topic = 'jobs'): Promise<void> {
  await client.admin.createTopic(topic, { partitions: 2 });
  const producer = client.producer();
  await producer.send(topic, { value: 'first' });
  await producer.close();
}

const topicNames = async (client: StrataClient) => (await client.admin.listTopics()).map((t) => t.name);

const TOKENS = JSON.stringify([
  { principal: 'mallory', sha256: hashToken('mallory-token') },
  { principal: 'alice', sha256: hashToken('alice-token') },
  { principal: 'quentin', sha256: hashToken('quentin-token') },
  { principal: 'eve', sha256: hashToken('eve-token') },
  { principal: 'gina', sha256: hashToken('gina-token') },
]);

describe('count quotas per authenticated principal (static tokens over loopback)', () => {
  const fx = useQuotaServer({ mallory: { max_groups: 2, max_connections: 2, max_streams: 3 }, quentin: { max_groups: 1 }, eve: { max_streams: 1 }, gina: { max_groups: 1 } }, { superUsers: ['mallory', 'alice', 'quentin', 'gina'] }, { 'tokens.json': TOKENS });
  beforeAll(async () => createTopicOfOneRecord(fx.client('alice-token')));

  it('refuses mallory a third group with QUOTA_EXCEEDED while alice still creates groups; a leave releases one', async () => {
    const mallory = fx.client('mallory-token');
    const alice = fx.client('alice-token');
    const stream = mallory.stubs.groups.groupHeartbeat();
    const answers: Answer[] = [];
    stream.on('data', (answer: Answer) => answers.push(answer));
    stream.on('error', () => undefined);
    // The stream also carries assignments pushed to its members: a join's answer is the first after it
    // that names a new member or fails; a leave's is its member's at epoch -1.
    const known = new Set<string>();
    const send = async (request: Partial<GroupHeartbeatRequest>) => {
      const start = answers.length;
      stream.write({ groupId: 'g', memberId: '', memberEpoch: 0, topics: ['jobs'], owned: [], instanceId: '', idleMs: 0, ...request });
      const isLeave = request.memberEpoch === -1;
      const answer = await eventually(() => answers.slice(start).find((a) => (isLeave ? a.memberId === request.memberId && a.memberEpoch === -1 : a.failure !== null || !known.has(a.memberId))), { what: `the answer to ${JSON.stringify(request)}` });
      known.add(answer.memberId);
      return answer;
    };
    try {
      const first = await send({ groupId: 'made-up-0' });
      expect((await send({ groupId: 'made-up-1' })).failure).toBeNull();
      const refused = await send({ groupId: 'made-up-2' });
      expect(refused.failure).toMatchObject({ code: 'QUOTA_EXCEEDED', grpcStatus: grpc.status.RESOURCE_EXHAUSTED });
      expect(refused.failure!.message).toMatch(/mallory holds 2 .*max_groups quota \(2\)/);
      // The lockout: one principal's made-up groups do not keep another from creating groups.
      const alices = await heartbeats(alice, Array.from({ length: 5 }, (_, i) => ({ groupId: `alice-${i}` })));
      expect(alices.map((a) => a.failure)).toEqual(Array(5).fill(null));
      expect((await heartbeats(alice, [{ groupId: 'made-up-2' }]))[0]!.failure).toBeNull();
      // Leaving releases: mallory may join another group now.
      expect((await send({ groupId: 'made-up-0', memberId: first.memberId, memberEpoch: -1 })).failure).toBeNull();
      expect((await send({ groupId: 'made-up-3' })).failure).toBeNull();
    } finally {
      stream.end();
      mallory.close();
      alice.close();
    }
  }, 30_000);

  it('counts queue groups with consumer groups against one max_groups over the wire; a queue session that ends releases its group', async () => {
    const quentin = fx.client('quentin-token');
    const first = new RawQueueSession(quentin.stubs.queue);
    const second = new RawQueueSession(quentin.stubs.queue);
    const third = new RawQueueSession(quentin.stubs.queue);
    try {
      await first.join({ groupId: 'q-1', topics: ['jobs'], clientId: 'quentin' });
      second.send({ join: { groupId: 'q-2', topics: ['jobs'], clientId: 'quentin' } });
      expect(await second.waitForEnd()).toMatchObject({ status: grpc.status.RESOURCE_EXHAUSTED, code: 'QUOTA_EXCEEDED' });
      expect((await heartbeats(quentin, [{ groupId: 'c-1' }]))[0]!.failure).toMatchObject({ code: 'QUOTA_EXCEEDED' });
      expect((await quentin.admin.listQueueGroups()).map((g) => g.groupId)).toEqual(['q-1']);
      first.close();
      const rejoined = await eventually(async () => {
        const again = new RawQueueSession(quentin.stubs.queue);
        try {
          await again.join({ groupId: 'q-2', topics: ['jobs'], clientId: 'quentin' });
          return again;
        } catch (error) {
          again.close();
          throw error;
        }
      }, { what: 'a join of q-2 once the session of q-1 ended' });
      // Holding q-2 now, quentin is at max_groups again.
      third.send({ join: { groupId: 'q-3', topics: ['jobs'], clientId: 'quentin' } });
      expect(await third.waitForEnd()).toMatchObject({ code: 'QUOTA_EXCEEDED' });
      rejoined.close();
    } finally {
      first.close();
      second.close();
      third.close();
      quentin.close();
    }
  }, 30_000);

  it("fails the TypeScript client's group consumer with QUOTA_EXCEEDED (not retried) when its principal holds max_groups groups", async () => {
    const gina = fx.client('gina-token');
    const held = gina.consumer({ groupId: 'gina-1', topics: ['jobs'], fromBeginning: true });
    const refused = gina.consumer({ groupId: 'gina-2', topics: ['jobs'], fromBeginning: true });
    try {
      // A record read (not a break, which would close it and leave the group): gina holds gina-1.
      expect((await held[Symbol.asyncIterator]().next()).done).toBe(false);
      const error = await rejection((async () => {
        for await (const _ of refused) break;
      })());
      expect(error).toMatchObject({ code: 'QUOTA_EXCEEDED', retriable: false });
    } finally {
      await held.close();
      await refused.close().catch(() => undefined);
      gina.close();
    }
  }, 30_000);

  it('releases the stream of a call the auth gate refused after counting it (no read right on the topic)', async () => {
    const eve = fx.client('eve-token');
    try {
      for (let i = 0; i < 3; i++) expect(await rejection(openSubscription(eve))).toMatchObject({ code: 'PERMISSION_DENIED' });
    } finally {
      eve.close();
    }
  });

  it('refuses the calls of mallory\'s third connection with QUOTA_EXCEEDED, not alice\'s; a closed connection releases its place', async () => {
    const first = fx.client('mallory-token');
    const second = fx.client('mallory-token');
    const third = fx.client('mallory-token');
    try {
      // Connections of the test before may still be closing on the server.
      await eventually(() => first.admin.listTopics(), { what: 'the first connection admitted' });
      await eventually(() => second.admin.listTopics(), { what: 'the second connection admitted' });
      const refused = await rejection(third.admin.listTopics());
      expect(refused).toMatchObject({ code: 'QUOTA_EXCEEDED', retriable: false, grpcStatus: grpc.status.RESOURCE_EXHAUSTED });
      expect(refused.message).toMatch(/mallory holds 2 connections.*max_connections/);
      const alice = fx.client('alice-token');
      expect(await topicNames(alice)).toContain('jobs');
      alice.close();
      second.close();
      // The refused connection was closed by the server; the next call opens a new one, counted now.
      expect(await eventually(() => topicNames(third), { what: 'the third connection admitted once the second closed' })).toContain('jobs');
    } finally {
      first.close();
      second.close();
      third.close();
    }
  }, 30_000);

  it('refuses mallory\'s fourth open stream with QUOTA_EXCEEDED before it runs, on any of its connections, but not unary calls or alice\'s streams; an ended stream releases', async () => {
    const mallory = fx.client('mallory-token');
    const open: Array<grpc.ClientReadableStream<unknown>> = [];
    try {
      for (let i = 0; i < 3; i++) open.push(await eventually(() => openSubscription(mallory), { what: `subscription ${i + 1} admitted` }));
      const refused = await rejection(openSubscription(mallory));
      expect(refused).toMatchObject({ code: 'QUOTA_EXCEEDED', grpcStatus: grpc.status.RESOURCE_EXHAUSTED });
      expect(refused.message).toMatch(/mallory holds 3 streaming calls.*max_streams/);
      // Per principal, not per connection.
      const other = fx.client('mallory-token');
      expect(await rejection(openSubscription(other))).toMatchObject({ code: 'QUOTA_EXCEEDED', message: expect.stringMatching(/max_streams/) });
      expect(await topicNames(other)).toContain('jobs');
      other.close();
      const alice = fx.client('alice-token');
      (await openSubscription(alice)).cancel();
      alice.close();
      open.pop()!.cancel();
      open.push(await eventually(() => openSubscription(mallory), { what: 'a subscription admitted once one ended' }));
    } finally {
      for (const call of open) call.cancel();
      mallory.close();
    }
  }, 30_000);
});

describe('count quotas without authentication: every call is ANONYMOUS, one principal for the whole server', () => {
  const fx = useQuotaServer({ [ANONYMOUS_PRINCIPAL]: { max_streams: 2 } });
  beforeAll(async () => createTopicOfOneRecord(fx.client()));

  it('caps the streams of all clients together, and counts the refusals and holdings in /metrics', async () => {
    const a = fx.client();
    const b = fx.client();
    const open: Array<grpc.ClientReadableStream<unknown>> = [];
    try {
      open.push(await eventually(() => openSubscription(a), { what: 'the first subscription admitted' }));
      open.push(await openSubscription(b));
      expect(await rejection(openSubscription(a))).toMatchObject({ code: 'QUOTA_EXCEEDED' });
      // Naming a principal in metadata changes nothing: without authentication nobody strips that key.
      const disguised = new grpc.Metadata();
      disguised.set('strata-authenticated-principal', 'somebody-else');
      const sneaky = a.stubs.consume.subscribe({ topic: 'jobs', start: { point: 'START_POINT_EARLIEST' }, maxBytes: 0 }, disguised) as grpc.ClientReadableStream<unknown>;
      expect(await new Promise((resolve) => sneaky.once('error', (error) => resolve(StrataClientError.fromServiceError(error))).once('data', () => resolve('admitted')))).toMatchObject({ code: 'QUOTA_EXCEEDED' });
      const refused = await rejection(openSubscription(b));
      expect(refused).toMatchObject({ code: 'QUOTA_EXCEEDED' });
      expect(refused.message).toMatch(/ANONYMOUS holds 2 streaming calls/);
      const { samples } = await scrape(fx.server.httpPort!);
      expect(valueOf(samples, 'strata_quota_refusals_total', { quota: 'max_streams' })).toBe(3);
      expect(valueOf(samples, 'strata_quota_refusals_total', { quota: 'max_groups' })).toBe(0);
      expect(valueOf(samples, 'strata_quota_held', { quota: 'max_streams', principal: ANONYMOUS_PRINCIPAL })).toBe(2);
      expect(valueOf(samples, 'strata_quota_held', { quota: 'max_connections', principal: ANONYMOUS_PRINCIPAL })).toBeGreaterThanOrEqual(2);
      open.pop()!.cancel();
      open.push(await eventually(() => openSubscription(b), { what: 'a subscription admitted once one ended' }));
    } finally {
      for (const call of open) call.cancel();
    }
  }, 30_000);
});

describe('count quotas under mutual TLS', () => {
  let dir: { path: string; remove: () => Promise<void> } | undefined;
  let server: RunningServer | undefined;
  const clients: StrataClient[] = [];
  let tls: { ca: Buffer; cert: Buffer; key: Buffer };
  beforeAll(async () => {
    dir = await makeTempDir();
    const certs = makeTestCertificates(dir.path);
    tls = { ca: readFileSync(certs.caCert), cert: readFileSync(certs.clientCert), key: readFileSync(certs.clientKey) };
    writeFileSync(join(dir.path, 'tokens.json'), JSON.stringify([{ principal: 'bob', sha256: hashToken('bob-token') }]));
    const config = resolveServerConfig({
      dataDir: join(dir.path, 'data'),
      port: 0,
      httpPort: 0,
      host: '127.0.0.1',
      tlsCertFile: certs.serverCert,
      tlsKeyFile: certs.serverKey,
      tlsClientCaFile: certs.caCert,
      authTokensFile: join(dir.path, 'tokens.json'),
      superUsers: ['alice', 'bob'],
    });
    server = await startServer(config, silentLogger, undefined, { quotaSource: new StaticQuotaSource(new Map([['alice', { max_connections: 1 }]])) });
  });
  afterAll(async () => {
    for (const client of clients) client.close();
    await server?.close();
    await dir?.remove();
  });

  it("counts a connection for its certificate's principal (CN=alice), even when its calls carry another principal's token", async () => {
    const client = (token?: string) => {
      const made = new StrataClient({ address: `127.0.0.1:${server!.port}`, tls, ...(token !== undefined ? { token } : {}) });
      clients.push(made);
      return made;
    };
    const first = client();
    await first.admin.listTopics();
    // bob's token makes the calls bob's, but the connection is alice's certificate's: her second.
    const refused = await rejection(client('bob-token').admin.listTopics());
    expect(refused).toMatchObject({ code: 'QUOTA_EXCEEDED' });
    expect(refused.message).toMatch(/alice holds 1 connections.*max_connections/);
    first.close();
    expect(await eventually(() => client('bob-token').admin.listTopics(), { what: "alice's connection admitted once her first closed" })).toEqual([]);
  }, 30_000);
});
