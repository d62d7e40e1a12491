import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { OutcomeUnknownError, StrataClientError } from '../../src/client/client-error.js';
import { NonRetriableError } from '../../src/client/non-retriable-error.js';
import type { QueueConsumer, QueueConsumerOptions } from '../../src/client/queue-consumer.js';
import type { QueueMessage } from '../../src/client/queue-message.js';
import { StrataClient } from '../../src/client/strata-client.js';
import { ManualClock } from '../../src/core/clock.js';
import { InvalidArgumentError, QueueRecordNotAcquiredError } from '../../src/core/errors.js';
import { eventually } from '../helpers/eventually.js';
import { startFakeQueueService, type FakeQueueService, type FakeQueueServiceOptions } from '../helpers/fake-queue-service.js';
import { rejection as rejectionOf } from '../helpers/rejection.js';

const quiet = { warn: () => undefined };
const opened: Array<{ client: StrataClient; service: FakeQueueService; queue?: QueueConsumer }> = [];

async function setUp(serviceOptions: FakeQueueServiceOptions, queueOptions: Partial<QueueConsumerOptions> = {}, clock?: ManualClock) {
  const service = await startFakeQueueService(serviceOptions);
  const client = new StrataClient({ address: service.address, ...(clock ? { clock } : {}) });
  const queue = client.queue({ groupId: 'g', topics: ['t'], logger: quiet, ...queueOptions });
  opened.push({ client, service, queue });
  return { service, client, queue, iterator: queue[Symbol.asyncIterator]() };
}

async function take(iterator: AsyncIterator<QueueMessage>, count: number): Promise<QueueMessage[]> {
  const messages: QueueMessage[] = [];
  for (let i = 0; i < count; i++) {
    const next = await iterator.next();
    if (next.done) throw new Error(`the iteration ended after ${i} messages`);
    messages.push(next.value);
  }
  return messages;
}

const answerRequests = (service: FakeQueueService) => service.requests.filter((r) => r.answers).map((r) => r.answers!.answers);

afterEach(async () => {
  for (const { client, service, queue } of opened.splice(0)) {
    // A test that closed its queue itself gets the same promise; one left open is cut short.
    await Promise.race([queue?.close().catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 1_000))]);
    client.close();
    service.close();
  }
});

describe('client.queue(): messages', () => {
  it('hands out exactly the delivered offsets of whole stored batches, with their record fields, delivery count and lock deadline', async () => {
    const { iterator } = await setUp({ records: 6, recordsPerBatch: 4 });
    const messages = await take(iterator, 6);
    expect(messages.map((m) => m.offset)).toEqual([0, 1, 2, 3, 4, 5]);
    const [first] = messages;
    expect(first).toMatchObject({ topic: 't', partition: 0, deliveryCount: 1 });
    expect(first!.value!.toString()).toBe('v0');
    expect(first!.key!.toString()).toBe('k0');
    expect(first!.headers).toEqual([{ key: 'h', value: Buffer.from('x') }]);
    expect(first!.lockDeadlineMs).toBeGreaterThan(Date.now());
  });

  it('sends the join with the group, topics, in-flight limit, client id and the configuration in its wire form', async () => {
    const { service, iterator, queue } = await setUp({ records: 1 }, { inFlightLimit: 7, clientId: 'worker-1', config: { lockDurationMs: 5_000, ordering: 'key', delivery: 'at-most-once' } });
    await take(iterator, 1);
    expect(service.requests[0]!.join).toMatchObject({
      groupId: 'g',
      topics: ['t'],
      inFlightLimit: 7,
      clientId: 'worker-1',
      config: { lockDurationMs: 5_000, maxDeliveryAttempts: 0, ordering: 'QUEUE_ORDERING_KEY', delivery: 'QUEUE_DELIVERY_GUARANTEE_AT_MOST_ONCE', start: 'START_POINT_UNSPECIFIED' },
    });
    expect(queue.memberId).toBe('m1');
    expect(queue.groupConfig).toMatchObject({ lockDurationMs: 30_000, ordering: 'none' });
  });

  it('refuses bad options before anything is sent', () => {
    const client = new StrataClient({ address: '127.0.0.1:1' });
    try {
      expect(() => client.queue({ groupId: 'g', topics: ['t'], inFlightLimit: 0 })).toThrow(InvalidArgumentError);
      expect(() => client.queue({ groupId: 'g', topics: ['t'], inFlightLimit: 10_001 })).toThrow(/inFlightLimit/);
      expect(() => client.queue({ groupId: '', topics: ['t'] })).toThrow(/groupId/);
      expect(() => client.queue({ groupId: 'g', topics: [] })).toThrow(/topics/);
      expect(() => client.queue({ groupId: 'g', topics: ['t'], config: { backoffJitter: 1 } })).toThrow(/backoffJitter/);
      expect(() => client.queue({ groupId: 'g', topics: ['t'], config: { ordering: 'fifo' as 'key' } })).toThrow(/ordering/);
      expect(() => client.queue({ groupId: 'g', topics: ['t'], config: { lockDuration: 5 } as object })).toThrow(/unknown queue group config 'lockDuration'/);
    } finally {
      client.close();
    }
  });
});

