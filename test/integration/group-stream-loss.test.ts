import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { GroupConsumer } from '../../src/client/group-consumer.js';
import { call } from '../../src/client/admin.js';
import { StrataClient } from '../../src/client/strata-client.js';
import { eventually } from '../helpers/eventually.js';
import { useInProcessServer } from '../helpers/in-process-server.js';

/** Long on purpose: the stream grace (2 s) is what removes the member below, not the session. */
const SESSION_TIMEOUT_MS = 15_000;
const GROUPS = { sessionTimeoutMs: SESSION_TIMEOUT_MS, heartbeatIntervalMs: 200, initialRebalanceDelayMs: 100, rebalanceDelayMs: 50, streamLostGraceMs: 2_000 };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const waitFor = (what: string, condition: () => boolean) => eventually(condition, { what, timeoutMs: 15_000 });

interface Handed {
  partition: number;
  offset: number;
  atMs: number;
}

function drain(consumer: GroupConsumer): { handed: Handed[]; done: Promise<void> } {
  const handed: Handed[] = [];
  const done = (async () => {
    for await (const record of consumer) handed.push({ partition: record.partition, offset: record.offset, atMs: Date.now() });
  })();
  return { handed, done };
}

/**
 * A client whose heartbeat streams can be cut: the open one is cancelled (the server sees it end) and,
 * while `isCut`, new ones fail at once as a server that refuses the stream would (its Subscribe
 * streams, on the same channel, keep working).
 */
function cuttableHeartbeats(client: StrataClient) {
  const groups = client.stubs.groups as unknown as { groupHeartbeat: () => EventEmitter & { cancel(): void } };
  const open = groups.groupHeartbeat.bind(groups);
  let current: (EventEmitter & { cancel(): void }) | undefined;
  let isCut = false;
  groups.groupHeartbeat = () => {
    if (!isCut) return (current = open());
    const refused = Object.assign(new EventEmitter(), { write: () => true, end: () => undefined, cancel: () => undefined });
    setImmediate(() => refused.emit('error', Object.assign(new Error('14 UNAVAILABLE: refused'), { code: 14 })));
    return refused;
  };
  return {
    cut() {
      isCut = true;
      current?.cancel();
    },
    restore() {
      isCut = false;
    },
  };
}

describe('a dynamic member whose heartbeat stream is lost for longer than the grace', () => {
  const fx = useInProcessServer({ groups: GROUPS });

  it('stops handing out its partitions before the server gives them to another member', async () => {
    await fx.client.admin.createTopic('cut', { partitions: 2 });
    const clientA = new StrataClient({ address: fx.address });
    const clientB = new StrataClient({ address: fx.address });
    const heartbeatsA = cuttableHeartbeats(clientA);
    const producer = fx.client.producer();
    let isProducing = true;
    const producing = (async () => {
      for (let i = 0; isProducing; i++) {
        await producer.sendBatch('cut', [{ value: `a${i}`, partition: 0 }, { value: `b${i}`, partition: 1 }]);
        // Pace, not a race guard: records keep arriving on both partitions all through the test.
        await sleep(10);
      }
    })();
    const assignedToB: Array<{ partition: number; atMs: number }> = [];
    const a = clientA.consumer({ groupId: 'cut', topics: ['cut'], fromBeginning: true, autoCommitIntervalMs: 100 });
    const b = clientB.consumer({
      groupId: 'cut',
      topics: ['cut'],
      fromBeginning: true,
      autoCommitIntervalMs: 100,
      onAssigned: (partitions) => void assignedToB.push(...partitions.map((tp) => ({ partition: tp.partition, atMs: Date.now() }))),
    });
    const readA = drain(a);
    const readB = drain(b);
    try {
      await waitFor('one partition each', () => a.assignment().length === 1 && b.assignment().length === 1);
      const partitionOfA = a.assignment()[0]!.partition;
      await waitFor('A reading its partition', () => readA.handed.some((r) => r.partition === partitionOfA));
      heartbeatsA.cut();
      await waitFor('B given A\'s partition', () => assignedToB.some((x) => x.partition === partitionOfA));
      const movedAtMs = assignedToB.find((x) => x.partition === partitionOfA)!.atMs;
      // A's heartbeats get through again a while after B took over. Not a race guard: these 2 s are
      // the window under test, in which A must hand out nothing of the partition B now owns.
      await sleep(2_000);
      // Until then A cannot have rejoined: what it handed of the partition meanwhile, B had too.
      const restoredAtMs = Date.now();
      heartbeatsA.restore();
      const afterMove = readA.handed.filter((r) => r.partition === partitionOfA && r.atMs >= movedAtMs && r.atMs < restoredAtMs);
      expect(afterMove.length, `A handed ${afterMove.length} records of partition ${partitionOfA} after B was given it`).toBe(0);
      // Back on a working stream, A rejoins and is given a partition again (the loss was one, not churn).
      const rejoinedAtMs = Date.now();
      await waitFor('A reading a partition again', () => readA.handed.some((r) => r.atMs >= rejoinedAtMs));
    } finally {
      heartbeatsA.restore();
      isProducing = false;
      await producing;
      await producer.close();
      await Promise.all([a.close(), b.close()]);
      await Promise.all([readA.done.catch(() => undefined), readB.done.catch(() => undefined)]);
      clientA.close();
      clientB.close();
    }
  }, 60_000);
});

