import { once } from 'node:events';
import * as http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { StrataClient } from '../../src/client/strata-client.js';
import { StrataClientError } from '../../src/client/client-error.js';
import { CONNECTION_RESERVED_BYTES, HALF_CLOSED_CALL_RESERVED_BYTES, RESPONSE_COPIES } from '../../src/core/limits.js';
import { streamReservedBytes, DEFAULT_SERVER_CONFIG } from '../../src/server/server-config.js';
import { eventually } from '../helpers/eventually.js';
import { useInProcessServer } from '../helpers/in-process-server.js';

/** Resolves with the error a promise rejects with; fails the test if it resolves. */
async function failureOf(promise: Promise<unknown>): Promise<StrataClientError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(StrataClientError);
    return error as StrataClientError;
  }
  throw new Error('expected a failure');
}

/** A Subscribe call from the start of topic 'caps' (one record), once that record came: admitted and open. */
function openSubscription(client: StrataClient, maxBytes = 0): Promise<grpc.ClientReadableStream<unknown>> {
  const call = client.stubs.consume.subscribe({ topic: 'caps', start: { point: 'START_POINT_EARLIEST' }, maxBytes }) as grpc.ClientReadableStream<unknown>;
  return new Promise((resolve, reject) => {
    call.once('data', () => resolve(call));
    call.once('error', (error) => reject(StrataClientError.fromServiceError(error)));
  }).finally(() => call.on('error', () => undefined)) as Promise<grpc.ClientReadableStream<unknown>>;
}

async function createTopicOfOneRecord(client: StrataClient): Promise<void> {
  await client.admin.createTopic('caps', { partitions: 1 });
  const producer = client.producer();
  await producer.send('caps', { value: 'first' });
  await producer.close();
}

describe('per-address caps on connections and calls', () => {
  const fx = useInProcessServer({ maxConnectionsPerAddress: 2, maxStreamsPerAddress: 3 });

  it('refuses a call past maxStreamsPerAddress with RESOURCE_EXHAUSTED (TOO_MANY_STREAMS, retriable), on any connection of the address, until one ends', async () => {
    await createTopicOfOneRecord(fx.client);
    // Again while the producer's stream, just closed, may still count on the server.
    const open: grpc.ClientReadableStream<unknown>[] = [];
    for (let i = 0; i < 3; i++) open.push(await eventually(() => openSubscription(fx.client), { what: `subscription ${i + 1} admitted` }));
    const refused = await failureOf(fx.client.admin.listTopics());
    expect(refused).toMatchObject({ code: 'TOO_MANY_STREAMS', retriable: true, grpcStatus: grpc.status.RESOURCE_EXHAUSTED });
    expect(refused.message).toContain('maxStreamsPerAddress');
    // The cap is the address's, not the connection's.
    const other = new StrataClient({ address: fx.address });
    try {
      expect(await failureOf(other.admin.listTopics())).toMatchObject({ code: 'TOO_MANY_STREAMS' });
      open.pop()!.cancel();
      expect(await eventually(() => other.admin.listTopics(), { what: 'a call admitted once a subscription ended' })).toBeDefined();
    } finally {
      for (const call of open) call.cancel();
      other.close();
    }
  });

  it('refuses the calls of a connection past maxConnectionsPerAddress with RESOURCE_EXHAUSTED (TOO_MANY_CONNECTIONS), and admits one again once another closes', async () => {
    // fx.client is one connection; a second fills the cap.
    const second = new StrataClient({ address: fx.address });
    const third = new StrataClient({ address: fx.address });
    try {
      await eventually(() => fx.client.admin.listTopics(), { what: 'the first connection admitted' });
      await second.admin.listTopics();
      const refused = await failureOf(third.admin.listTopics());
      expect(refused).toMatchObject({ code: 'TOO_MANY_CONNECTIONS', retriable: true, grpcStatus: grpc.status.RESOURCE_EXHAUSTED });
      expect(refused.message).toContain('maxConnectionsPerAddress');
      second.close();
      // The refused connection was closed by the server; the next call opens a new one, admitted now.
      expect(await eventually(() => third.admin.listTopics(), { what: 'the third connection admitted once the second closed' })).toBeDefined();
    } finally {
      second.close();
      third.close();
    }
  });
});

