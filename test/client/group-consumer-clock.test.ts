/**
 * A group member keeps time only on its client's clock: heartbeats, the session it fences itself
 * by, auto-commits and the leave's wait all pass when a ManualClock is moved on, and not otherwise.
 */
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { GroupConsumer } from '../../src/client/group-consumer.js';
import type { TopicPartition } from '../../src/client/group-consumer-options.js';
import type { StrataClient } from '../../src/client/strata-client.js';
import { ManualClock, type TimerHandle, type TimerOptions } from '../../src/core/clock.js';
import { advanceUntil, track, turn } from '../helpers/manual-time.js';
import { endlessSubscribe } from '../helpers/endless-subscribe.js';

interface SentHeartbeat {
  memberId: string;
  memberEpoch: number;
  atMs: number;
}

const START_MS = 1_000_000;

/** A client on a ManualClock whose heartbeats are answered by `answer` on the next turn, serving t/0 without end. */
function fakeClient(answer: (request: SentHeartbeat, index: number) => object | undefined, clock = new ManualClock(START_MS)) {
  const sent: SentHeartbeat[] = [];
  const heartbeatStreams: EventEmitter[] = [];
  let commits = 0;
  const client = {
    callTimeoutMs: 5_000,
    clock,
    admin: { listOffsets: async (_topic: string, _spec: unknown, partitions: number[]) => partitions.map((partition) => ({ partition, offset: 0 })) },
    stubs: {
      groups: {
        groupHeartbeat() {
          const stream = Object.assign(new EventEmitter(), {
            write: (request: SentHeartbeat) => {
              const entry = { memberId: request.memberId, memberEpoch: request.memberEpoch, atMs: clock.nowMs() };
              sent.push(entry);
              const response = answer(entry, sent.length - 1);
              if (response) setImmediate(() => stream.emit('data', { failure: null, offsetsEpoch: 0, assignment: [], sessionTimeoutMs: 0, ...response }));
              return true;
            },
            end: () => undefined,
          });
          heartbeatStreams.push(stream);
          return stream;
        },
        commitOffsets: (_request: unknown, _options: unknown, callback: (error: null, response: object) => void) => {
          commits++;
          setImmediate(() => callback(null, {}));
        },
        fetchOffsets: (request: { topics: string[] }, _options: unknown, callback: (error: null, response: object) => void) =>
          setImmediate(() => callback(null, { topics: request.topics.map((topic) => ({ topic, partitions: [] })) })),
      },
      consume: {
        subscribe: endlessSubscribe(10),
      },
    },
  } as unknown as StrataClient;
  return { client, clock, sent, heartbeatStreams, commitCount: () => commits };
}

/** A ManualClock that knows which of its timers would hold a process: set to keep it alive, not yet fired or cancelled. */
class KeptTimersClock extends ManualClock {
  readonly kept = new Set<number>();
  private nextToken = 0;

  override setTimeout(callback: () => void, delayMs: number, options?: TimerOptions): TimerHandle {
    if (!options?.keepsProcessAlive) return super.setTimeout(callback, delayMs);
    const token = this.nextToken++;
    this.kept.add(token);
    const handle = super.setTimeout(() => {
      this.kept.delete(token);
      callback();
    }, delayMs);
    return {
      cancel: () => {
        this.kept.delete(token);
        handle.cancel();
      },
    };
  }
}

const quiet = { warn: () => undefined };

