import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { systemClock } from '../../src/core/clock.js';
import { FencedInstanceIdError } from '../../src/core/errors.js';
import { GroupConsumer } from '../../src/client/group-consumer.js';
import type { GroupConsumerLogger, TopicPartition } from '../../src/client/group-consumer-options.js';
import type { StrataClient } from '../../src/client/strata-client.js';
import { eventually } from '../helpers/eventually.js';
import { endlessSubscribe } from '../helpers/endless-subscribe.js';

interface SentHeartbeat {
  memberId: string;
  memberEpoch: number;
  atMs: number;
}

type HeartbeatStream = EventEmitter & { write: (request: SentHeartbeat) => boolean; end: () => void };

/**
 * A client whose heartbeat stream is driven by `answer` (called for every heartbeat the member
 * sends, it returns the answer or undefined for none), and whose Subscribe streams serve `t/0`
 * without end: batches of 100 records.
 */
function fakeClient(answer: (request: SentHeartbeat, index: number) => object | undefined) {
  const sent: SentHeartbeat[] = [];
  const client = {
    callTimeoutMs: 5_000,
    clock: systemClock,
    admin: { listOffsets: async (_topic: string, _spec: unknown, partitions: number[]) => partitions.map((partition) => ({ partition, offset: 0 })) },
    stubs: {
      groups: {
        groupHeartbeat() {
          const stream: HeartbeatStream = Object.assign(new EventEmitter(), {
            write: (request: SentHeartbeat) => {
              const entry = { memberId: request.memberId, memberEpoch: request.memberEpoch, atMs: Date.now() };
              sent.push(entry);
              const response = answer(entry, sent.length - 1);
              if (response) {
                const { delayMs = 0, ...fields } = response as { delayMs?: number };
                setTimeout(() => stream.emit('data', { failure: null, offsetsEpoch: 0, assignment: [], sessionTimeoutMs: 0, ...fields }), delayMs);
              }
              return true;
            },
            end: () => undefined,
          });
          return stream;
        },
        commitOffsets: (_request: unknown, _options: unknown, callback: (error: null, response: object) => void) => setImmediate(() => callback(null, {})),
        fetchOffsets: (request: { topics: string[] }, _options: unknown, callback: (error: null, response: object) => void) =>
          setImmediate(() => callback(null, { topics: request.topics.map((topic) => ({ topic, partitions: [] })) })),
      },
      consume: {
        subscribe: endlessSubscribe(100),
      },
    },
  } as unknown as StrataClient;
  return { client, sent };
}

const quietLogger = (warnings: string[]): GroupConsumerLogger => ({ warn: (_fields, message) => void warnings.push(message) });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const waitFor = (what: string, condition: () => boolean) => eventually(condition, { what, intervalMs: 5 });