describe('client.queue(): answers in batches', () => {
  it('sends 500 answers at once without waiting, the rest after the linger on the client clock', async () => {
    const clock = new ManualClock(Date.now());
    const { service, iterator } = await setUp({ records: 1_200, recordsPerBatch: 100 }, { inFlightLimit: 1_200 }, clock);
    const messages = await take(iterator, 1_200);
    const acks = messages.map((m) => m.ack());
    await eventually(() => answerRequests(service).length === 2, { what: 'two full answer requests' });
    expect(answerRequests(service).map((a) => a.length)).toEqual([500, 500]);
    clock.advance(2);
    await Promise.all(acks);
    expect(answerRequests(service).map((a) => a.length)).toEqual([500, 500, 200]);
    expect(service.answers.every((a) => a.type === 'QUEUE_ANSWER_TYPE_ACK')).toBe(true);
    expect(new Set(service.answers.map((a) => a.offset)).size).toBe(1_200);
  });

  it('sends the answers at once when half its in-flight limit waits: the server refills those places while the rest are worked on', async () => {
    const clock = new ManualClock(Date.now());
    const { service, iterator } = await setUp({ records: 100, recordsPerBatch: 10 }, { inFlightLimit: 40 }, clock);
    const messages = await take(iterator, 40);
    const acks = messages.slice(0, 25).map((m) => m.ack());
    // No clock time passes: 20 (half of 40) go without the linger, the other 5 wait for it.
    await eventually(() => answerRequests(service).length === 1, { what: 'an answer request before the linger' });
    expect(answerRequests(service).map((a) => a.length)).toEqual([20]);
    clock.advance(2);
    await Promise.all(acks);
    expect(answerRequests(service).map((a) => a.length)).toEqual([20, 5]);
  });

  it('answers given on different turns within the linger share one request, sent when the clock reaches it', async () => {
    const clock = new ManualClock(Date.now());
    const { service, iterator } = await setUp({ records: 3 }, {}, clock);
    const [a, b, c] = await take(iterator, 3);
    const answered = [a!.ack()];
    await new Promise((resolve) => setImmediate(resolve));
    answered.push(b!.release({ delayMs: 250, reason: 'later' }));
    await new Promise((resolve) => setImmediate(resolve));
    answered.push(c!.reject('bad record'));
    clock.advance(1);
    clock.advance(1);
    await Promise.all(answered);
    expect(answerRequests(service)).toEqual([
      [
        { topic: 't', partition: 0, offset: 0, type: 'QUEUE_ANSWER_TYPE_ACK', delayMs: 0, reason: '' },
        { topic: 't', partition: 0, offset: 1, type: 'QUEUE_ANSWER_TYPE_RELEASE', delayMs: 250, reason: 'later' },
        { topic: 't', partition: 0, offset: 2, type: 'QUEUE_ANSWER_TYPE_REJECT', delayMs: 0, reason: 'bad record' },
      ],
    ]);
  });

  it('settles each answer of a batch by its own result: a failure rejects only its answer, with its registry class', async () => {
    const { service, iterator } = await setUp({
      records: 4,
      failAnswer: (answer) => (answer.offset === 1 ? new QueueRecordNotAcquiredError('lock expired') : answer.offset === 2 ? new InvalidArgumentError('no such thing') : undefined),
    });
    const messages = await take(iterator, 4);
    const outcomes = await Promise.allSettled(messages.map((m) => m.ack()));
    expect(answerRequests(service)).toHaveLength(1);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'fulfilled']);
    const notAcquired = (outcomes[1] as PromiseRejectedResult).reason as QueueRecordNotAcquiredError;
    expect(notAcquired).toBeInstanceOf(QueueRecordNotAcquiredError);
    expect(notAcquired).toBeInstanceOf(StrataClientError);
    expect(notAcquired).toMatchObject({ code: 'QUEUE_RECORD_NOT_ACQUIRED', retriable: false, message: 'lock expired' });
    expect((outcomes[2] as PromiseRejectedResult).reason).toBeInstanceOf(InvalidArgumentError);
  });

  it('a request refused whole (one failure for all its answers) fails each of its answers with that failure', async () => {
    const { iterator } = await setUp({ records: 3, refuseAnswerRequests: true });
    const outcomes = await Promise.allSettled((await take(iterator, 3)).map((m) => m.ack()));
    for (const outcome of outcomes) {
      expect(outcome.status).toBe('rejected');
      expect((outcome as PromiseRejectedResult).reason).toBeInstanceOf(InvalidArgumentError);
      expect(((outcome as PromiseRejectedResult).reason as Error).message).toMatch(/none was applied/);
    }
  });

  it('a second answer to a message fails at once, without a request', async () => {
    const { service, iterator } = await setUp({ records: 1 });
    const [message] = await take(iterator, 1);
    await message!.ack();
    const error = await rejectionOf(message!.release());
    expect(error).toBeInstanceOf(QueueRecordNotAcquiredError);
    expect(error.message).toMatch(/already answered/);
    expect(service.answers).toHaveLength(1);
  });

  it('extendLock asks for the duration given and takes the new deadline the server sends', async () => {
    const { service, iterator } = await setUp({ records: 1 });
    const [message] = await take(iterator, 1);
    const before = message!.lockDeadlineMs;
    const deadlineMs = await message!.extendLock(60_000);
    expect(deadlineMs).toBeGreaterThan(before + 20_000);
    expect(message!.lockDeadlineMs).toBe(deadlineMs);
    expect(service.requests.find((r) => r.extend)!.extend).toMatchObject({ lockMs: 60_000, records: [{ topic: 't', partition: 0, offset: 0 }] });
    await expect(message!.extendLock(-1)).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});

