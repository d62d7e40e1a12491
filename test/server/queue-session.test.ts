import { EventEmitter } from 'node:events';
import { Metadata } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { MAX_QUEUE_REQUESTS_IN_PROGRESS_PER_STREAM, MAX_QUEUE_UNANSWERED_BYTES_PER_MEMBER } from '../../src/core/limits.js';
import { silentLogger } from '../../src/core/logger.js';
import type { QueueSessionResponse } from '../../src/generated/strata/v1/QueueSessionResponse.js';
import { DEFAULT_QUEUE_GROUP_CONFIG } from '../../src/queues/queue-group-config.js';
import type { QueueAnswer, QueueAnswerResult, QueueDelivery, QueueJoinRequest, QueueMemberHandle } from '../../src/queues/queue-coordinator-api.js';
import { MemoryBudget } from '../../src/server/memory-budget.js';
import { QueueSession } from '../../src/server/queue-session.js';
import { StreamRegistry } from '../../src/server/stream-registry.js';

/** A QueueSession call as the handler sees it: write() answers what the test says, flushes when told. */
class FakeCall extends EventEmitter {
  /** As a call the auth gate passed carries it (no principal in it: ANONYMOUS). */
  readonly metadata = new Metadata();
  cancelled = false;
  isWritable = true;
  paused = false;
  ended = false;
  status: { code?: number; details?: string } | undefined;
  readonly written: QueueSessionResponse[] = [];
  private readonly unflushed: Array<() => void> = [];
  constructor() {
    super();
    this.on('error', (status: { code?: number; details?: string }) => (this.status ??= status));
  }
  write(message: QueueSessionResponse, flushed?: () => void): boolean {
    this.written.push(message);
    if (flushed) this.unflushed.push(flushed);
    return this.isWritable;
  }
  flushAll(): void {
    for (const flushed of this.unflushed.splice(0)) flushed();
  }
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
  }
  isPaused(): boolean {
    return this.paused;
  }
  end(): void {
    this.ended = true;
  }
  send(request: object): void {
    this.emit('data', request);
  }
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
}
function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** A coordinator whose answers resolve when the test says, and which records what the session told it. */
class FakeCoordinator {
  deliver: QueueJoinRequest['deliver'] | undefined;
  readonly joining = deferred<QueueMemberHandle>();
  readonly answering: Array<{ answers: readonly QueueAnswer[]; done: Deferred<QueueAnswerResult[]> }> = [];
  readonly readiness: boolean[] = [];
  readonly departures: string[] = [];
  join(request: QueueJoinRequest): Promise<QueueMemberHandle> {
    this.deliver = request.deliver;
    return this.joining.promise;
  }
  answer(_memberId: string, answers: readonly QueueAnswer[]): Promise<QueueAnswerResult[]> {
    const done = deferred<QueueAnswerResult[]>();
    this.answering.push({ answers, done });
    return done.promise;
  }
  setDeliveryReady(_memberId: string, isReady: boolean): void {
    this.readiness.push(isReady);
  }
  async leave(memberId: string): Promise<void> {
    this.departures.push(`leave ${memberId}`);
  }
  async streamLost(memberId: string): Promise<void> {
    this.departures.push(`lost ${memberId}`);
  }
  /** Resolves every answer call so far with success for each answer. */
  answerAll(): void {
    for (const { answers, done } of this.answering.splice(0)) done.resolve(answers.map((a) => ({ topic: a.topic, partition: a.partition, offset: a.offset })));
  }
}

const tick = () => new Promise((resolve) => setImmediate(resolve));
const delivery = (offset: number, bytes = 100): QueueDelivery => ({ topic: 't', partition: 0, batches: Buffer.alloc(bytes), records: [{ offset, deliveryCount: 1, lockDeadlineMs: 1 }] });
const ackOf = (offset: number) => ({ topic: 't', partition: 0, offset, type: 'QUEUE_ANSWER_TYPE_ACK', delayMs: 0, reason: '' });

function open(): { call: FakeCall; coordinator: FakeCoordinator; streams: StreamRegistry; budget: MemoryBudget } {
  const call = new FakeCall();
  const coordinator = new FakeCoordinator();
  const streams = new StreamRegistry();
  const budget = new MemoryBudget(64 * 1024 * 1024);
  new QueueSession(call as never, { coordinator: coordinator as never, streams, budget, logger: silentLogger });
  return { call, coordinator, streams, budget };
}

async function joined(): Promise<ReturnType<typeof open>> {
  const session = open();
  session.call.send({ request: 'join', join: { groupId: 'g', topics: ['t'], inFlightLimit: 0, config: null, clientId: '' } });
  session.coordinator.joining.resolve({ memberId: 'm1', config: DEFAULT_QUEUE_GROUP_CONFIG });
  await tick();
  return session;
}

