import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BatchTooLargeError, DataLossError, TooManyPendingAppendsError } from '../../src/core/errors.js';
import { MAX_QUEUE_ANSWERS_PER_REQUEST, MAX_QUEUE_DELAY_MS, MAX_QUEUE_IN_FLIGHT_PER_MEMBER } from '../../src/core/limits.js';
import { QueueHarness, type TestMember } from '../helpers/queue-harness.js';
import { DEAD_LETTER_PERMANENT_RETRY_MS } from '../../src/queues/queue-dead-letters.js';

let harness: QueueHarness;
afterEach(async () => harness?.coordinator.close());

async function setUp(recordCount: number): Promise<QueueHarness> {
  harness = new QueueHarness();
  harness.topics.create('orders', 1);
  await harness.start();
  if (recordCount > 0) harness.topics.partition('orders', 0).append(Array.from({ length: recordCount }, (_, i) => ({ value: `r${i}` })));
  return harness;
}

/** Everything an answer could change, to show that a refused one changed nothing. */
async function stateOf(): Promise<unknown> {
  return { description: await harness.coordinator.describeGroup('g'), changes: harness.journal.changes.length, letters: harness.deadLetters.letters.length };
}

describe('QueueCoordinator lock expiry and departures', () => {
  it('redelivers a record whose lock expired to another member, after its backoff', async () => {
    await setUp(1);
    const idle = await harness.join('g', ['orders'], { config: { lockDurationMs: 5_000 } });
    await harness.settle();
    expect(idle.held.size).toBe(1);
    const lockDeadlineMs = idle.heldRecords()[0]!.lockDeadlineMs;
    const worker = await harness.join('g', ['orders']);
    await harness.advanceUntil(() => worker.received.length > 0, 'the record reaches the second member');
    const [redelivered] = worker.received;
    expect(redelivered!.deliveryCount).toBe(2);
    // Lock end + the first backoff (1 s, jitter 20 %), to the 10 ms step.
    expect(redelivered!.receivedAtMs - lockDeadlineMs).toBeGreaterThanOrEqual(800);
    expect(redelivered!.receivedAtMs - lockDeadlineMs).toBeLessThanOrEqual(1_210);
    const late = await idle.answer(idle.heldRecords(), 'ack');
    expect(late[0]!.error?.code).toBe('QUEUE_RECORD_NOT_ACQUIRED');
    expect((await worker.answer(worker.heldRecords(), 'ack'))[0]!.error).toBeUndefined();
  });

  for (const how of ['leave', 'streamLost'] as const) {
    it(`releases what a member holds at once on ${how}, long before its lock would end`, async () => {
      await setUp(3);
      const first = await harness.join('g', ['orders'], { config: { lockDurationMs: 60_000 } });
      await harness.settle();
      expect(first.held.size).toBe(3);
      await harness.coordinator[how](first.memberId);
      const release = harness.journal.changes.at(-1)!;
      expect(release).toMatchObject({ type: 'release', offsets: [0, 1, 2] });
      const second = await harness.join('g', ['orders']);
      await harness.advanceUntil(() => second.received.length === 3, 'the records reach the next member', 10, 2_000);
      expect(second.received.every((r) => r.deliveryCount === 2)).toBe(true);
      await expect(harness.coordinator.answer(first.memberId, [{ topic: 'orders', partition: 0, offset: 0, type: 'ack' }])).rejects.toMatchObject({ code: 'UNKNOWN_MEMBER_ID' });
      await harness.coordinator[how](first.memberId); // twice: nothing
    });
  }

  it('after a restart, locks held before it run to their deadline; acknowledged records never come back', async () => {
    await setUp(4);
    const before = await harness.join('g', ['orders'], { config: { lockDurationMs: 10_000 } });
    await harness.settle();
    const [done, ...held] = before.heldRecords();
    await before.answer([done!], 'ack');
    const lockDeadlineMs = held[0]!.lockDeadlineMs;
    await harness.restart();
    const after = await harness.join('g', ['orders']);
    await harness.advanceUntil(() => after.received.length === 3, 'the held records come back', 100);
    expect(after.received.map((r) => r.offset).sort()).toEqual([1, 2, 3]); // in the order their jittered backoffs end
    expect(Math.min(...after.received.map((r) => r.receivedAtMs))).toBeGreaterThanOrEqual(lockDeadlineMs);
    expect(after.received.every((r) => r.deliveryCount === 2)).toBe(true);
  });

  it('extends a held lock so it does not expire, and refuses to extend one it does not hold', async () => {
    await setUp(2);
    const member = await harness.join('g', ['orders'], { config: { lockDurationMs: 1_000 } });
    await harness.settle();
    harness.clock.advance(900);
    const [first, second] = member.heldRecords();
    const results = await harness.coordinator.extendLocks(member.memberId, [first!, { topic: 'orders', partition: 0, offset: 9 }], 5_000);
    expect(results[0]!.lockDeadlineMs).toBe(harness.clock.nowMs() + 5_000);
    expect(results[1]!.error?.code).toBe('QUEUE_RECORD_NOT_ACQUIRED');
    harness.clock.advance(200);
    await harness.settle();
    expect((await member.answer([second!], 'ack'))[0]!.error?.code).toBe('QUEUE_RECORD_NOT_ACQUIRED');
    expect((await member.answer([first!], 'ack'))[0]!.error).toBeUndefined();
    await expect(harness.coordinator.extendLocks(member.memberId, [], -1)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(harness.coordinator.extendLocks(member.memberId, [], MAX_QUEUE_DELAY_MS + 1)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});

describe('QueueCoordinator bad input: a typed error, nothing changed', () => {
  let a: TestMember;
  let b: TestMember;

  async function twoMembers(): Promise<void> {
    await setUp(4);
    a = await harness.join('g', ['orders'], { inFlightLimit: 2 });
    b = await harness.join('g', ['orders'], { inFlightLimit: 2 });
    await harness.settle();
    expect(a.held.size + b.held.size).toBe(4);
  }

  const ref = (offset: number) => ({ topic: 'orders', partition: 0, offset });

  it('per answer: unknown record, already acked, another member\'s, expired lock, bad delay; the other answers apply', async () => {
    await twoMembers();
    const [a0, a1] = a.heldRecords();
    const [b0] = b.heldRecords();
    await a.answer([a0!], 'ack');
    await harness.settle();
    const before = await stateOf();
    const results = await harness.coordinator.answer(a.memberId, [
      { ...ref(99), type: 'ack' },
      { ...ref(a0!.offset), type: 'ack' },
      { ...ref(b0!.offset), type: 'ack' },
      { ...ref(a1!.offset), type: 'release', delayMs: -1 },
      { ...ref(a1!.offset), type: 'release', delayMs: MAX_QUEUE_DELAY_MS + 1 },
      { topic: 'nope', partition: 0, offset: 0, type: 'ack' },
    ]);
    expect(results.map((r) => r.error?.code)).toEqual([
      'QUEUE_RECORD_NOT_ACQUIRED', 'QUEUE_RECORD_NOT_ACQUIRED', 'QUEUE_RECORD_NOT_ACQUIRED', 'INVALID_ARGUMENT', 'QUEUE_RECORD_NOT_ACQUIRED', 'QUEUE_RECORD_NOT_ACQUIRED',
    ]);
    // The second release of a1 is refused as named twice, whatever its delay.
    expect(results[4]!.error?.message).toMatch(/twice/);
    expect(await stateOf()).toEqual(before);
  });

  it('an answer after the lock expired is refused', async () => {
    await twoMembers();
    harness.clock.advance(30_000);
    await harness.settle();
    const before = await stateOf();
    const results = await a.answer(a.heldRecords(), 'ack');
    expect(results.map((r) => r.error?.code)).toEqual(['QUEUE_RECORD_NOT_ACQUIRED', 'QUEUE_RECORD_NOT_ACQUIRED']);
    expect(await stateOf()).toEqual(before);
  });

  it('whole requests: unknown member, too many answers', async () => {
    await twoMembers();
    const before = await stateOf();
    await expect(harness.coordinator.answer('q-nobody', [{ ...ref(0), type: 'ack' }])).rejects.toMatchObject({ code: 'UNKNOWN_MEMBER_ID' });
    const tooMany = Array.from({ length: MAX_QUEUE_ANSWERS_PER_REQUEST + 1 }, () => ({ ...ref(0), type: 'ack' as const }));
    await expect(harness.coordinator.answer(a.memberId, tooMany)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(harness.coordinator.extendLocks('q-nobody', [ref(0)], 0)).rejects.toMatchObject({ code: 'UNKNOWN_MEMBER_ID' });
    expect(await stateOf()).toEqual(before);
    // Both members still work.
    expect((await a.answer(a.heldRecords(), 'ack')).every((r) => !r.error)).toBe(true);
  });

  it('joins: bad in-flight limit, unknown topic, internal topic, bad group id, config differing from the group\'s', async () => {
    await twoMembers();
    const before = await stateOf();
    const join = (overrides: object) => harness.coordinator.join({ groupId: 'g', topics: ['orders'], inFlightLimit: 1, clientId: 'c', deliver: () => true, ...overrides });
    await expect(join({ inFlightLimit: -1 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(join({ inFlightLimit: MAX_QUEUE_IN_FLIGHT_PER_MEMBER + 1 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(join({ inFlightLimit: 1.5 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(join({ topics: ['missing'] })).rejects.toMatchObject({ code: 'TOPIC_NOT_FOUND' });
    await expect(join({ topics: ['__queue_state'] })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(join({ topics: [] })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(join({ groupId: 'bad id!' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(join({ config: { lockDurationMs: 1_234 } })).rejects.toThrow(/lockDurationMs 1234 \(the group has 30000\)/);
    await expect(join({ config: { backoffJitter: 1 } })).rejects.toThrow(/backoffJitter/);
    expect(await stateOf()).toEqual(before);
    expect((await harness.coordinator.describeGroup('g')).members.length).toBe(2);
  });

  it('admin: reset and delete refused while the group has members; unknown groups', async () => {
    await twoMembers();
    const before = await stateOf();
    await expect(harness.coordinator.reset('g', 'orders', { point: 'earliest' })).rejects.toMatchObject({ code: 'QUEUE_GROUP_NOT_EMPTY' });
    await expect(harness.coordinator.deleteGroup('g')).rejects.toMatchObject({ code: 'QUEUE_GROUP_NOT_EMPTY' });
    await expect(harness.coordinator.describeGroup('other')).rejects.toMatchObject({ code: 'QUEUE_GROUP_NOT_FOUND' });
    await expect(harness.coordinator.alterConfig('g', { maxDeliveryAttempts: 0 })).rejects.toThrow(/maxDeliveryAttempts/);
    expect(await stateOf()).toEqual(before);
  });

  it('a failed journal append fails the answer and fences the group until a restart, which rebuilds what was durable', async () => {
    await twoMembers();
    const durable = harness.journal.changes.length;
    harness.journal.failWith = new Error('fsync failed');
    await expect(a.answer(a.heldRecords(), 'ack')).rejects.toMatchObject({ code: 'STORAGE_FAILED' });
    await expect(harness.coordinator.answer(b.memberId, [])).rejects.toMatchObject({ code: 'STORAGE_FAILED' });
    expect(harness.journal.changes.length).toBe(durable);
    harness.journal.failWith = undefined;
    await harness.restart();
    const description = await harness.coordinator.describeGroup('g');
    expect(description.total).toMatchObject({ depth: 4, inFlight: 4 });
  });

  it('a journal that refuses an append as retriable (its queue full) still fences the group, and what the group refuses until a restart is not retriable', async () => {
    await twoMembers();
    harness.journal.failWith = new TooManyPendingAppendsError('the state log queue is full');
    await expect(a.answer(a.heldRecords(), 'ack')).rejects.toMatchObject({ code: 'TOO_MANY_PENDING_APPENDS', retriable: true });
    harness.journal.failWith = undefined;
    // Memory is ahead of the log: retrying cannot succeed before a restart, so it must not say "retry".
    await expect(a.answer(a.heldRecords(), 'ack')).rejects.toMatchObject({ code: 'STORAGE_FAILED', retriable: false });
    await expect(harness.join('g', ['orders'])).rejects.toMatchObject({ code: 'STORAGE_FAILED', retriable: false });
  });

  it('a fenced group gives compaction no snapshot (its memory holds changes the journal refused), so the log keeps what was durable', async () => {
    await twoMembers();
    harness.journal.failWith = new Error('fsync failed');
    await expect(a.answer(a.heldRecords(), 'ack')).rejects.toMatchObject({ code: 'STORAGE_FAILED' });
    harness.journal.failWith = undefined;
    const durable = [...harness.journal.changes];
    // A snapshot now would write the refused acks after all: compaction must fail instead (and try again later).
    expect(() => harness.journal.compact()).toThrow(/could not be made durable|fsync failed/);
    expect(harness.journal.changes).toEqual(durable);
    await harness.restart();
    expect((await harness.coordinator.describeGroup('g')).total).toMatchObject({ depth: 4, inFlight: 4 });
  });

  it('a group whose state replay found damaged refuses joins and admin calls with DATA_LOSS and expires nothing; other groups work', async () => {
    await twoMembers();
    await harness.join('other', ['orders']);
    const damage = new DataLossError('__queue_state', 3, 10, 10, 'segment', 0, 'test damage');
    harness.journal.damaged.set('g', damage);
    const changesOfG = () => harness.journal.changes.filter((c) => c.groupId === 'g').length;
    const before = changesOfG();
    await harness.restart();
    harness.clock.advance(60_000);
    await harness.settle();
    expect(changesOfG()).toBe(before); // its locks were not expired
    await expect(harness.join('g', ['orders'])).rejects.toBe(damage);
    await expect(harness.coordinator.describeGroup('g')).rejects.toBe(damage);
    await expect(harness.coordinator.deleteGroup('g')).rejects.toBe(damage);
    expect((await harness.coordinator.describeGroup('other')).groupId).toBe('other');
  });
});

describe('QueueCoordinator close with a dead letter under way', () => {
  /** Opens the dead-letter writer's gate once close() has begun, and waits for close. */
  async function closeWhileDeadLettering(open: () => void): Promise<void> {
    const closed = harness.coordinator.close();
    await harness.settle();
    open();
    await closed;
  }

  it('an expired record at its delivery limit: close waits for the dead letter and writes its archive, so a restart neither redelivers nor dead-letters it again', async () => {
    await setUp(1);
    const member = await harness.join('g', ['orders'], { config: { maxDeliveryAttempts: 1, lockDurationMs: 1_000 } });
    await harness.settle();
    expect(member.held.size).toBe(1);
    let open!: () => void;
    harness.deadLetters.gate = new Promise<void>((resolve) => (open = resolve));
    harness.clock.advance(1_000);
    await harness.settle();
    expect(harness.deadLetters.letters).toHaveLength(0); // waiting at the gate
    await closeWhileDeadLettering(open);
    expect(harness.deadLetters.letters).toHaveLength(1);
    expect(harness.journal.changes.filter((c) => c.type === 'archive')).toMatchObject([{ offsets: [0], cause: 'max-delivery-attempts' }]);
    await harness.start();
    const after = await harness.join('g', ['orders']);
    harness.clock.advance(60_000);
    await harness.settle();
    expect(after.received).toHaveLength(0);
    expect(harness.deadLetters.letters).toHaveLength(1);
    expect((await harness.coordinator.describeGroup('g')).partitions[0]!.startOffset).toBe(1);
  });

  it('a reject answered while close runs is answered only once its archive is durable', async () => {
    await setUp(1);
    const member = await harness.join('g', ['orders'], { config: { lockDurationMs: 1_000 } });
    await harness.settle();
    let open!: () => void;
    harness.deadLetters.gate = new Promise<void>((resolve) => (open = resolve));
    const answered = member.answer(member.heldRecords(), 'reject', { reason: 'bad' });
    await harness.settle();
    await closeWhileDeadLettering(open);
    const [result] = await answered;
    expect(result!.error).toBeUndefined();
    expect(harness.journal.changes.filter((c) => c.type === 'archive')).toMatchObject([{ offsets: [0], cause: 'rejected' }]);
    await harness.start();
    const after = await harness.join('g', ['orders']);
    harness.clock.advance(60_000);
    await harness.settle();
    expect(after.received).toHaveLength(0);
  });
});

describe('QueueCoordinator dead letters that can never be written', () => {
  let hugeTries = 0;
  beforeEach(() => {
    hugeTries = 0;
  });
  /** Letters whose value is 'huge' fail as too large for the dead-letter topic; the others before them in a call land. */
  function refuseHugeLetters(): string[] {
    const landed: string[] = [];
    const append = harness.deadLetters.append.bind(harness.deadLetters);
    harness.deadLetters.append = async (topic, sourcePartitionCount, letters) => {
      for (const letter of letters) {
        if (letter.value?.toString() === 'huge') {
          hugeTries++;
          throw new BatchTooLargeError(2_000_000, 1_048_576, 'a letter larger than the dead-letter topic takes');
        }
        await append(topic, sourcePartitionCount, [letter]);
        landed.push(letter.value!.toString());
      }
    };
    return landed;
  }

  it('a letter too large for the dead-letter topic fails alone: the records dead-lettered with it land once and are archived', async () => {
    await setUp(0);
    const landed = refuseHugeLetters();
    harness.topics.partition('orders', 0).append([{ value: 'ok' }, { value: 'huge' }, { value: 'fine' }]);
    const member = await harness.join('g', ['orders'], { config: { maxDeliveryAttempts: 1, lockDurationMs: 1_000 } });
    await harness.settle();
    expect(member.held.size).toBe(3);
    // The three locks expire together: one dead-letter run, then its retries every second.
    for (let i = 0; i < 10; i++) {
      harness.clock.advance(1_000);
      await harness.settle();
    }
    // 'ok' was written by the failed run, then once more alone (a duplicate, as after a crash); no more.
    expect(landed.sort()).toEqual(['fine', 'ok', 'ok']);
    expect(harness.journal.changes.filter((c) => c.type === 'archive').flatMap((c) => (c.type === 'archive' ? c.offsets : [])).sort()).toEqual([0, 2]);
    // A failure that cannot pass by itself (not retriable) is tried again a minute later, not every second.
    expect(hugeTries).toBe(2);
    harness.clock.advance(DEAD_LETTER_PERMANENT_RETRY_MS);
    await harness.settle();
    expect(hugeTries).toBe(3);
  });

  it('rejects answered together: the one too large fails, the others succeed', async () => {
    await setUp(0);
    refuseHugeLetters();
    harness.topics.partition('orders', 0).append([{ value: 'huge' }, { value: 'ok' }]);
    const member = await harness.join('g', ['orders']);
    await harness.settle();
    const results = await member.answer(member.heldRecords(), 'reject', { reason: 'bad' });
    expect(results.map((r) => [r.offset, r.error?.code])).toEqual([[0, 'BATCH_TOO_LARGE'], [1, undefined]]);
    expect(harness.deadLetters.letters.map(({ letter }) => letter.value?.toString())).toEqual(['ok']);
  });
});

describe('QueueCoordinator replay after a compaction cut', () => {
  it('starts when the records kept before the snapshot (the segment it began in) alter the group\'s config and then change a partition whose creation was cut', async () => {
    await setUp(4);
    const member = await harness.join('g', ['orders'], { config: { lockDurationMs: 10_000 } });
    await harness.settle();
    expect(member.held.size).toBe(4);
    // Everything so far is in segments wholly below the snapshot: compaction deletes them.
    const cutAt = harness.journal.changes.length;
    await harness.coordinator.alterConfig('g', { lockDurationMs: 20_000 });
    await member.answer(member.heldRecords().slice(0, 1), 'ack');
    const live = await harness.coordinator.describeGroup('g');
    // What replay then reads: the rest of the segment the snapshot began in, then the snapshot.
    const kept = harness.journal.changes.slice(cutAt);
    expect(kept.map((c) => c.type)).toEqual(['config', 'ack']);
    harness.journal.compact();
    harness.journal.changes.unshift(...kept);
    await harness.restart();
    const rebuilt = await harness.coordinator.describeGroup('g');
    expect(rebuilt.config).toEqual(live.config);
    expect(rebuilt.partitions.map((p) => [p.startOffset, p.depth.inFlight])).toEqual(live.partitions.map((p) => [p.startOffset, p.depth.inFlight]));
  });
});

describe('QueueCoordinator.progressOf (what retention after acknowledgement sees)', () => {
  it('gives a reading group its start offset, undefined before it has state there, and undefined once the group is failed', async () => {
    await setUp(3);
    expect(harness.coordinator.progressOf('orders', 0)).toEqual([]);
    const member = await harness.join('g', ['orders']);
    // Subscribed, before any state in the partition: nothing counts as done.
    expect(harness.coordinator.progressOf('orders', 0)).toEqual([{ groupId: 'g', startOffset: expect.toBeOneOf([undefined, 0]) }]);
    await harness.settle();
    expect(await member.answer(member.heldRecords().slice(0, 2), 'ack')).toHaveLength(2);
    expect(harness.coordinator.progressOf('orders', 0)).toEqual([{ groupId: 'g', startOffset: 2 }]);
    expect(harness.coordinator.progressOf('other', 0)).toEqual([]);

    harness.journal.failWith = new TooManyPendingAppendsError('the journal refuses');
    await member.answer(member.heldRecords(), 'ack').catch(() => undefined);
    // Memory may be ahead of what is durable: its progress is unknown until a restart.
    expect(harness.coordinator.progressOf('orders', 0)).toEqual([{ groupId: 'g', startOffset: undefined }]);
  });
});
