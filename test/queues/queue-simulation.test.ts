import { describe, expect, it } from 'vitest';
import { DEAD_LETTER_HEADERS } from '../../src/core/dead-letter-headers.js';
import type { QueueAnswer } from '../../src/queues/queue-coordinator-api.js';
import type { QueueGroupConfig } from '../../src/queues/queue-group-config.js';
import { header } from '../helpers/fake-queue-topics.js';
import { type HeldRecord, QueueHarness, refKey, type TestMember } from '../helpers/queue-harness.js';
import { SeededRandom, seedsFromEnv } from '../helpers/seeded-random.js';

/**
 * Deterministic simulation of one queue group: simulated members join, answer (ack, release with or
 * without a delay, reject), go silent (their locks expire), leave, lose their streams; records keep
 * arriving, some of them poison (always released); the clock jumps; the coordinator restarts from its
 * journal (sometimes compacted first). After every step the invariants hold; at the end a fault-free
 * drain, then every record is acknowledged or dead-lettered exactly once. Replay a failure with
 * STRATA_SEED=<seed> (the failing seed is in the assertion message).
 */

const TOPIC = 'jobs';
const PARTITIONS = 3;
const STEPS = 300;
const KEYS = ['a', 'b', 'c', 'd', 'e'];

interface Lock {
  memberId: string;
  deadlineMs: number;
  deliveryCount: number;
}

class Simulation {
  readonly harness: QueueHarness;
  readonly random: SeededRandom;
  readonly members: TestMember[] = [];
  readonly limits = new Map<string, number>();
  /** Per record, the unanswered lock the simulation knows of (from deliveries), for "acquired by at most one". */
  readonly locks = new Map<string, Lock>();
  readonly ackedCount = new Map<string, number>();
  readonly poison = new Set<string>();
  /** Event sequence numbers, for key order: when each record was delivered and when it became done. */
  readonly deliveredAt = new Map<string, number[]>();
  readonly doneAt = new Map<string, number>();
  readonly keyOf = new Map<string, string | null>();
  readonly startOffsets = new Map<number, number>();
  /** Released records (by an answer or a departure): not to go out again before this (its delay, or the backoff's low end). */
  readonly notBefore = new Map<string, number>();
  sequence = 0;
  recordCount = 0;
  private seenDeliveries = new Map<TestMember, number>();
  private seenLetters = 0;

  constructor(
    readonly seed: number,
    readonly config: Partial<QueueGroupConfig>,
  ) {
    this.harness = new QueueHarness({ seed, startMs: 10_000_000 });
    this.random = new SeededRandom(seed ^ 0x5eed);
  }

  get isKeyOrdered(): boolean {
    return this.config.ordering === 'key';
  }

  fail(message: string): never {
    throw new Error(`seed ${this.seed} (STRATA_SEED=${this.seed} to replay): ${message}`);
  }

  async start(): Promise<void> {
    this.harness.topics.create(TOPIC, PARTITIONS);
    await this.harness.start();
  }

  append(): void {
    const partition = this.random.int(0, PARTITIONS - 1);
    const log = this.harness.topics.partition(TOPIC, partition);
    const count = this.random.int(1, 4);
    const records = Array.from({ length: count }, () => {
      const key = this.random.chance(0.8) ? this.random.pick(KEYS) : null;
      return { key, value: this.random.chance(0.05) ? 'poison' : 'job' };
    });
    const baseOffset = log.append(records, this.harness.clock.nowMs());
    records.forEach((r, i) => {
      const ref = refKey({ topic: TOPIC, partition, offset: baseOffset + i });
      this.keyOf.set(ref, r.key);
      if (r.value === 'poison') this.poison.add(ref);
    });
    this.recordCount += count;
  }

  async join(): Promise<void> {
    if (this.members.length >= 6) return;
    const inFlightLimit = this.random.int(1, 5);
    const member = await this.harness.join('g', [TOPIC], { inFlightLimit, config: this.config });
    this.members.push(member);
    this.limits.set(member.memberId, inFlightLimit);
    this.seenDeliveries.set(member, 0);
  }