describe('QueueSession (the stream without gRPC)', () => {
  it('writes deliveries made before the join resolved after the joined answer, and reads nothing while joining', async () => {
    const { call, coordinator } = open();
    call.send({ request: 'join', join: { groupId: 'g', topics: ['t'], inFlightLimit: 0, config: null, clientId: '' } });
    expect(call.paused).toBe(true);
    expect(coordinator.deliver!(delivery(0))).toBe(true);
    expect(call.written).toEqual([]);
    coordinator.joining.resolve({ memberId: 'm1', config: DEFAULT_QUEUE_GROUP_CONFIG });
    await tick();
    expect(call.written.map((m) => Object.keys(m)[0])).toEqual(['joined', 'delivery']);
    expect(call.paused).toBe(false);
  });

  it("tells the coordinator to stop when write() says full, and to go on at 'drain'; and stops reading meanwhile", async () => {
    const { call, coordinator } = await joined();
    call.isWritable = false;
    expect(coordinator.deliver!(delivery(0))).toBe(false);
    expect(call.paused).toBe(true);
    call.isWritable = true;
    call.emit('drain');
    expect(coordinator.readiness).toEqual([true]);
    expect(call.paused).toBe(false);
  });

  it('stops deliveries while the member holds its cap of unanswered bytes, and goes on when it answers', async () => {
    const { call, coordinator } = await joined();
    call.flushAll();
    const half = MAX_QUEUE_UNANSWERED_BYTES_PER_MEMBER / 2;
    expect(coordinator.deliver!(delivery(0, half))).toBe(true);
    call.flushAll();
    expect(coordinator.deliver!(delivery(1, half))).toBe(false);
    call.flushAll();
    call.send({ request: 'answers', answers: { requestId: 7, answers: [ackOf(1)] } });
    coordinator.answerAll();
    await tick();
    expect(coordinator.readiness).toEqual([true]);
    expect(call.written.at(-1)!.results).toMatchObject({ requestId: 7, results: [{ offset: 1 }] });
  });

  it(`reads no request while ${MAX_QUEUE_REQUESTS_IN_PROGRESS_PER_STREAM} are in progress`, async () => {
    const { call, coordinator } = await joined();
    for (let i = 0; i < MAX_QUEUE_REQUESTS_IN_PROGRESS_PER_STREAM; i++) call.send({ request: 'answers', answers: { requestId: i, answers: [ackOf(i)] } });
    expect(call.paused).toBe(true);
    coordinator.answerAll();
    await tick();
    expect(call.paused).toBe(false);
    expect(call.written.filter((m) => m.results)).toHaveLength(MAX_QUEUE_REQUESTS_IN_PROGRESS_PER_STREAM);
  });

  it('at half-close: answers what is in progress, then the member leaves, then the stream ends OK', async () => {
    const { call, coordinator } = await joined();
    call.send({ request: 'answers', answers: { requestId: 1, answers: [ackOf(0)] } });
    call.emit('end');
    await tick();
    expect([call.ended, coordinator.departures]).toEqual([false, []]);
    coordinator.answerAll();
    await tick();
    expect(call.written.at(-1)!.results).toMatchObject({ requestId: 1 });
    expect(coordinator.departures).toEqual(['leave m1']);
    expect(call.ended).toBe(true);
    expect(call.status).toBeUndefined();
  });

  it('at shutdown: reads no more, answers what is in progress, then ends with SHUTTING_DOWN and releases the member', async () => {
    const { call, coordinator, streams } = await joined();
    call.send({ request: 'answers', answers: { requestId: 1, answers: [ackOf(0)] } });
    const closing = streams.closeAll(5_000);
    await tick();
    expect(call.paused).toBe(true);
    expect(call.status).toBeUndefined();
    coordinator.answerAll();
    await closing;
    expect(call.written.at(-1)!.results).toMatchObject({ requestId: 1 });
    expect(call.status?.details).toMatch(/^SHUTTING_DOWN/);
    expect(coordinator.departures).toEqual(['lost m1']);
  });

  it('a stream cancelled while its join is being made durable loses the member as soon as it exists', async () => {
    const { call, coordinator } = open();
    call.send({ request: 'join', join: { groupId: 'g', topics: ['t'], inFlightLimit: 0, config: null, clientId: '' } });
    call.cancelled = true;
    call.emit('cancelled');
    coordinator.joining.resolve({ memberId: 'm1', config: DEFAULT_QUEUE_GROUP_CONFIG });
    await tick();
    expect(coordinator.departures).toEqual(['lost m1']);
    expect(call.written).toEqual([]);
  });

  it('gives back its share of the memory budget when it ends', async () => {
    const { call, coordinator, budget } = await joined();
    coordinator.deliver!(delivery(0, 1024 * 1024));
    expect(budget.usedBytes).toBeGreaterThan(0);
    call.emit('cancelled');
    expect(budget.usedBytes).toBe(0);
  });
});

describe('QueueSession at shutdown, a request read after the pause took', () => {
  it('is answered with SHUTTING_DOWN failures, not dropped', async () => {
    const { call, coordinator, streams } = await joined();
    call.send({ request: 'answers', answers: { requestId: 1, answers: [ackOf(0)] } });
    const closing = streams.closeAll(5_000);
    await tick();
    call.send({ request: 'answers', answers: { requestId: 2, answers: [ackOf(1), ackOf(2)] } });
    expect(call.written.at(-1)!.results).toMatchObject({ requestId: 2, results: [{ offset: 1, failure: { code: 'SHUTTING_DOWN' } }, { offset: 2, failure: { code: 'SHUTTING_DOWN' } }] });
    expect(coordinator.answering).toHaveLength(1);
    coordinator.answerAll();
    await closing;
    expect(call.status?.details).toMatch(/^SHUTTING_DOWN/);
  });
});

describe('QueueSession under at-most-once', () => {
  it('does not count records sent without a lock as held: a member that never answers keeps getting them', async () => {
    const { call, coordinator } = await joined();
    const unlocked = (offset: number): QueueDelivery => ({ ...delivery(offset, MAX_QUEUE_UNANSWERED_BYTES_PER_MEMBER / 8), records: [{ offset, deliveryCount: 1, lockDeadlineMs: 0 }] });
    // Half again the cap of unanswered bytes, each delivery flushed before the next.
    for (let offset = 0; offset < 12; offset++) {
      expect(coordinator.deliver!(unlocked(offset))).toBe(true);
      call.flushAll();
    }
  });
});