describe('client.queue(): process()', () => {
  it('acks on success, releases with the error text on a throw, rejects on NonRetriableError, leaves a handler\'s own answer alone', async () => {
    const { service, queue } = await setUp({ records: 4 }, { inFlightLimit: 4 });
    const seen = new Set<number>();
    const processing = queue.process(async (message) => {
      const isFirst = !seen.has(message.offset);
      seen.add(message.offset);
      if (!isFirst) return; // redelivered after a release: done this time
      if (message.offset === 1) throw new Error('boom');
      if (message.offset === 2) throw new NonRetriableError('never works');
      if (message.offset === 3) await message.release({ delayMs: 5_000 });
    });
    await eventually(() => service.answers.filter((a) => a.type === 'QUEUE_ANSWER_TYPE_ACK').length === 3, { what: 'acks of 0 and of the redelivered 1 and 3' });
    await queue.close();
    await processing;
    const firstAnswer = (offset: number) => service.answers.find((a) => a.offset === offset);
    expect(firstAnswer(0)).toMatchObject({ type: 'QUEUE_ANSWER_TYPE_ACK' });
    expect(firstAnswer(1)).toMatchObject({ type: 'QUEUE_ANSWER_TYPE_RELEASE', reason: 'boom', delayMs: 0 });
    expect(firstAnswer(2)).toMatchObject({ type: 'QUEUE_ANSWER_TYPE_REJECT', reason: 'never works' });
    expect(firstAnswer(3)).toMatchObject({ type: 'QUEUE_ANSWER_TYPE_RELEASE', delayMs: 5_000 });
    expect(service.answers.filter((a) => a.offset === 3)).toHaveLength(2); // its release, then the ack of its redelivery
  });

  it('runs at most `concurrency` handlers at once, and resolves after the running ones finished when its signal aborts', async () => {
    const { service, queue } = await setUp({ records: 20 }, { inFlightLimit: 20 });
    let running = 0;
    let maxRunning = 0;
    const gates: Array<() => void> = [];
    const controller = new AbortController();
    const processing = queue.process(
      async () => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        await new Promise<void>((resolve) => gates.push(resolve));
        running--;
      },
      { concurrency: 4, signal: controller.signal },
    );
    await eventually(() => gates.length === 4, { what: 'four handlers running' });
    // Four run, and sixteen wait in the read-ahead: releasing the gates one by one lets one more start each time.
    gates.shift()!();
    await eventually(() => gates.length === 4 && running === 4, { what: 'a fifth handler started in the freed place' });
    controller.abort();
    for (const open of gates.splice(0)) open();
    await processing;
    expect(maxRunning).toBe(4);
    expect(service.answers.filter((a) => a.type === 'QUEUE_ANSWER_TYPE_ACK')).toHaveLength(5);
  });

  it('cuts a long error text to what the server keeps, on a character boundary', async () => {
    const { service, queue } = await setUp({ records: 1 });
    const processing = queue.process(() => {
      throw new Error('é'.repeat(600)); // 1,200 bytes
    });
    await eventually(() => service.answers.length > 0, { what: 'the release' });
    await queue.close();
    await processing;
    expect(Buffer.byteLength(service.answers[0]!.reason)).toBe(1_024);
    expect(service.answers[0]!.reason).toBe('é'.repeat(512));
  });
});

