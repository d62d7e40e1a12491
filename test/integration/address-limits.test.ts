import { once } from 'node:events';
import * as http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { StrataClient } from '../../src/client/strata-client.js';
import { StrataClientError } from '../../src/client/client-error.js';
import { CONNECTION_RESERVED_BYTES } from '../../src/server/admission-gate.js';
import { streamReservedBytes, DEFAULT_SERVER_CONFIG } from '../../src/server/server-config.js';
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

async function eventually<T>(attempt: () => Promise<T>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
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
    for (let i = 0; i < 3; i++) open.push(await eventually(() => openSubscription(fx.client)));
    const refused = await failureOf(fx.client.admin.listTopics());
    expect(refused).toMatchObject({ code: 'TOO_MANY_STREAMS', retriable: true, grpcStatus: grpc.status.RESOURCE_EXHAUSTED });
    expect(refused.message).toContain('maxStreamsPerAddress');
    // The cap is the address's, not the connection's.
    const other = new StrataClient({ address: fx.address });
    try {
      expect(await failureOf(other.admin.listTopics())).toMatchObject({ code: 'TOO_MANY_STREAMS' });
      open.pop()!.cancel();
      expect(await eventually(() => other.admin.listTopics())).toBeDefined();
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
      await eventually(() => fx.client.admin.listTopics());
      await second.admin.listTopics();
      const refused = await failureOf(third.admin.listTopics());
      expect(refused).toMatchObject({ code: 'TOO_MANY_CONNECTIONS', retriable: true, grpcStatus: grpc.status.RESOURCE_EXHAUSTED });
      expect(refused.message).toContain('maxConnectionsPerAddress');
      second.close();
      // The refused connection was closed by the server; the next call opens a new one, admitted now.
      expect(await eventually(() => third.admin.listTopics())).toBeDefined();
    } finally {
      second.close();
      third.close();
    }
  });
});

describe('a server whose memory budget is spent', () => {
  // Room for the client's connection, three subscriptions (each reserves its call and one response of
  // max_bytes) and a produce stream (its call and one request), and less than one call more.
  const callBytes = streamReservedBytes(DEFAULT_SERVER_CONFIG);
  const SUBSCRIPTION_MAX_BYTES = 1024;
  const budgetBytes = CONNECTION_RESERVED_BYTES + 3 * (callBytes + SUBSCRIPTION_MAX_BYTES) + callBytes + DEFAULT_SERVER_CONFIG.maxRequestBytes + callBytes / 2;
  const fx = useInProcessServer({ memoryBudgetBytes: budgetBytes });

  it('refuses a new call with RESOURCE_EXHAUSTED (MEMORY_BUDGET_EXHAUSTED, retriable), serves the open ones, and admits again once one ends', async () => {
    await createTopicOfOneRecord(fx.client);
    const open: grpc.ClientReadableStream<unknown>[] = [];
    for (let i = 0; i < 3; i++) open.push(await openSubscription(fx.client, SUBSCRIPTION_MAX_BYTES));
    const received = new Promise((resolve) => open[0]!.once('data', resolve));
    const producer = fx.client.producer();
    try {
      // The producer's stream takes the fourth reservation; a fifth call does not fit.
      await producer.send('caps', { value: 'still served' });
      await received;
      const refused = await failureOf(fx.client.admin.listTopics());
      expect(refused).toMatchObject({ code: 'MEMORY_BUDGET_EXHAUSTED', retriable: true, grpcStatus: grpc.status.RESOURCE_EXHAUSTED });
      open.pop()!.cancel();
      expect(await eventually(() => fx.client.admin.listTopics())).toBeDefined();
    } finally {
      for (const call of open) call.cancel();
      await producer.close();
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
      await eventuallyTrue(() => closedOrder.length === 3, 10_000);
      expect(closedOrder).toEqual([1, 2, 0]);
    } finally {
      for (const session of sessions) session.destroy();
    }
  });
});

async function eventuallyTrue(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}