  /** One member answers some of what it holds. */
  async answer(forceAckAll = false, member = this.random.pick(this.members)): Promise<void> {
    this.observe(); // deliveries that came while another member's answer was awaited
    const held = member.heldRecords();
    const chosen = forceAckAll ? held : this.random.sample(held, this.random.int(0, held.length));
    const answers: Array<{ record: HeldRecord; answer: QueueAnswer }> = chosen.map((record) => {
      const base = { topic: record.topic, partition: record.partition, offset: record.offset };
      if (this.poison.has(refKey(record))) return { record, answer: { ...base, type: 'release', reason: 'poison' } };
      if (forceAckAll) return { record, answer: { ...base, type: 'ack' } };
      const type = this.random.weighted({ ack: 14, release: 3, delayed: 1, reject: 1 });
      if (type === 'delayed') return { record, answer: { ...base, type: 'release', delayMs: this.random.int(1, 3_000) } };
      return { record, answer: { ...base, type } };
    });
    if (answers.length === 0) return;
    for (const { record } of answers) member.held.delete(refKey(record));
    const sentAt = ++this.sequence;
    const results = await this.harness.coordinator.answer(member.memberId, answers.map((a) => a.answer));
    results.forEach((result, i) => {
      const { answer } = answers[i]!;
      const ref = refKey(answer);
      if (result.error) {
        if (result.error.code !== 'QUEUE_RECORD_NOT_ACQUIRED') this.fail(`answer ${answer.type} of ${ref} failed: ${result.error.message}`);
        return;
      }
      const lock = this.locks.get(ref);
      if (!lock || lock.memberId !== member.memberId) this.fail(`answer of ${ref} by ${member.memberId} succeeded, but the simulation knows no lock of it there`);
      this.locks.delete(ref);
      if (answer.type === 'release') this.notBefore.set(ref, answer.delayMs ? this.harness.clock.nowMs() + answer.delayMs : this.earliestRetryMs(lock.deliveryCount));
      if (answer.type === 'ack') {
        this.ackedCount.set(ref, (this.ackedCount.get(ref) ?? 0) + 1);
        this.doneAt.set(ref, sentAt);
      }
    });
  }

  async extend(): Promise<void> {
    this.observe();
    const member = this.random.pick(this.members);
    const records = this.random.sample(member.heldRecords(), 2);
    if (records.length === 0) return;
    const results = await this.harness.coordinator.extendLocks(member.memberId, records, this.random.int(0, 5_000));
    for (const result of results) {
      if (result.error) continue;
      const lock = this.locks.get(refKey(result));
      if (!lock || lock.memberId !== member.memberId) this.fail(`extension of ${refKey(result)} succeeded for a record the member does not hold`);
      lock.deadlineMs = result.lockDeadlineMs!;
    }
  }

  /** A member goes away: a clean leave or a broken stream (both release at once), or silence (its locks expire). */
  async depart(): Promise<void> {
    const member = this.members.splice(this.random.int(0, this.members.length - 1), 1)[0]!;
    const how = this.random.weighted({ leave: 2, lost: 2, silent: 1 });
    if (how === 'silent') return this.silence(member);
    await (how === 'leave' ? this.harness.coordinator.leave(member.memberId) : this.harness.coordinator.streamLost(member.memberId));
    for (const [ref, lock] of this.locks) {
      if (lock.memberId !== member.memberId) continue;
      this.locks.delete(ref);
      // A lock that expired before the departure was released then, not now.
      const releasedAtMs = Math.min(lock.deadlineMs, this.harness.clock.nowMs());
      this.notBefore.set(ref, releasedAtMs + this.backoffLowMs(lock.deliveryCount));
    }
  }

  /** A member that stops answering but stays joined (a hung worker): it keeps its place; its locks expire. */
  private silence(member: TestMember): void {
    member.held.clear();
    this.silent.push(member);
  }

  readonly silent: TestMember[] = [];

  /** The server restarts: members are gone; their locks stay in the state and expire when due. */
  async restart(): Promise<void> {
    if (this.random.chance(0.5)) this.harness.journal.compact();
    await this.harness.restart();
    this.members.length = 0;
    this.silent.length = 0;
  }