describe('client.queue(): close()', () => {
  it('sends the answers still lingering and ends its side of the stream, resolves after their results and the server\'s end; later answers fail at once', async () => {
    const { service, iterator, queue } = await setUp({ records: 6, holdResults: true }, { answerLingerMs: 60_000 });
    const messages = await take(iterator, 6);
    const acks = messages.slice(0, 5).map((m) => m.ack());
    let isClosed = false;
    const closing = queue.close().then(() => (isClosed = true));
    await eventually(() => service.heldResultCount() === 1, { what: 'the lingering answers sent by close()' });
    expect(answerRequests(service)).toHaveLength(1);
    expect(answerRequests(service)[0]).toHaveLength(5);
    // The member ended its side with the answers (no credit they free brings a delivery), and waits.
    await eventually(() => service.sessions[0]!.hasClientEnded, { what: "the member's half-close" });
    expect(isClosed).toBe(false);
    expect(service.sessions[0]!.isEnded).toBe(false);
    service.releaseResults();
    await closing;
    await Promise.all(acks);
    await eventually(() => service.sessions[0]!.endedBy === 'client-end', { what: 'the stream ended by the client' });
    expect(await rejectionOf(messages[5]!.ack())).toBeInstanceOf(QueueRecordNotAcquiredError);
    expect(await iterator.next()).toEqual({ value: undefined, done: true });
    // The server released the record nobody answered.
    expect(service.availableCount()).toBe(1);
  });

  it('gives up on a server that never answers after closeTimeoutMs on the client clock: the stream is cancelled, the answer\'s outcome unknown', async () => {
    const clock = new ManualClock(Date.now());
    const { service, iterator, queue } = await setUp({ records: 1, holdResults: true }, { closeTimeoutMs: 5_000 }, clock);
    const [message] = await take(iterator, 1);
    const acked = message!.ack().catch((error: unknown) => error);
    const closing = queue.close();
    await eventually(() => service.heldResultCount() === 1, { what: 'the answer sent by close()' });
    clock.advance(5_000);
    await closing;
    expect(await acked).toBeInstanceOf(OutcomeUnknownError);
    // (grpc-js's server sees a cancelled stream's readable side end, and its cancellation, in either order)
    await eventually(() => service.sessions[0]!.isEnded, { what: 'the stream gone on the server' });
  });

  it('marks its last answers `leaving`, so the places they free bring no deliveries it would only give back', async () => {
    const { service, iterator, queue } = await setUp({ records: 10 }, { inFlightLimit: 2, answerLingerMs: 60_000 });
    const acks = (await take(iterator, 2)).map((m) => m.ack());
    await queue.close();
    await Promise.all(acks);
    expect(service.requests.filter((r) => r.answers).map((r) => [r.answers!.answers.length, r.answers!.leaving])).toEqual([[2, true]]);
    expect(service.sessions[0]!.deliveredCount).toBe(2);
    expect(service.availableCount()).toBe(8);
  });

  it('releases the messages it received and never handed out, for other members at once (1 ms, not the backoff)', async () => {
    const { service, iterator, queue } = await setUp({ records: 5 }, { inFlightLimit: 5 });
    const [held] = await take(iterator, 1);
    await eventually(() => queue.bufferedCount === 4, { what: 'four messages read ahead' });
    await queue.close();
    expect(service.answers.map((a) => [a.offset, a.type, a.delayMs])).toEqual([
      [1, 'QUEUE_ANSWER_TYPE_RELEASE', 1],
      [2, 'QUEUE_ANSWER_TYPE_RELEASE', 1],
      [3, 'QUEUE_ANSWER_TYPE_RELEASE', 1],
      [4, 'QUEUE_ANSWER_TYPE_RELEASE', 1],
    ]);
    // The one handed out and not answered is the server's to release (the stream's end).
    expect(held!.isAnswered).toBe(false);
    expect(service.availableCount()).toBe(5);
  });

  it('waits for the handlers process() is running, and sends their answers', async () => {
    const { service, queue } = await setUp({ records: 2 }, { inFlightLimit: 2 });
    const gates: Array<() => void> = [];
    const processing = queue.process(() => new Promise<void>((resolve) => gates.push(resolve)), { concurrency: 2 });
    await eventually(() => gates.length === 2, { what: 'two handlers running' });
    const closing = queue.close();
    for (const open of gates) open();
    await closing;
    await processing;
    expect(service.answers.map((a) => [a.offset, a.type])).toEqual([
      [0, 'QUEUE_ANSWER_TYPE_ACK'],
      [1, 'QUEUE_ANSWER_TYPE_ACK'],
    ]);
  });

  it('may be awaited by a handler: it waits for the other handlers, not for the one calling it', async () => {
    const { service, queue } = await setUp({ records: 10 }, { inFlightLimit: 10 });
    let releaseSlow: (() => void) | undefined;
    const processing = queue.process(
      async (message) => {
        if (message.offset === 0) await new Promise<void>((resolve) => (releaseSlow = resolve));
        if (message.offset === 3) {
          await message.ack();
          setImmediate(() => releaseSlow!());
          await queue.close(); // would wait for itself, for ever, if close() waited for every handler
        }
      },
      { concurrency: 2 },
    );
    await processing;
    const acked = service.answers.filter((a) => a.type === 'QUEUE_ANSWER_TYPE_ACK').map((a) => a.offset);
    expect(acked.sort((a, b) => a - b)).toEqual([0, 1, 2, 3]);
    expect(service.sessions[0]!.endedBy).toBe('client-end');
  });

  it('an aborted signal closes the queue', async () => {
    const controller = new AbortController();
    const { service, iterator } = await setUp({ records: 1 }, { signal: controller.signal });
    await take(iterator, 1);
    controller.abort();
    await eventually(() => service.sessions[0]!.endedBy === 'client-end', { what: 'the stream ended' });
    expect(await iterator.next()).toEqual({ value: undefined, done: true });
  });
});