describe('a server whose memory budget is spent', () => {
  // The smallest budget a server takes: four calls at their full reservation (their stream window and
  // one request). It admits the client's connection, three subscriptions and a produce stream (its call
  // and one request), and not one call more. A subscription holds its call's full reservation only
  // until its client half-closes (right after its request), then HALF_CLOSED_CALL_RESERVED_BYTES and
  // one response, counted RESPONSE_COPIES times; its max_bytes is chosen so that three of them leave
  // room for the producer but less than a call beside it.
  const callBytes = streamReservedBytes(DEFAULT_SERVER_CONFIG);
  const budgetBytes = 4 * callBytes;
  const producerBytes = callBytes + DEFAULT_SERVER_CONFIG.maxRequestBytes;
  const roomForSubscriptionsBytes = budgetBytes - CONNECTION_RESERVED_BYTES - producerBytes;
  const fewestSubscriptionBytes = (roomForSubscriptionsBytes - callBytes) / 3;
  const subscriptionBytes = Math.floor((fewestSubscriptionBytes + roomForSubscriptionsBytes / 3) / 2);
  const SUBSCRIPTION_MAX_BYTES = Math.floor((subscriptionBytes - HALF_CLOSED_CALL_RESERVED_BYTES) / RESPONSE_COPIES);
  const fx = useInProcessServer({ memoryBudgetBytes: budgetBytes });

  it('refuses a new call with RESOURCE_EXHAUSTED (MEMORY_BUDGET_EXHAUSTED, retriable), serves the open ones, and admits again once one ends', async () => {
    await createTopicOfOneRecord(fx.client);
    const open: grpc.ClientReadableStream<unknown>[] = [];
    for (let i = 0; i < 3; i++) open.push(await eventually(() => openSubscription(fx.client, SUBSCRIPTION_MAX_BYTES), { what: `subscription ${i + 1} admitted` }));
    const received = new Promise((resolve) => open[0]!.once('data', resolve));
    const producer = fx.client.producer();
    try {
      // The producer's stream takes the fourth reservation; a fifth call does not fit.
      await producer.send('caps', { value: 'still served' });
      await received;
      const refused = await failureOf(fx.client.admin.listTopics());
      expect(refused).toMatchObject({ code: 'MEMORY_BUDGET_EXHAUSTED', retriable: true, grpcStatus: grpc.status.RESOURCE_EXHAUSTED });
      open.pop()!.cancel();
      expect(await eventually(() => fx.client.admin.listTopics(), { what: 'a call admitted once a subscription ended' })).toBeDefined();
    } finally {
      for (const call of open) call.cancel();
      await producer.close();
    }
  });
});

describe('a half-closed call', () => {
  const fx = useInProcessServer();
  const SUBSCRIPTION_MAX_BYTES = 1024;

  it("keeps of a subscription's call only what a half-closed call may hold, so one client can read many partitions on streams of their own", async () => {
    await createTopicOfOneRecord(fx.client);
    const open: grpc.ClientReadableStream<unknown>[] = [];
    try {
      for (let i = 0; i < 300; i++) open.push(await eventually(() => openSubscription(fx.client, SUBSCRIPTION_MAX_BYTES), { what: `subscription ${i + 1} admitted` }));
      // 300 calls at their full reservation would need more than the default budget.
      expect(300 * streamReservedBytes(DEFAULT_SERVER_CONFIG)).toBeGreaterThan(DEFAULT_SERVER_CONFIG.memoryBudgetBytes);
      await eventually(
        async () => {
          expect(fx.server.memoryBudget.reservedBytes).toBe(CONNECTION_RESERVED_BYTES + 300 * (HALF_CLOSED_CALL_RESERVED_BYTES + RESPONSE_COPIES * SUBSCRIPTION_MAX_BYTES));
          return true;
        },
        { what: 'the reservations of 300 half-closed subscriptions' },
      );
    } finally {
      for (const call of open) call.cancel();
    }
  });
});

describe('connections opened in a loop past maxConnectionsPerAddress', () => {
  const fx = useInProcessServer({ maxConnectionsPerAddress: 1 });

  it('keeps at most that many refused connections waiting to answer their calls, and closes the others at once', async () => {
    await fx.client.admin.listTopics(); // the address's one admitted connection
    const closedOrder: number[] = [];
    const sessions = [];
    for (let i = 0; i < 3; i++) {
      const session = http2.connect(`http://${fx.address}`);
      session.on('error', () => undefined);
      session.once('close', () => closedOrder.push(i));
      await once(session, 'connect');
      sessions.push(session);
    }
    try {
      // The first refused connection lingers (2 s) for a call to learn why; the next two are over the
      // cap of refused ones too, and closed as they arrive.
      await eventually(() => closedOrder.length === 3, { what: 'all three refused connections to close' });
      expect(closedOrder).toEqual([1, 2, 0]);
    } finally {
      for (const session of sessions) session.destroy();
    }
  });
});