  private backoffLowMs(deliveryCount: number): number {
    const c = { ...config, ...this.config };
    return Math.floor(Math.min(c.backoffMaxMs, c.backoffBaseMs * c.backoffFactor ** (deliveryCount - 1)) * (1 - c.backoffJitter));
  }

  private earliestRetryMs(deliveryCount: number): number {
    return this.harness.clock.nowMs() + this.backoffLowMs(deliveryCount);
  }

  /** New deliveries and dead letters since the last look: the invariants on them. */
  observe(): void {
    // Dead letters first: a record's dead letter is written before the next record of its key may go out.
    for (const { letter } of this.harness.deadLetters.letters.slice(this.seenLetters)) {
      const ref = refKey({ topic: header(letter, DEAD_LETTER_HEADERS.sourceTopic)!, partition: Number(header(letter, DEAD_LETTER_HEADERS.sourcePartition)), offset: Number(header(letter, DEAD_LETTER_HEADERS.sourceOffset)) });
      if (this.doneAt.has(ref) && (this.ackedCount.get(ref) ?? 0) > 0) this.fail(`${ref} was dead-lettered after it was acknowledged`);
      this.doneAt.set(ref, ++this.sequence);
      this.locks.delete(ref);
    }
    this.seenLetters = this.harness.deadLetters.letters.length;
    const nowMs = this.harness.clock.nowMs();
    for (const member of [...this.members, ...this.silent]) {
      const seen = this.seenDeliveries.get(member) ?? 0;
      for (const record of member.received.slice(seen)) this.onDelivery(member, record, nowMs);
      this.seenDeliveries.set(member, member.received.length);
      if (this.silent.includes(member)) member.held.clear();
    }
  }

  private onDelivery(member: TestMember, record: HeldRecord, nowMs: number): void {
    const ref = refKey(record);
    const previous = this.locks.get(ref);
    if (previous && previous.memberId !== member.memberId && previous.deadlineMs > nowMs) {
      this.fail(`${ref} delivered to ${member.memberId} at ${nowMs} while ${previous.memberId} holds it until ${previous.deadlineMs}`);
    }
    if (this.doneAt.has(ref)) this.fail(`${ref} delivered again after it was done`);
    // A redelivery waits for its backoff: after an expiry from the lock's end, after a release from then.
    const notBeforeMs = previous ? previous.deadlineMs + this.backoffLowMs(previous.deliveryCount) : this.notBefore.get(ref);
    if (record.deliveryCount > 1 && notBeforeMs !== undefined && nowMs < notBeforeMs) this.fail(`${ref} redelivered at ${nowMs}, before its backoff ends at ${notBeforeMs}`);
    this.notBefore.delete(ref);
    this.locks.set(ref, { memberId: member.memberId, deadlineMs: record.lockDeadlineMs, deliveryCount: record.deliveryCount });
    const at = ++this.sequence;
    this.deliveredAt.set(ref, [...(this.deliveredAt.get(ref) ?? []), at]);
    if (this.isKeyOrdered) this.checkKeyOrder(record, at);
    const limit = this.limits.get(member.memberId)!;
    const unexpired = [...this.locks.values()].filter((l) => l.memberId === member.memberId && l.deadlineMs > nowMs).length;
    if (unexpired > limit) this.fail(`${member.memberId} holds ${unexpired} unexpired records, over its in-flight limit ${limit}`);
  }

  /** A record goes out only when every earlier record of its key in its partition is done. */
  private checkKeyOrder(record: HeldRecord, at: number): void {
    const key = this.keyOf.get(refKey(record));
    if (key === null || key === undefined) return;
    for (let offset = 0; offset < record.offset; offset++) {
      const earlier = refKey({ topic: TOPIC, partition: record.partition, offset });
      if (this.keyOf.get(earlier) !== key) continue;
      const doneAt = this.doneAt.get(earlier);
      if (doneAt === undefined) this.fail(`key ${key}: ${refKey(record)} delivered while the earlier ${earlier} is not done`);
      if (doneAt !== undefined && doneAt > at) this.fail(`key ${key}: ${refKey(record)} delivered before the earlier ${earlier} was done`);
    }
  }