describe('client.queue(): a lost session', () => {
  it('joins again after UNAVAILABLE, after a backoff on the client clock; answers of the old session fail, its records come again', async () => {
    const clock = new ManualClock(Date.now());
    const { service, iterator } = await setUp({ records: 4 }, { inFlightLimit: 2, config: { lockDurationMs: 45_000 } }, clock);
    const [m0, m1] = await take(iterator, 2);
    // Not sent: the linger is on the manual clock, which does not move.
    const lingering = m0!.ack().catch((error: unknown) => error);
    service.breakSession(service.sessions[0]!, { code: grpc.status.UNAVAILABLE, details: 'server going away' });
    expect(await lingering).toBeInstanceOf(QueueRecordNotAcquiredError);
    expect(await rejectionOf(m1!.ack())).toBeInstanceOf(QueueRecordNotAcquiredError);
    expect(service.sessions).toHaveLength(1);
    clock.advance(199);
    expect(service.sessions).toHaveLength(1);
    clock.advance(1);
    await eventually(() => service.sessions.length === 2 && service.sessions[1]!.join !== undefined, { what: 'the second join' });
    expect(service.sessions[1]!.join).toMatchObject({ groupId: 'g', topics: ['t'], inFlightLimit: 2 });
    // The rejoin takes the group's configuration as it is now (an operator may have altered it).
    expect(service.sessions[0]!.join!.config).toMatchObject({ lockDurationMs: 45_000 });
    expect(service.sessions[1]!.join!.config).toMatchObject({ lockDurationMs: 0, ordering: 'QUEUE_ORDERING_UNSPECIFIED' });
    const again = await take(iterator, 2);
    expect(again.map((m) => m.offset)).toEqual([0, 1]);
    const acked = again[0]!.ack();
    clock.advance(2);
    await acked;
  });

  it('a refused join ends the iteration with its error, without retrying', async () => {
    const { service, iterator } = await setUp({ records: 1, refuseJoin: new InvalidArgumentError('config differs from the group\'s') });
    const error = await rejectionOf(iterator.next());
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error.message).toMatch(/config differs/);
    expect(service.sessions).toHaveLength(1);
  });

  it('gives up after maxReconnectAttempts, with the UNAVAILABLE error', async () => {
    const { service, iterator, queue } = await setUp({ records: 1 }, { maxReconnectAttempts: 0 });
    await take(iterator, 1);
    service.breakSession(service.sessions[0]!, { code: grpc.status.UNAVAILABLE, details: 'gone' });
    const error = await rejectionOf(iterator.next());
    expect(error).toBeInstanceOf(StrataClientError);
    expect((error as StrataClientError).grpcStatus).toBe(grpc.status.UNAVAILABLE);
    await expect(queue.process(() => undefined)).rejects.toBe(error);
  });
});

describe('client.queue(): bounded read-ahead', () => {
  it('stops reading the stream once it holds the in-flight limit, so a server that ignores credits is held by flow control', async () => {
    const total = 600;
    const { service, iterator, queue } = await setUp({ records: total, recordsPerBatch: 1, valueBytes: 32 * 1024, ignoreCredits: true }, { inFlightLimit: 10 });
    await take(iterator, 1);
    // Every poll looks at the read-ahead: a client that kept reading would hold hundreds by the time the server blocks.
    let maxBuffered = 0;
    await eventually(
      () => {
        maxBuffered = Math.max(maxBuffered, queue.bufferedCount);
        return service.isWriteBlocked() && queue.bufferedCount === 10;
      },
      { what: 'the server held by flow control, the read-ahead full', intervalMs: 1 },
    );
    expect(maxBuffered).toBe(10);
    // What did go out sits in HTTP/2 windows and buffers (about 8 MiB with the client's window), not in the read-ahead.
    expect(service.deliveredCount()).toBeLessThan(total / 2);
    const rest = await take(iterator, total - 1);
    expect(rest.at(-1)!.offset).toBe(total - 1);
  });
});