describe('a member removed by the server while its heartbeats are answered (revocation timeout)', () => {
  const fx = useInProcessServer({ groups: { ...GROUPS, revocationTimeoutMs: 1_000 } });

  it('stops handing out the partitions it kept once told it is unknown, whatever its hooks are doing', async () => {
    await fx.client.admin.createTopic('slow-revoke', { partitions: 2 });
    const clientA = new StrataClient({ address: fx.address });
    const clientB = new StrataClient({ address: fx.address });
    const producer = fx.client.producer();
    let isProducing = true;
    const producing = (async () => {
      for (let i = 0; isProducing; i++) {
        await producer.sendBatch('slow-revoke', [{ value: `a${i}`, partition: 0 }, { value: `b${i}`, partition: 1 }]);
        // Pace, not a race guard: records keep arriving on both partitions all through the test.
        await sleep(10);
      }
    })();
    let releaseRevoke = () => undefined as void;
    const revokeHeld = new Promise<void>((resolve) => (releaseRevoke = resolve));
    const revokedByA: number[] = [];
    const assignedToA: Array<{ partition: number; atMs: number }> = [];
    let lostAtMs: number | undefined;
    const assignedToB: Array<{ partition: number; atMs: number }> = [];
    // A's commits hang once it starts a revocation (its last commit before letting go takes longer
    // than the server's revocation timeout): the server removes A.
    const groups = clientA.stubs.groups as unknown as { commitOffsets: (...args: unknown[]) => unknown; groupHeartbeat: () => unknown };
    const commitOffsets = groups.commitOffsets.bind(groups);
    let isRevoking = false;
    groups.commitOffsets = (...args: unknown[]) => {
      if (!isRevoking) return commitOffsets(...args);
      void revokeHeld.then(() => commitOffsets(...args));
      return { cancel: () => undefined };
    };
    const a = clientA.consumer({
      groupId: 'slow-revoke',
      topics: ['slow-revoke'],
      fromBeginning: true,
      autoCommitIntervalMs: 3_600_000,
      onRevoked: (partitions) => void revokedByA.push(...partitions.map((tp) => tp.partition)),
      onAssigned: (partitions) => void assignedToA.push(...partitions.map((tp) => ({ partition: tp.partition, atMs: Date.now() }))),
    });
    const readA = drain(a);
    let b: GroupConsumer | undefined;
    let readB: ReturnType<typeof drain> | undefined;
    try {
      await waitFor('A owning both partitions', () => a.assignment().length === 2);
      await waitFor('A reading', () => readA.handed.length > 0);
      b = clientB.consumer({
        groupId: 'slow-revoke',
        topics: ['slow-revoke'],
        fromBeginning: true,
        autoCommitIntervalMs: 100,
        onAssigned: (partitions) => void assignedToB.push(...partitions.map((tp) => ({ partition: tp.partition, atMs: Date.now() }))),
      });
      isRevoking = true;
      readB = drain(b);
      // The server removes A at its revocation timeout (A's onLost waits for its hung reconciliation,
      // its member id is given up at once); B is given what A held.
      const firstMemberId = a.currentMemberId;
      await waitFor('A removed', () => a.currentMemberId !== firstMemberId);
      lostAtMs = Date.now();
      await waitFor('B given a partition', () => assignedToB.length > 0);
      // Not a race guard: the window under test, in which A (its commit still hung) must hand out
      // nothing of what B was given.
      await sleep(2_000);
      const releasedAtMs = Date.now();
      releaseRevoke();
      // Records A handed of a partition after B was given it and before A (rejoined) was given it again.
      // The server tells A it is removed at A's next heartbeat, up to an interval after the removal,
      // while it gives B the partitions a rebalance window after it: A may go on for that long.
      const movedAtMs = (partition: number) => (assignedToB.find((x) => x.partition === partition)?.atMs ?? Infinity) + GROUPS.heartbeatIntervalMs;
      const backAtMs = (partition: number) => assignedToA.find((x) => x.partition === partition && x.atMs > lostAtMs!)?.atMs ?? Infinity;
      const afterMove = readA.handed.filter((r) => r.atMs >= movedAtMs(r.partition) && r.atMs < Math.min(backAtMs(r.partition), releasedAtMs));
      expect(afterMove.length, `A handed ${afterMove.length} records of partitions B had been given`).toBe(0);
    } finally {
      releaseRevoke();
      isProducing = false;
      await producing;
      await producer.close();
      await Promise.all([a.close(), b?.close()]);
      await Promise.all([readA.done.catch(() => undefined), readB?.done.catch(() => undefined)]);
      clientA.close();
      clientB.close();
    }
  }, 60_000);
});

describe('a member closed while its join is on its way', () => {
  const fx = useInProcessServer({ groups: GROUPS });

  it('leaves: the server does not keep it until the stream grace ends', async () => {
    await fx.client.admin.createTopic('quick', { partitions: 2 });
    const client = new StrataClient({ address: fx.address });
    try {
      // Connected first, so the join goes out at once.
      await client.admin.listTopics();
      const consumer = client.consumer({ groupId: 'quick', topics: ['quick'] });
      await consumer.close();
      // A group without members is forgotten at once (it has no offsets either).
      const { groups } = await call(fx.client.stubs.admin.listGroups.bind(fx.client.stubs.admin), {});
      expect(groups.find((g) => g.groupId === 'quick')?.memberCount ?? 0).toBe(0);
    } finally {
      client.close();
    }
  });
});