  async checkState(): Promise<void> {
    const description = await this.harness.coordinator.describeGroup('g').catch(() => undefined);
    if (!description) return;
    for (const partition of description.partitions) {
      const previous = this.startOffsets.get(partition.partition) ?? 0;
      if (partition.startOffset < previous) this.fail(`partition ${partition.partition}'s start offset went back from ${previous} to ${partition.startOffset}`);
      this.startOffsets.set(partition.partition, partition.startOffset);
    }
    for (const member of description.members) {
      if (member.inFlight > member.inFlightLimit) this.fail(`${member.memberId} holds ${member.inFlight} records, over its limit ${member.inFlightLimit}`);
    }
  }
}

async function simulate(seed: number, config: Partial<QueueGroupConfig>): Promise<Simulation> {
  const sim = new Simulation(seed, config);
  await sim.start();
  const { harness, random } = sim;
  try {
    for (let step = 0; step < STEPS; step++) {
      const action = random.weighted({ append: 4, join: 1, answer: 8, extend: 1, depart: 1, advance: 4, restart: 0.3 });
      if (action === 'append') sim.append();
      else if (action === 'join' || sim.members.length === 0) await sim.join();
      else if (action === 'answer') await sim.answer();
      else if (action === 'extend') await sim.extend();
      else if (action === 'depart') await sim.depart();
      else if (action === 'advance') harness.clock.advance(random.int(1, 4_000));
      else await sim.restart();
      await harness.settle();
      sim.observe();
      await sim.checkState();
    }
    // Drain without faults: members answer everything they hold until every record is done.
    if (sim.members.length === 0) await sim.join();
    for (let round = 0; round < 2_000; round++) {
      const description = await harness.coordinator.describeGroup('g');
      if (description.total.depth === 0 && description.partitions.length === PARTITIONS) break;
      for (const member of [...sim.members]) await sim.answer(true, member);
      harness.clock.advance(500);
      await harness.settle();
      sim.observe();
      await sim.checkState();
    }
    return sim;
  } finally {
    await harness.coordinator.close();
  }
}

function checkOutcomes(sim: Simulation): void {
  const letters = new Map<string, number>();
  for (const { letter } of sim.harness.deadLetters.letters) {
    const ref = refKey({ topic: header(letter, DEAD_LETTER_HEADERS.sourceTopic)!, partition: Number(header(letter, DEAD_LETTER_HEADERS.sourcePartition)), offset: Number(header(letter, DEAD_LETTER_HEADERS.sourceOffset)) });
    letters.set(ref, (letters.get(ref) ?? 0) + 1);
  }
  let outcomes = 0;
  for (let partition = 0; partition < PARTITIONS; partition++) {
    const end = sim.harness.topics.partition(TOPIC, partition).highWatermark;
    for (let offset = 0; offset < end; offset++) {
      const ref = refKey({ topic: TOPIC, partition, offset });
      const acked = sim.ackedCount.get(ref) ?? 0;
      const deadLettered = letters.get(ref) ?? 0;
      if (acked + deadLettered !== 1) sim.fail(`${ref} ended acknowledged ${acked} and dead-lettered ${deadLettered} times`);
      if (sim.poison.has(ref) && deadLettered !== 1) sim.fail(`poison ${ref} was not dead-lettered`);
      outcomes++;
    }
  }
  if (outcomes !== sim.recordCount) sim.fail(`${outcomes} outcomes for ${sim.recordCount} records`);
}

const config = { lockDurationMs: 2_000, maxDeliveryAttempts: 3, backoffBaseMs: 100, backoffFactor: 2, backoffMaxMs: 1_000, backoffJitter: 0.2 };

describe('queue group simulation', () => {
  for (const seed of seedsFromEnv([1, 2, 3, 4, 5, 6])) {
    for (const ordering of ['none', 'key'] as const) {
      it(`seed ${seed}, ordering ${ordering}: invariants at every step, every record acknowledged or dead-lettered once`, async () => {
        const sim = await simulate(seed, { ...config, ordering });
        checkOutcomes(sim);
        expect(sim.recordCount).toBeGreaterThan(100);
        expect(sim.harness.deadLetters.letters.length).toBeGreaterThan(0);
      });
    }
  }
});
