import * as grpc from '@grpc/grpc-js';
import { beforeAll, describe, expect, it } from 'vitest';
import { call } from '../../src/client/admin.js';
import { StrataClient } from '../../src/client/strata-client.js';
import { MAX_MEMBER_ID_LENGTH } from '../../src/core/limits.js';
import type { GroupHeartbeatRequest } from '../../src/generated/strata/v1/GroupHeartbeatRequest.js';
import { ERROR_CODE_METADATA_KEY } from '../../src/protocol/protocol.js';
import { capturingLogger, type LogLine } from '../helpers/capturing-logger.js';
import { eventually } from '../helpers/eventually.js';
import { useInProcessServer } from '../helpers/in-process-server.js';

const GROUPS = { initialRebalanceDelayMs: 50, rebalanceDelayMs: 50, heartbeatIntervalMs: 200, sessionTimeoutMs: 3_000 };

interface Answer {
  memberId: string;
  failure: { code: string; grpcStatus: number } | null;
}

describe('consumer groups under hostile heartbeats', () => {
  // Debug: the call log's line for a stream the server ended is the signal one test waits for.
  const logLines: LogLine[] = [];
  const fx = useInProcessServer({ groups: GROUPS }, capturingLogger(logLines, 'debug'));
  beforeAll(async () => {
    await fx.client.admin.createTopic('jobs', { partitions: 2 });
    const producer = fx.client.producer();
    await producer.sendBatch('jobs', Array.from({ length: 20 }, (_, i) => ({ key: `k${i}`, value: `job-${i}` })));
    await producer.close();
  });

  /** Sends heartbeats on a stream of their own (fewer than the rate limit) and returns one answer each. */
  async function heartbeats(requests: Array<Partial<GroupHeartbeatRequest>>): Promise<Answer[]> {
    const stream = fx.client.stubs.groups.groupHeartbeat();
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

  const listGroups = () => call(fx.client.stubs.admin.listGroups.bind(fx.client.stubs.admin), {});

  it('leaves no group behind for refused joins; a group with commits and no members is still listed and described', async () => {
    const refused = await heartbeats(Array.from({ length: 10 }, (_, i) => ({ groupId: `refused-${i}`, topics: [] })));
    expect(refused.map((a) => a.failure?.code)).toEqual(Array(10).fill('INVALID_ARGUMENT'));
    expect((await listGroups()).groups.filter((g) => g.groupId.startsWith('refused-'))).toEqual([]);

    // A member commits and leaves: its group is empty but has offsets, so it is listed (as Kafka lists
    // an "Empty" group) and described with them.
    const consumer = fx.client.consumer({ groupId: 'kept', topics: ['jobs'], fromBeginning: true });
    let count = 0;
    for await (const _ of consumer) {
      if (++count === 20) {
        await consumer.commit();
        break;
      }
    }
    expect((await listGroups()).groups.find((g) => g.groupId === 'kept')).toMatchObject({ memberCount: 0 });
    const description = await call(fx.client.stubs.admin.describeGroup.bind(fx.client.stubs.admin), { groupId: 'kept' });
    expect(description.members).toEqual([]);
    expect(description.lag.reduce((n, l) => n + l.committedOffset, 0)).toBe(20);
  }, 30_000);

  it('refuses joins with oversized subscriptions and ids with INVALID_ARGUMENT, keeps nothing, and echoes none of it', async () => {
    // About 0.9 MiB of made-up topic names, as a hostile client sent 400 times to grow the server by 1 GiB.
    const madeUp = Array.from({ length: 60_000 }, (_, i) => `mu-topic-${i}`);
    const answers = await heartbeats([
      { groupId: 'huge-subscription', topics: madeUp },
      { groupId: 'huge-instance', instanceId: 'i'.repeat(500_000) },
      { groupId: 'huge-member', memberId: 'm'.repeat(200_000), memberEpoch: 3 },
    ]);
    expect(answers.map((a) => a.failure?.grpcStatus)).toEqual([3, 3, 3]);
    // A failure answer does not carry the client's oversized id back, in the member id or the message.
    expect(answers.every((a) => a.memberId === '' && JSON.stringify(a).length < 1_000)).toBe(true);
    expect((await listGroups()).groups.filter((g) => g.groupId.startsWith('huge-'))).toEqual([]);
  }, 30_000);

  it('ends a heartbeat stream whose answers go unread with SLOW_READER once MAX_UNREAD_HEARTBEAT_ANSWERS are queued', async () => {
    // HTTP/2's default window (the Strata client asks for 8 MiB), so that answers queue on the server soon.
    const reader = new StrataClient({ address: `127.0.0.1:${fx.server.port}`, channelOptions: { 'grpc-node.flow_control_window': 65_535 } });
    const stream = reader.stubs.groups.groupHeartbeat();
    const ended = new Promise<grpc.StatusObject>((resolve) => stream.on('status', resolve));
    stream.on('error', () => undefined);
    // Asks for one answer (grpc-js holds back the HTTP/2 stream only once reading started; before,
    // it buffers everything the server sends) and reads no more, while it sends far more heartbeats
    // than the transport's window and the bound hold answers for. Past the rate limit each one is
    // answered at once, with a failure.
    stream.read(0);
    const sent = 5_000;
    for (let i = 0; i < sent; i++) stream.write({ groupId: 'unread', memberId: 'm'.repeat(MAX_MEMBER_ID_LENGTH), memberEpoch: 1, topics: ['jobs'], owned: [], instanceId: '', idleMs: 0 });
    // The server cuts the stream off (its call log says so), while the client has read nothing yet.
    const cutOff = await eventually(() => logLines.find((l) => l.msg === 'call failed' && l.reason === 'SLOW_READER' && String(l.method).endsWith('/GroupHeartbeat')), {
      what: 'the server to end the unread heartbeat stream with SLOW_READER',
    });
    // Cut off, the stream is not served any more: a join on it is ignored. Sent in a new rate-limit
    // second (the last one began at the cut-off or before), so that the rate limit cannot be why.
    // Not a race guard: the wait is the rate limit's window, counted from the signal.
    await new Promise((r) => setTimeout(r, Math.max(0, (cutOff.time as number) + 1_100 - Date.now())));
    stream.write({ groupId: 'joined-after-cut-off', memberId: '', memberEpoch: 0, topics: ['jobs'], owned: [], instanceId: '', idleMs: 0 });
    // Not a race guard: three seconds in which the join must not appear.
    for (let waitedMs = 0; waitedMs < 3_000; waitedMs += 100) {
      expect((await listGroups()).groups.map((g) => g.groupId)).not.toContain('joined-after-cut-off');
      await new Promise((r) => setTimeout(r, 100));
    }
    // Reading now drains what the server queued, then the status: the stream was ended, not buffered for.
    let answers = 0;
    stream.on('data', () => answers++);
    const timeout = setTimeout(() => stream.cancel(), 10_000);
    const status = await ended;
    clearTimeout(timeout);
    expect(status.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(status.metadata.get(ERROR_CODE_METADATA_KEY)).toEqual(['SLOW_READER']);
    expect(answers).toBeLessThan(sent);
    reader.close();
  }, 30_000);
});