describe('GroupConsumer liveness', () => {
  it('stops handing out records once no heartbeat was answered within the session timeout, calls onLost, and rejoins', async () => {
    const SESSION_TIMEOUT_MS = 400;
    // Only the first join is answered (with t/0); every later heartbeat goes unanswered until the
    // member joins again, as when the server removed it or cannot be reached.
    let joins = 0;
    const { client, sent } = fakeClient((request) => {
      if (request.memberEpoch !== 0) return undefined;
      joins++;
      const assignment = joins === 1 ? [{ topic: 't', partitions: [0] }] : [];
      return { memberId: `m${joins}`, memberEpoch: 1, heartbeatIntervalMs: 50, sessionTimeoutMs: SESSION_TIMEOUT_MS, assignment };
    });
    const lost: TopicPartition[][] = [];
    const warnings: string[] = [];
    const consumer = new GroupConsumer(client, { groupId: 'g', topics: ['t'], fromBeginning: true, onLost: (ps) => void lost.push(ps), logger: quietLogger(warnings), leaveTimeoutMs: 100 });
    const handedAtMs: number[] = [];
    const loop = (async () => {
      for await (const record of consumer) {
        expect(record.partition).toBe(0);
        handedAtMs.push(Date.now());
        // A handler that awaits something (not a race guard): the member's timers run between records.
        await sleep(1);
      }
    })();
    await waitFor('onLost', () => lost.length === 1);
    await waitFor('a second join', () => joins === 2);
    const firstJoinSentMs = sent.find((h) => h.memberEpoch === 0)!.atMs;
    expect(handedAtMs.length).toBeGreaterThan(0);
    // Handed only while the first join's answer (the last answered heartbeat) was within the session.
    // The session is ended by a timer of the client's clock, which fires late on a loaded machine
    // (CI saw 4 ms); the margin is still well inside the server's own session, which counts from
    // when it received that heartbeat, not from when it was sent.
    const TIMER_LATENESS_MS = 100;
    expect(Math.max(...handedAtMs)).toBeLessThan(firstJoinSentMs + SESSION_TIMEOUT_MS + TIMER_LATENESS_MS);
    expect(lost[0]).toEqual([{ topic: 't', partition: 0 }]);
    // The lost member id leaves (so the server frees its partitions now), then a fresh join.
    const leaveIndex = sent.findIndex((h) => h.memberId === 'm1' && h.memberEpoch === -1);
    const rejoinIndex = sent.findIndex((h, i) => i > 0 && h.memberEpoch === 0 && h.memberId === '');
    expect(leaveIndex).toBeGreaterThan(0);
    expect(rejoinIndex).toBeGreaterThan(leaveIndex);
    expect(warnings.some((w) => w.includes('no heartbeat answered'))).toBe(true);
    const countAfter = handedAtMs.length;
    // Not a race guard: two heartbeat intervals in which the lost partition must hand out nothing.
    await sleep(100);
    expect(handedAtMs.length).toBe(countAfter);
    await consumer.close();
    await loop;
  });

  it('stops for good with FencedInstanceIdError when a newer member took its instance id, without rejoining or leaving', async () => {
    const { client, sent } = fakeClient((request, index) => {
      if (index === 0) return { memberId: 'm1', memberEpoch: 1, heartbeatIntervalMs: 20, sessionTimeoutMs: 10_000, assignment: [{ topic: 't', partitions: [0] }] };
      if (request.memberEpoch < 0) return { memberId: request.memberId, memberEpoch: request.memberEpoch, heartbeatIntervalMs: 20 };
      return {
        memberId: request.memberId,
        memberEpoch: request.memberEpoch,
        heartbeatIntervalMs: 20,
        failure: { code: 'FENCED_INSTANCE_ID', message: "instance 'i-1' was taken by a newer member", retriable: false, grpcStatus: 9 },
      };
    });
    const warnings: string[] = [];
    const consumer = new GroupConsumer(client, { groupId: 'g', topics: ['t'], instanceId: 'i-1', fromBeginning: true, logger: quietLogger(warnings) });
    let handed = 0;
    const outcome = await (async () => {
      for await (const _record of consumer) handed++;
    })().then(
      () => 'ended without an error',
      (error: unknown) => error,
    );
    expect(outcome).toBeInstanceOf(FencedInstanceIdError);
    expect((outcome as FencedInstanceIdError).code).toBe('FENCED_INSTANCE_ID');
    expect((outcome as FencedInstanceIdError).retriable).toBe(false);
    expect(handed).toBeGreaterThan(0);
    const sentBefore = sent.length;
    // Not a race guard: over seven heartbeat intervals in which nothing may be sent.
    await sleep(150);
    // No rejoin (epoch 0) and no leave (-2) after the fence: nothing at all goes out any more.
    expect(sent.slice(1).filter((h) => h.memberEpoch === 0 || h.memberEpoch < 0)).toEqual([]);
    expect(sent.length).toBe(sentBefore);
    expect(warnings.some((w) => w.includes('fenced'))).toBe(true);
  });

  it('close() resolves once the leave is answered (a push before it is not the answer), and after leaveTimeoutMs when it never is', async () => {
    for (const leaveAnswerDelayMs of [150, undefined]) {
      const { client, sent } = fakeClient((request, index) => {
        if (index === 0) return { memberId: 'm1', memberEpoch: 1, heartbeatIntervalMs: 60_000, sessionTimeoutMs: 10_000 };
        if (request.memberEpoch !== -1) return undefined;
        // The answer, or only a push with a live epoch (not the leave's answer).
        return leaveAnswerDelayMs === undefined
          ? { memberId: 'm1', memberEpoch: 1, heartbeatIntervalMs: 60_000, delayMs: 20 }
          : { memberId: 'm1', memberEpoch: -1, heartbeatIntervalMs: 60_000, delayMs: leaveAnswerDelayMs };
      });
      const consumer = new GroupConsumer(client, { groupId: 'g', topics: ['t'], leaveTimeoutMs: 600 });
      await waitFor('joined', () => consumer.currentMemberId === 'm1');
      const startedMs = Date.now();
      await consumer.close();
      const tookMs = Date.now() - startedMs;
      expect(sent.filter((h) => h.memberEpoch === -1)).toHaveLength(1);
      if (leaveAnswerDelayMs === undefined) expect(tookMs).toBeGreaterThanOrEqual(590);
      else {
        expect(tookMs).toBeGreaterThanOrEqual(leaveAnswerDelayMs - 10);
        expect(tookMs).toBeLessThan(590);
      }
    }
  });
});
