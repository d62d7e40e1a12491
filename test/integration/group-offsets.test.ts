import { beforeAll, describe, expect, it } from 'vitest';
import { call } from '../../src/client/admin.js';
import { StrataClient } from '../../src/client/strata-client.js';
import { eventually } from '../helpers/eventually.js';
import { useInProcessServer } from '../helpers/in-process-server.js';

const RECORDS = 100;
const GROUPS = { initialRebalanceDelayMs: 100, rebalanceDelayMs: 50, heartbeatIntervalMs: 200, sessionTimeoutMs: 10_000 };

describe('committed offsets of a live group', () => {
  const fx = useInProcessServer({ groups: GROUPS });
  beforeAll(async () => {
    await fx.client.admin.createTopic('jobs', { partitions: 2 });
    const producer = fx.client.producer();
    await Promise.all(Array.from({ length: RECORDS }, (_, i) => producer.send('jobs', { key: `k${i}`, value: `job-${i}` })));
    await producer.close();
  });

  /** Two clients of their own for two members; `closeAll` closes what was made, members first. */
  function twoMembersSetup(): { clientA: StrataClient; clientB: StrataClient; closeAll: (...closables: Array<{ close(): Promise<void> } | undefined>) => Promise<void> } {
    const clientA = new StrataClient({ address: `127.0.0.1:${fx.server.port}` });
    const clientB = new StrataClient({ address: `127.0.0.1:${fx.server.port}` });
    const closeAll = async (...closables: Array<{ close(): Promise<void> } | undefined>) => {
      for (const closable of closables) await closable?.close();
      clientA.close();
      clientB.close();
    };
    return { clientA, clientB, closeAll };
  }

  it('reads a topic created after it joined, and partitions added to it later', async () => {
    const consumer = fx.client.consumer({ groupId: 'grows', topics: ['not-yet'], fromBeginning: true });
    const records = consumer[Symbol.asyncIterator]();
    const first = records.next();
    // Joined before the topic exists: the server shows the member.
    await eventually(async () => (await call(fx.client.stubs.admin.describeGroup.bind(fx.client.stubs.admin), { groupId: 'grows' })).members.length === 1, {
      what: "the member of 'grows' in describe",
    });
    await fx.client.admin.createTopic('not-yet', { partitions: 1 });
    const producer = fx.client.producer();
    await producer.send('not-yet', { value: 'first', partition: 0 });
    expect((await first).value!.value!.toString()).toBe('first');
    await fx.client.admin.createPartitions('not-yet', 3);
    await producer.send('not-yet', { value: 'on-new-partition', partition: 2 });
    const next = await records.next();
    expect([next.value!.partition, next.value!.value!.toString()]).toEqual([2, 'on-new-partition']);
    await producer.close();
    await consumer.close();
  }, 30_000);

  it('starts a topic deleted and created again at earliest or latest: its groups forget their old offsets (as Kafka)', async () => {
    await fx.client.admin.createTopic('recreated', { partitions: 1 });
    const producer = fx.client.producer();
    await producer.sendBatch('recreated', Array.from({ length: 10 }, (_, i) => ({ value: `old${i}`, partition: 0 })));
    for (const groupId of ['reset-earliest', 'reset-latest']) {
      const first = fx.client.consumer({ groupId, topics: ['recreated'], fromBeginning: true });
      for await (const _ of first) {
        // Committed offset 1: inside the new log's range below, where it would skip its first record.
        await first.commit();
        break;
      }
      await first.close();
    }
    // Deleted and created again: the committed offsets of the old topic are gone with it.
    await fx.client.admin.deleteTopic('recreated');
    await fx.client.admin.createTopic('recreated', { partitions: 1 });
    await producer.sendBatch('recreated', [{ value: 'new0', partition: 0 }, { value: 'new1', partition: 0 }]);
    const earliest = fx.client.consumer({ groupId: 'reset-earliest', topics: ['recreated'], fromBeginning: true });
    const values: string[] = [];
    for await (const record of earliest) {
      values.push(record.value!.toString());
      if (values.length === 2) break;
    }
    await earliest.close();
    expect(values).toEqual(['new0', 'new1']);
    // Reset to latest: it reads what comes after its reset, never what was there before.
    const latest = fx.client.consumer({ groupId: 'reset-latest', topics: ['recreated'], fromBeginning: false });
    const next = latest[Symbol.asyncIterator]().next();
    let received: string | undefined;
    void next.then((r) => (received = r.value?.value?.toString()));
    // Sent until one arrives: those sent before the member's start offset was resolved are not read.
    let sentCount = 0;
    await eventually(
      async () => {
        if (received !== undefined) return true;
        await producer.send('recreated', { value: `after${sentCount++}`, partition: 0 });
        return false;
      },
      { what: 'a record sent after the reset to arrive', intervalMs: 100 },
    );
    expect(received).toMatch(/^after\d+$/);
    await latest.close();
    await producer.close();
  }, 60_000);

  it('resets offsets while the member runs: old commits are fenced, the member replays without a restart', async () => {
    const consumer = fx.client.consumer({ groupId: 'workers', topics: ['jobs'], fromBeginning: true, autoCommitIntervalMs: 100 });
    const values: string[] = [];
    const iterator = consumer[Symbol.asyncIterator]();
    while (values.length < RECORDS) values.push((await iterator.next()).value!.value!.toString());
    await consumer.commit();
    const memberId = consumer.currentMemberId;
    const before = await call(fx.client.stubs.admin.describeGroup.bind(fx.client.stubs.admin), { groupId: 'workers' });
    expect(before.lag.reduce((n, l) => n + l.committedOffset, 0)).toBe(RECORDS);

    // A dry run changes nothing.
    const plan = await call(fx.client.stubs.admin.resetOffsets.bind(fx.client.stubs.admin), { groupId: 'workers', topic: 'jobs', to: { point: 'START_POINT_EARLIEST' }, execute: false, requestedBy: 'tester@test' });
    expect(plan.executed).toBe(false);
    expect(plan.changes.map((c) => c.newOffset)).toEqual([0, 0]);
    expect((await call(fx.client.stubs.admin.describeGroup.bind(fx.client.stubs.admin), { groupId: 'workers' })).lag.reduce((n, l) => n + l.committedOffset, 0)).toBe(RECORDS);

    const reset = await call(fx.client.stubs.admin.resetOffsets.bind(fx.client.stubs.admin), { groupId: 'workers', topic: 'jobs', to: { point: 'START_POINT_EARLIEST' }, execute: true, requestedBy: 'tester@test' });
    expect(reset.executed).toBe(true);
    expect(reset.changes.reduce((n, c) => n + c.previousOffset, 0)).toBe(RECORDS);

    // A commit from before the reset (the old offsets epoch) is refused: a zombie cannot undo it.
    await expect(
      call(fx.client.stubs.groups.commitOffsets.bind(fx.client.stubs.groups), { groupId: 'workers', memberId, memberEpoch: 1, offsetsEpoch: 0, topics: [{ topic: 'jobs', partitions: [{ partition: 0, offset: 50 }] }] }),
    ).rejects.toMatchObject({ code: 'FENCED_MEMBER_EPOCH' });

    // Fetches carry the member too: a zombie (unknown member) or a stale offsets epoch is refused.
    await expect(
      call(fx.client.stubs.groups.fetchOffsets.bind(fx.client.stubs.groups), { groupId: 'workers', topics: ['jobs'], memberId: 'zombie', memberEpoch: 1, offsetsEpoch: 1 }),
    ).rejects.toMatchObject({ code: 'UNKNOWN_MEMBER_ID' });
    await expect(
      call(fx.client.stubs.groups.fetchOffsets.bind(fx.client.stubs.groups), { groupId: 'workers', topics: ['jobs'], memberId, memberEpoch: 1, offsetsEpoch: 0 }),
    ).rejects.toMatchObject({ code: 'FENCED_MEMBER_EPOCH' });

    // The same member, still iterating, is handed every record again from offset zero.
    const replayed: string[] = [];
    while (replayed.length < RECORDS) replayed.push((await iterator.next()).value!.value!.toString());
    expect([...replayed].sort()).toEqual([...values].sort());
    await iterator.return?.(undefined);

    // The reset is on record in __consumer_offsets: who, when, old and new offsets.
    const history: Array<{ type: string; by?: string; previousOffset?: number; offset?: number }> = [];
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), 5_000);
    for await (const record of fx.client.consume('__consumer_offsets', { from: 'earliest', signal: controller.signal, maxWaitMs: 10 })) {
      history.push(JSON.parse(record.value!.toString()));
      if (history.filter((h) => h.type === 'reset').length === 2) break;
    }
    clearTimeout(timer);
    const resets = history.filter((h) => h.type === 'reset');
    expect(resets).toHaveLength(2);
    expect(resets.every((r) => r.by === 'tester@test' && r.offset === 0 && (r.previousOffset ?? 0) > 0)).toBe(true);
  }, 60_000);

  it('keeps committed offsets across a restart of the coordinator (rebuilt from __consumer_offsets)', async () => {
    const consumer = fx.client.consumer({ groupId: 'restart', topics: ['jobs'], fromBeginning: true });
    let count = 0;
    for await (const _ of consumer) {
      // The 60th is finished: count it before leaving the loop (a break alone would not).
      if (++count === 60) {
        await consumer.commit();
        break;
      }
    }
    const before = (await call(fx.client.stubs.admin.describeGroup.bind(fx.client.stubs.admin), { groupId: 'restart' })).lag.map((l) => l.committedOffset);
    // -1: no commit yet for a partition the member did not reach.
    expect(before.reduce((a, b) => a + Math.max(0, b), 0)).toBe(60);
    await fx.restart();
    const after = (await call(fx.client.stubs.admin.describeGroup.bind(fx.client.stubs.admin), { groupId: 'restart' })).lag.map((l) => l.committedOffset);
    expect(after).toEqual(before);
    // A member of the group resumes after the committed offsets: the remaining 40 records.
    const resumed = fx.client.consumer({ groupId: 'restart', topics: ['jobs'], fromBeginning: true });
    const rest: number[] = [];
    for await (const record of resumed) {
      rest.push(record.offset);
      if (rest.length === RECORDS - 60) break;
    }
    expect(rest).toHaveLength(RECORDS - 60);
  }, 60_000);

  it('hands out batches too, and commits a batch once the next one is asked for', async () => {
    const consumer = fx.client.consumer({ groupId: 'batched', topics: ['jobs'], fromBeginning: true });
    const offsets = new Set<string>();
    let batches = 0;
    for await (const batch of consumer.batches(30)) {
      expect(batch.length).toBeGreaterThan(0);
      expect(batch.length).toBeLessThanOrEqual(30);
      batches++;
      for (const r of batch) offsets.add(`${r.partition}/${r.offset}`);
      if (offsets.size === RECORDS) {
        await consumer.commit();
        break;
      }
    }
    expect(batches).toBeGreaterThan(RECORDS / 30);
    const lag = (await call(fx.client.stubs.admin.describeGroup.bind(fx.client.stubs.admin), { groupId: 'batched' })).lag;
    expect(lag.reduce((n, l) => n + l.lagRecords, 0)).toBe(0);
  }, 60_000);

  it('reads the record in hand again after the loop throws or breaks on it (at-least-once), and not what it finished', async () => {
    await fx.client.admin.createTopic('retry-jobs', { partitions: 1 });
    const producer = fx.client.producer();
    await producer.sendBatch('retry-jobs', Array.from({ length: 10 }, (_, i) => ({ value: `r${i}` })));
    await producer.close();
    const failing = fx.client.consumer({ groupId: 'redeliver', topics: ['retry-jobs'], fromBeginning: true });
    const seen: number[] = [];
    await expect(
      (async () => {
        for await (const record of failing) {
          seen.push(record.offset);
          if (record.offset === 4) throw new Error('processing failed');
        }
      })(),
    ).rejects.toThrow('processing failed');
    expect(seen).toEqual([0, 1, 2, 3, 4]);
    const committed = async () =>
      (await call(fx.client.stubs.admin.describeGroup.bind(fx.client.stubs.admin), { groupId: 'redeliver' })).lag.find((l) => l.topic === 'retry-jobs')!.committedOffset;
    expect(await committed()).toBe(4);
    // The next member starts at the failed record; it breaks on offset 6 without commit(): 6 is read again.
    const breaking = fx.client.consumer({ groupId: 'redeliver', topics: ['retry-jobs'], fromBeginning: true });
    const second: number[] = [];
    for await (const record of breaking) {
      second.push(record.offset);
      if (record.offset === 6) break;
    }
    expect(second).toEqual([4, 5, 6]);
    expect(await committed()).toBe(6);
    const third = fx.client.consumer({ groupId: 'redeliver', topics: ['retry-jobs'], fromBeginning: true });
    for await (const record of third) {
      expect(record.offset).toBe(6);
      break;
    }
  }, 60_000);

  for (const mode of ['records', 'batches'] as const) {
    it(`ends the iteration at close() from outside the loop: buffered records are not handed (${mode})`, async () => {
      const topic = `close-jobs-${mode}`;
      await fx.client.admin.createTopic(topic, { partitions: 1 });
      const producer = fx.client.producer();
      await producer.sendBatch(topic, Array.from({ length: 50 }, (_, i) => ({ value: `j${i}` })));
      await producer.close();
      const consumer = fx.client.consumer({ groupId: `closing-${mode}`, topics: [topic], fromBeginning: true });
      const handed: number[] = [];
      const iterable: AsyncIterable<unknown> = mode === 'records' ? consumer : consumer.batches(1);
      for await (const item of iterable) {
        const record = (Array.isArray(item) ? item[0] : item) as { offset: number };
        handed.push(record.offset);
        if (record.offset === 2) {
          // A signal handler closes the member while the loop is still working on offset 2 (the loop
          // goes on only once close() is done).
          await consumer.close();
        }
      }
      expect(handed).toEqual([0, 1, 2]);
      const lag = (await call(fx.client.stubs.admin.describeGroup.bind(fx.client.stubs.admin), { groupId: `closing-${mode}` })).lag;
      // 0 and 1 were finished; 2 was in hand: it is read again by the next member.
      expect(lag.map((l) => l.committedOffset)).toEqual([2]);
    }, 30_000);
  }

  it('hands nothing of a partition being revoked while its last commit is in flight', async () => {
    await fx.client.admin.createTopic('revoke-jobs', { partitions: 2 });
    const producer = fx.client.producer();
    const produce = (label: string) => producer.sendBatch('revoke-jobs', Array.from({ length: 20 }, (_, i) => ({ value: `${label}${i}`, partition: i % 2 })));
    await produce('before');
    const { clientA, clientB, closeAll } = twoMembersSetup();
    // No timer commits: the one commit held below must be the revocation's.
    // What each revocation A completes gave up: the first is the one whose commit is held below
    // (reconciliations run one at a time), whatever the coordinator decides afterwards.
    const revokedByA: number[][] = [];
    const a = clientA.consumer({
      groupId: 'revoking',
      topics: ['revoke-jobs'],
      fromBeginning: true,
      autoCommitIntervalMs: 3_600_000,
      onRevoked: (partitions) => {
        revokedByA.push(partitions.map((tp) => tp.partition));
      },
    });
    let b: ReturnType<StrataClient['consumer']> | undefined;
    let release = () => undefined as void;
    try {
      const records = a[Symbol.asyncIterator]();
      // A next() with a deadline; step(300) is a window in which a record may or may not come.
      const step = (timeoutMs: number) =>
        Promise.race([records.next().then((r) => (r.done ? undefined : r.value)), new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), timeoutMs))]);
      // A owns both partitions and has read all there is.
      for (let i = 0; i < 20; i++) expect(await step(5_000)).toBeDefined();
      // Hold A's next commit: the one its revocation makes.
      const groups = clientA.stubs.groups as unknown as { commitOffsets: (...args: unknown[]) => unknown };
      const commitOffsets = groups.commitOffsets.bind(groups);
      const released = new Promise<void>((resolve) => (release = resolve));
      let commitHeld!: () => void;
      const held = new Promise<void>((resolve) => (commitHeld = resolve));
      groups.commitOffsets = (...args: unknown[]) => {
        commitHeld();
        void released.then(() => commitOffsets(...args));
        return { cancel: () => undefined };
      };
      b = clientB.consumer({ groupId: 'revoking', topics: ['revoke-jobs'], fromBeginning: true });
      await held;
      // New records on both partitions while the commit is held: A is handed those of the partition
      // it keeps, none of the one it gives up.
      await produce('during');
      const duringRevocation: number[] = [];
      for (let i = 0; i < 20; i++) {
        const record = await step(300);
        if (record) duringRevocation.push(record.partition);
      }
      groups.commitOffsets = commitOffsets;
      release();
      await eventually(() => revokedByA.length > 0, { what: 'A to complete the revocation' });
      // Not A's assignment at the end: on a busy machine A may miss its session timeout while the
      // commit is held, rejoin, and be given the other partition.
      const revoked = revokedByA[0]!;
      expect(revoked).toHaveLength(1);
      expect(duringRevocation.length).toBeGreaterThan(0);
      expect(duringRevocation.filter((p) => p === revoked[0])).toEqual([]);
    } finally {
      // A failed expectation must not leave A's close() waiting for the held commit.
      release();
      await closeAll(producer, a, b);
    }
  }, 60_000);

  /** Variants below in which the partition in hand was the one that moved (the assignor decides which). */
  let movedWhileHeld = 0;
  for (const heldPartition of [0, 1]) {
    it(`never moves a commit backwards when the record in hand's partition is revoked and comes back (held: ${heldPartition})`, async () => {
      const topic = `comes-back-${heldPartition}`;
      await fx.client.admin.createTopic(topic, { partitions: 2 });
      const producer = fx.client.producer();
      await producer.send(topic, { value: 'held', partition: heldPartition });
      const { clientA, clientB, closeAll } = twoMembersSetup();
      const groupId = `comes-back-${heldPartition}`;
      const a = clientA.consumer({ groupId, topics: [topic], fromBeginning: true });
      let b: ReturnType<StrataClient['consumer']> | undefined;
      const waitFor = (what: string, done: () => boolean) => eventually(done, { what, timeoutMs: 15_000 });
      const committed = async () =>
        (await call(fx.client.stubs.admin.describeGroup.bind(fx.client.stubs.admin), { groupId })).lag.find((l) => l.partition === heldPartition)?.committedOffset ?? -1;
      try {
        const records = a[Symbol.asyncIterator]();
        // A holds offset 0 of heldPartition, unfinished.
        expect((await records.next()).value).toMatchObject({ partition: heldPartition, offset: 0 });
        b = clientB.consumer({ groupId, topics: [topic], fromBeginning: true });
        await waitFor('A gives up a partition', () => a.assignment().length === 1);
        // Only when the partition in hand is the one that moved is there anything to check.
        if (a.assignment()[0]!.partition !== heldPartition) {
          movedWhileHeld++;
          // B reads the moved partition from its committed offset: offset 0 again, then 5 more.
          await producer.sendBatch(topic, Array.from({ length: 5 }, (_, i) => ({ value: `more${i}`, partition: heldPartition })));
          let last = -1;
          for await (const record of b) {
            last = record.offset;
            if (last === 5) {
              await b.commit();
              break;
            }
          }
          expect(last).toBe(5);
          expect(await committed()).toBe(6);
          await waitFor('the partition comes back to A', () => a.assignment().length === 2);
          // A finishes the record it held before the partition left, and commits.
          void records.next();
          await a.commit();
          expect(await committed()).toBe(6);
        }
      } finally {
        await closeAll(producer, a, b);
      }
    }, 60_000);
  }

  it('hands nothing a revoked partition\'s fetcher read after the revocation began when the partition comes back', async () => {
    const topic = 'stale-lane';
    await fx.client.admin.createTopic(topic, { partitions: 2 });
    const producer = fx.client.producer();
    await producer.sendBatch(topic, Array.from({ length: 10 }, (_, i) => ({ value: `first${i}`, partition: i % 2 })));
    const { clientA, clientB, closeAll } = twoMembersSetup();
    const groupId = 'stale-lane';
    let releaseRevoke = () => undefined as void;
    let releaseAssign = () => undefined as void;
    const revokeHeld = new Promise<void>((resolve) => (releaseRevoke = resolve));
    const assignHeld = new Promise<void>((resolve) => (releaseAssign = resolve));
    const revokedByA: number[] = [];
    let assignedToA = 0;
    const a = clientA.consumer({
      groupId,
      topics: [topic],
      fromBeginning: true,
      autoCommitIntervalMs: 3_600_000,
      // The first revocation's hook and the comeback's onAssigned take their time, as a real hook may.
      onRevoked: async (partitions) => {
        revokedByA.push(...partitions.map((tp) => tp.partition));
        if (revokedByA.length === partitions.length) await revokeHeld;
      },
      onAssigned: async () => {
        if (++assignedToA === 2) await assignHeld;
      },
    });
    let b: ReturnType<StrataClient['consumer']> | undefined;
    const waitFor = (what: string, done: () => boolean) => eventually(done, { what, timeoutMs: 15_000 });
    try {
      const records = a[Symbol.asyncIterator]();
      // A next() with a deadline; step(300) is a window in which a record may or may not come.
      const step = (timeoutMs: number) =>
        Promise.race([records.next().then((r) => (r.done ? undefined : r.value)), new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), timeoutMs))]);
      for (let i = 0; i < 10; i++) expect(await step(5_000)).toBeDefined();
      await a.commit();
      b = clientB.consumer({ groupId, topics: [topic], fromBeginning: true, autoCommitIntervalMs: 3_600_000 });
      await waitFor('A starts revoking a partition', () => revokedByA.length === 1);
      const moved = revokedByA[0]!;
      // Written while A's revocation hook runs: B reads them, and commits past them.
      await producer.sendBatch(topic, Array.from({ length: 10 }, (_, i) => ({ value: `during${i}`, partition: moved })));
      let last = -1;
      for await (const record of b) {
        if (record.partition !== moved) continue;
        last = record.offset;
        if (last === 14) {
          await b.commit();
          break;
        }
      }
      expect(last).toBe(14);
      // B left: the partition goes back to A once A's revocation is done.
      releaseRevoke();
      await waitFor('the partition back to A', () => assignedToA === 2);
      // A hands out nothing of the moved partition below B's commit (15): B processed all of it.
      // One next() at a time, each awaited to the end (a next() left waiting would take a later record).
      const handed: Array<{ partition: number; offset: number }> = [];
      const pull = async () => {
        const record = (await records.next()).value;
        if (record) handed.push({ partition: record.partition, offset: record.offset });
      };
      let pulling = pull();
      // Not a race guard: a second in which A holds its comeback's onAssigned with a next() waiting,
      // when a fetcher that kept reading the revoked partition would hand its stale records.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      releaseAssign();
      await producer.send(topic, { value: 'after', partition: moved });
      while (!handed.some((r) => r.partition === moved && r.offset >= 15)) {
        await Promise.race([pulling, new Promise((_, reject) => setTimeout(() => reject(new Error(`no record of the moved partition from 15 on; handed ${JSON.stringify(handed)}`)), 10_000))]);
        pulling = pull();
      }
      expect(handed.filter((r) => r.partition === moved && r.offset < 15)).toEqual([]);
      expect(handed.find((r) => r.partition === moved)).toEqual({ partition: moved, offset: 15 });
    } finally {
      releaseRevoke();
      releaseAssign();
      await closeAll(producer, a, b);
    }
  }, 60_000);

  it('exercised the record-in-hand partition moving in one of the two variants above', () => {
    expect(movedWhileHeld).toBeGreaterThan(0);
  });

  it('bounds a heartbeat stream: heartbeats past the rate limit are refused, the member and others go on', async () => {
    const stream = fx.client.stubs.groups.groupHeartbeat();
    const answers: Array<{ memberId: string; failure: { code: string } | null }> = [];
    stream.on('data', (a: { memberId: string; failure: { code: string } | null }) => answers.push(a));
    stream.write({ groupId: 'spam', memberId: '', memberEpoch: 0, topics: ['jobs'], owned: [], instanceId: '', idleMs: 0 });
    for (let i = 0; i < 100; i++) stream.write({ groupId: 'spam', memberId: 'whoever', memberEpoch: 1, topics: ['jobs'], owned: [], instanceId: '', idleMs: 0 });
    // One answer per heartbeat (plus possibly a push after the group's first assignment).
    await eventually(() => answers.length >= 101, { what: 'an answer to each of the 101 heartbeats' });
    stream.end();
    expect(answers.filter((a) => a.failure?.code === 'TOO_MANY_REQUESTS').length).toBeGreaterThanOrEqual(100 - 20);
    // The server and other groups are unaffected.
    const list = await call(fx.client.stubs.admin.listGroups.bind(fx.client.stubs.admin), {});
    expect(list.groups.map((g) => g.groupId)).toContain('spam');
  });
});