describe('a group member on its client clock', () => {
  it('heartbeats every interval of the clock; with none answered for the session timeout, it lets its partitions go at that moment of the clock', async () => {
    // Only the join is answered (t/0, heartbeat 1 s, session 5 s): later heartbeats go unanswered.
    const { client, clock, sent } = fakeClient((request) =>
      request.memberEpoch === 0 ? { memberId: 'm1', memberEpoch: 1, heartbeatIntervalMs: 1_000, sessionTimeoutMs: 5_000, assignment: [{ topic: 't', partitions: [0] }] } : undefined,
    );
    const lost: Array<{ partitions: TopicPartition[]; atMs: number }> = [];
    const consumer = new GroupConsumer(client, { groupId: 'g', topics: ['t'], fromBeginning: true, onLost: (partitions) => void lost.push({ partitions, atMs: clock.nowMs() }), logger: quiet, leaveTimeoutMs: 100 });
    await advanceUntil(clock, () => consumer.assignment().length === 1, { what: 'the assignment', stepMs: 0 });
    // No clock time: no heartbeat besides the join, however long the event loop runs.
    for (let i = 0; i < 50; i++) await turn();
    expect(sent.map((h) => h.atMs - START_MS)).toEqual([0]);
    await advanceUntil(clock, () => lost.length > 0, { what: 'the member to let its partitions go', stepMs: 50 });
    // One heartbeat a second of the clock, none answered: the session (5 s from the join, the last
    // heartbeat answered) ends at 5 s, and the member stops reading then, not a step later.
    expect(sent.filter((h) => h.memberEpoch === 1).map((h) => h.atMs - START_MS)).toEqual([1_000, 2_000, 3_000, 4_000, 5_000]);
    expect(lost).toEqual([{ partitions: [{ topic: 't', partition: 0 }], atMs: START_MS + 5_000 }]);
    const closed = track(consumer.close());
    await advanceUntil(clock, () => closed.isSettled, { what: 'close()', stepMs: 10 });
  });

  it('leaves no timer that holds the process once close() resolved, also after its heartbeat stream broke just before', async () => {
    const clock = new KeptTimersClock(START_MS);
    const { client, heartbeatStreams } = fakeClient(
      (request) => (request.memberEpoch === 0 ? { memberId: 'm1', memberEpoch: 1, heartbeatIntervalMs: 1_000, sessionTimeoutMs: 10_000, assignment: [{ topic: 't', partitions: [0] }] } : request.memberEpoch < 0 ? { memberId: 'm1', memberEpoch: -1 } : undefined),
      clock,
    );
    const consumer = new GroupConsumer(client, { groupId: 'g', topics: ['t'], fromBeginning: true, logger: quiet, leaveTimeoutMs: 1_000 });
    await advanceUntil(clock, () => consumer.assignment().length === 1, { what: 'the assignment', stepMs: 0 });
    // The stream breaks (a reconnect is due in 500 ms of the clock) and the member closes at once:
    // the leave goes out on a stream of its own and is answered, with no clock time passing.
    heartbeatStreams[0]!.emit('error', Object.assign(new Error('unavailable'), { code: 14, details: 'connection reset' }));
    const closed = track(consumer.close());
    await advanceUntil(clock, () => closed.isSettled, { what: 'close()', stepMs: 0 });
    expect(closed.outcome).toBe('acknowledged');
    expect(clock.kept.size, 'timers still holding the process after close()').toBe(0);
  });

  it('auto-commits every autoCommitIntervalMs of the clock, and close() waits leaveTimeoutMs of the clock for an unanswered leave', async () => {
    const { client, clock, sent, commitCount } = fakeClient((request) =>
      request.memberEpoch === 0 ? { memberId: 'm1', memberEpoch: 1, heartbeatIntervalMs: 60_000, sessionTimeoutMs: 120_000, assignment: [{ topic: 't', partitions: [0] }] } : undefined,
    );
    const consumer = new GroupConsumer(client, { groupId: 'g', topics: ['t'], fromBeginning: true, logger: quiet, autoCommitIntervalMs: 2_000, leaveTimeoutMs: 700 });
    const iterator = consumer[Symbol.asyncIterator]();
    // Two records handed: the first is processed once the second is asked for.
    await iterator.next();
    await iterator.next();
    for (let i = 0; i < 50; i++) await turn();
    expect(commitCount()).toBe(0);
    clock.advance(1_999);
    for (let i = 0; i < 10; i++) await turn();
    expect(commitCount()).toBe(0);
    clock.advance(1);
    await advanceUntil(clock, () => commitCount() === 1, { what: 'the auto-commit at 2 s', stepMs: 0 });
    // The leave is never answered: close() resolves after leaveTimeoutMs (700 ms) of the clock.
    const closingAtMs = clock.nowMs();
    const closed = track(consumer.close());
    await advanceUntil(clock, () => closed.isSettled, { what: 'close()', stepMs: 10 });
    expect(sent.filter((h) => h.memberEpoch === -1)).toHaveLength(1);
    expect(clock.nowMs() - closingAtMs).toBeGreaterThanOrEqual(700);
    expect(clock.nowMs() - closingAtMs).toBeLessThanOrEqual(710);
  });
});
