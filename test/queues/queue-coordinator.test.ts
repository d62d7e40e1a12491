import { afterEach, describe, expect, it } from 'vitest';
import { DEAD_LETTER_HEADERS } from '../../src/core/dead-letter-headers.js';
import { MAX_QUEUE_TRACKED_RECORDS_PER_PARTITION, QUEUE_DEFAULT_IN_FLIGHT } from '../../src/core/limits.js';
import { header } from '../helpers/fake-queue-topics.js';
import { QueueHarness, type TestMember } from '../helpers/queue-harness.js';

let harness: QueueHarness;
afterEach(async () => harness?.coordinator.close());

async function setUp(partitions = 1): Promise<QueueHarness> {
  harness = new QueueHarness();
  harness.topics.create('orders', partitions);
  await harness.start();
  return harness;
}

function appendValues(partition: number, values: string[], keys?: Array<string | null>): void {
  harness.topics.partition('orders', partition).append(values.map((value, i) => ({ value, key: keys?.[i] ?? null })));
}

describe('QueueCoordinator deliveries', () => {
  it('spreads one partition over two members, each up to its in-flight limit, and each ack frees a place', async () => {
    await setUp();
    appendValues(0, Array.from({ length: 50 }, (_, i) => `r${i}`));
    const a = await harness.join('g', ['orders'], { inFlightLimit: 10 });
    const b = await harness.join('g', ['orders'], { inFlightLimit: 10 });
    await harness.settle();
    expect(a.held.size).toBe(10);
    expect(b.held.size).toBe(10);
    const offsets = [...a.held.values(), ...b.held.values()].map((r) => r.offset).sort((x, y) => x - y);
    expect(new Set(offsets).size).toBe(20);
    const results = await a.answer(a.heldRecords().slice(0, 3), 'ack');
    expect(results.every((r) => r.error === undefined)).toBe(true);
    await harness.settle();
    expect(a.held.size).toBe(10);
    expect(a.received.length).toBe(13);
    expect(a.received.every((r) => r.deliveryCount === 1)).toBe(true);
  });

  it('takes new records when the high watermark moves, and round robins over partitions, a member\'s places filled from one partition at a time', async () => {
    await setUp(3);
    const waiting = await harness.join('g', ['orders'], { inFlightLimit: 6 });
    await harness.settle();
    expect(waiting.received).toEqual([]);
    appendValues(1, ['new']);
    await harness.settle();
    expect(waiting.received.map((r) => r.value)).toEqual(['new']);
    await harness.coordinator.leave(waiting.memberId);
    // Released by the leave: back after its backoff.
    harness.clock.advance(2_000);
    for (let p = 0; p < 3; p++) appendValues(p, Array.from({ length: 12 }, (_, i) => `v${i}`));
    const member = await harness.join('g', ['orders'], { inFlightLimit: 6 });
    // Each run fills the member's 6 places from one partition (one delivery, not three thin ones),
    // and the next run starts at the next partition.
    const partitionsPerRun: number[][] = [];
    for (let run = 0; run < 6; run++) {
      await harness.settle();
      const held = member.heldRecords();
      partitionsPerRun.push([...new Set(held.map((r) => r.partition))]);
      expect(held.length).toBe(6);
      await member.answer(held, 'ack');
    }
    expect(partitionsPerRun.every((partitions) => partitions.length === 1)).toBe(true);
    const first = partitionsPerRun[0]![0]!;
    expect(partitionsPerRun.map((partitions) => partitions[0])).toEqual([0, 1, 2, 3, 4, 5].map((run) => (first + run) % 3));
  });

  it('uses the default in-flight limit for 0', async () => {
    await setUp();
    appendValues(0, Array.from({ length: QUEUE_DEFAULT_IN_FLIGHT + 20 }, (_, i) => `r${i}`));
    const member = await harness.join('g', ['orders'], { inFlightLimit: 0 });
    await harness.settle();
    expect(member.held.size).toBe(QUEUE_DEFAULT_IN_FLIGHT);
  });

  it('stops delivering to a member whose deliver() returned false until setDeliveryReady(true)', async () => {
    await setUp(2);
    appendValues(0, ['a', 'b', 'c']);
    const member = await harness.join('g', ['orders'], { inFlightLimit: 1 });
    member.isWritable = false;
    await harness.settle();
    expect(member.deliveries.length).toBe(1);
    await member.answer(member.heldRecords(), 'ack');
    appendValues(1, ['x']);
    await harness.settle();
    expect(member.deliveries.length).toBe(1);
    member.isWritable = true;
    harness.coordinator.setDeliveryReady(member.memberId, true);
    await harness.settle();
    expect(member.deliveries.length).toBe(2);
  });

  it('hands records out once under at-most-once, acknowledged as they go', async () => {
    await setUp();
    appendValues(0, Array.from({ length: 30 }, (_, i) => `r${i}`));
    const member = await harness.join('g', ['orders'], { inFlightLimit: 7, config: { delivery: 'at-most-once' } });
    await harness.settle();
    expect(member.received.map((r) => r.offset)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    expect(member.received.every((r) => r.lockDeadlineMs === 0 && r.deliveryCount === 1)).toBe(true);
    const description = await harness.coordinator.describeGroup('g');
    expect(description.partitions[0]!.startOffset).toBe(30);
    expect(description.total.depth).toBe(0);
  });
});

describe('QueueCoordinator retries and dead letters', () => {
  /** Acks everything but the poison record, which it releases with `reason`; returns the poison's delivery times. */
  async function runPoison(member: TestMember, poisonValue: string): Promise<number[]> {
    const times: number[] = [];
    await harness.advanceUntil(() => {
      for (const record of member.heldRecords()) {
        if (record.value === poisonValue) {
          times.push(harness.clock.nowMs());
          void member.answer([record], 'release', { reason: `boom ${record.deliveryCount}` });
        } else {
          void member.answer([record], 'ack');
        }
      }
      return harness.deadLetters.letters.length > 0;
    }, 'the poison record is dead-lettered', 5);
    return times;
  }

  it('dead-letters a poison record after exactly maxDeliveryAttempts deliveries, 1 s x 2^n apart within the jitter, while later records flow', async () => {
    await setUp();
    appendValues(0, ['poison', ...Array.from({ length: 9 }, (_, i) => `ok${i}`)]);
    const member = await harness.join('g', ['orders'], { inFlightLimit: 4 });
    const times = await runPoison(member, 'poison');
    expect(times.length).toBe(5);
    const poisonDeliveries = member.received.filter((r) => r.value === 'poison');
    expect(poisonDeliveries.map((r) => r.deliveryCount)).toEqual([1, 2, 3, 4, 5]);
    for (let n = 1; n < times.length; n++) {
      const delayMs = times[n]! - times[n - 1]!;
      const baseMs = 1_000 * 2 ** (n - 1);
      expect(delayMs).toBeGreaterThanOrEqual(baseMs * 0.8);
      expect(delayMs).toBeLessThanOrEqual(baseMs * 1.2 + 5);
    }
    // Every other record went out (and was acked) before the poison's second delivery.
    const okTimes = member.received.filter((r) => r.value.startsWith('ok')).map((r) => r.receivedAtMs);
    expect(okTimes.length).toBe(9);
    expect(Math.max(...okTimes)).toBeLessThan(times[1]!);
    const { topic, letter } = harness.deadLetters.letters[0]!;
    expect(topic).toBe('orders.dlq');
    expect(letter.value?.toString()).toBe('poison');
    expect(header(letter, DEAD_LETTER_HEADERS.attempts)).toBe('5');
    expect(header(letter, DEAD_LETTER_HEADERS.cause)).toBe('max-delivery-attempts');
    expect(header(letter, DEAD_LETTER_HEADERS.error)).toBe('boom 5');
    expect(header(letter, DEAD_LETTER_HEADERS.sourceOffset)).toBe('0');
    expect(header(letter, DEAD_LETTER_HEADERS.group)).toBe('g');
    await harness.settle();
    const description = await harness.coordinator.describeGroup('g');
    expect(description.partitions[0]).toMatchObject({ startOffset: 10, depth: { depth: 0, deadLettered: 1, redeliveries: 4, deadLetterDepth: 1 } });
  });

  it('in key order, holds back only the poison key: other keys flow, its later records wait and keep their order', async () => {
    await setUp();
    appendValues(0, ['poison', 'a1', 'b0', 'a2', 'b1', 'c0'], ['A', 'A', 'B', 'A', 'B', null]);
    const member = await harness.join('g', ['orders'], { inFlightLimit: 10, config: { ordering: 'key' } });
    await harness.settle();
    // Only the first record of each key, and the keyless one.
    expect(member.heldRecords().map((r) => r.value)).toEqual(['poison', 'b0', 'c0']);
    const times = await runPoison(member, 'poison');
    expect(times.length).toBe(5);
    await harness.settle();
    for (const r of member.heldRecords()) await member.answer([r], 'ack');
    await harness.settle();
    for (const r of member.heldRecords()) await member.answer([r], 'ack');
    await harness.settle();
    const order = member.received.map((r) => r.value);
    expect(order.filter((v) => v.startsWith('b'))).toEqual(['b0', 'b1']);
    expect(order.indexOf('b1')).toBeLessThan(order.lastIndexOf('poison'));
    expect(order.indexOf('a1')).toBeGreaterThan(order.lastIndexOf('poison'));
    expect(order.indexOf('a2')).toBeGreaterThan(order.indexOf('a1'));
    const description = await harness.coordinator.describeGroup('g');
    expect(description.partitions[0]!.startOffset).toBe(6);
  });

  it('in key order, a record that expires at its delivery limit is dead-lettered by the timer, and its key\'s next record goes out', async () => {
    await setUp();
    appendValues(0, ['hung', 'next'], ['K', 'K']);
    const member = await harness.join('g', ['orders'], { config: { ordering: 'key', maxDeliveryAttempts: 1, lockDurationMs: 1_000 } });
    await harness.settle();
    expect(member.heldRecords().map((r) => r.value)).toEqual(['hung']);
    await harness.advanceUntil(() => member.received.some((r) => r.value === 'next'), 'the next record of the key goes out', 100, 5_000);
    expect(harness.deadLetters.letters.map(({ letter }) => letter.value?.toString())).toEqual(['hung']);
  });

  it('dead-letters a rejected record at once with its reason', async () => {
    await setUp();
    appendValues(0, ['bad', 'good']);
    const member = await harness.join('g', ['orders']);
    await harness.settle();
    const [bad, good] = member.heldRecords();
    const results = await member.answer([bad!], 'reject', { reason: 'cannot parse' });
    expect(results[0]!.error).toBeUndefined();
    expect(harness.deadLetters.letters.length).toBe(1);
    expect(header(harness.deadLetters.letters[0]!.letter, DEAD_LETTER_HEADERS.cause)).toBe('rejected');
    expect(header(harness.deadLetters.letters[0]!.letter, DEAD_LETTER_HEADERS.error)).toBe('cannot parse');
    expect(header(harness.deadLetters.letters[0]!.letter, DEAD_LETTER_HEADERS.attempts)).toBe('1');
    await member.answer([good!], 'ack');
    expect((await harness.coordinator.describeGroup('g')).partitions[0]!.startOffset).toBe(2);
  });

  it('a failed dead-letter append leaves the record held and archives nothing; the reject can be sent again', async () => {
    await setUp();
    appendValues(0, ['bad']);
    const member = await harness.join('g', ['orders']);
    await harness.settle();
    harness.deadLetters.failWith = new Error('disk on fire');
    const [bad] = member.heldRecords();
    const first = await member.answer([bad!], 'reject', { reason: 'x' });
    expect(first[0]!.error?.code).toBe('STORAGE_FAILED');
    expect(harness.journal.changes.some((c) => c.type === 'archive')).toBe(false);
    harness.deadLetters.failWith = undefined;
    const second = await member.answer([bad!], 'reject', { reason: 'x' });
    expect(second[0]!.error).toBeUndefined();
    expect(harness.deadLetters.letters.length).toBe(1);
  });
});

describe('QueueCoordinator bounds', () => {
  it('tracks at most MAX_QUEUE_TRACKED_RECORDS_PER_PARTITION records of a partition, whatever the members could take', async () => {
    await setUp();
    for (let i = 0; i < 30; i++) appendValues(0, Array.from({ length: 100 }, (_, j) => `r${i * 100 + j}`));
    const member = await harness.join('g', ['orders'], { inFlightLimit: 10_000 });
    await harness.settle();
    expect(member.held.size).toBe(MAX_QUEUE_TRACKED_RECORDS_PER_PARTITION);
    // Acks at the bottom move the start, and the window with it.
    await member.answer(member.heldRecords().slice(0, 500), 'ack');
    await harness.settle();
    expect(member.held.size).toBe(MAX_QUEUE_TRACKED_RECORDS_PER_PARTITION);
    expect(member.received.length).toBe(MAX_QUEUE_TRACKED_RECORDS_PER_PARTITION + 500);
    // Acks above an unanswered record do not: its window is full until the bottom is answered.
    await member.answer(member.heldRecords().slice(1, 101), 'ack');
    await harness.settle();
    expect(member.received.length).toBe(MAX_QUEUE_TRACKED_RECORDS_PER_PARTITION + 500);
  });

  it('drops a member whose deliver() throws, and releases what it held at once', async () => {
    await setUp();
    appendValues(0, ['a']);
    const member = await harness.coordinator.join({ groupId: 'g', topics: ['orders'], inFlightLimit: 1, clientId: 'c', deliver: () => { throw new Error('stream gone'); } });
    await harness.settle();
    expect(harness.coordinator.listGroups()[0]!.memberCount).toBe(0);
    expect(harness.journal.changes.at(-1)).toMatchObject({ type: 'release', offsets: [0] });
    await expect(harness.coordinator.answer(member.memberId, [])).rejects.toMatchObject({ code: 'UNKNOWN_MEMBER_ID' });
  });
});
