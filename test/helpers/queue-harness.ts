import { ManualClock } from '../../src/core/clock.js';
import { decodeRecordBatch, iterateBatches } from '../../src/format/index.js';
import type { QueueAnswer, QueueAnswerResult, QueueDelivery } from '../../src/queues/queue-coordinator-api.js';
import { QueueCoordinator } from '../../src/queues/queue-coordinator.js';
import type { QueueGroupConfig } from '../../src/queues/queue-group-config.js';
import { FakeQueueJournal } from './fake-queue-journal.js';
import { FakeDeadLetterWriter, FakeQueueTopics } from './fake-queue-topics.js';
import { turn } from './manual-time.js';
import { SeededRandom } from './seeded-random.js';

/** A record as a test member received it. */
export interface HeldRecord {
  topic: string;
  partition: number;
  offset: number;
  deliveryCount: number;
  lockDeadlineMs: number;
  key: string | null;
  value: string;
  receivedAtMs: number;
}

/** A member as a test drives it: what it was delivered, what it holds, and its answers. */
export class TestMember {
  readonly deliveries: QueueDelivery[] = [];
  readonly received: HeldRecord[] = [];
  /** Records delivered and not answered by this test member, by "topic/partition/offset". */
  readonly held = new Map<string, HeldRecord>();
  /** What deliver() returns: false plays a full gRPC write buffer. */
  isWritable = true;
  memberId = '';

  constructor(private readonly harness: QueueHarness) {}

  readonly deliver = (delivery: QueueDelivery): boolean => {
    this.deliveries.push(delivery);
    this.harness.deliveryCount++;
    const wanted = new Map(delivery.records.map((r) => [r.offset, r]));
    for (const { position } of iterateBatches(delivery.batches)) {
      for (const record of decodeRecordBatch(delivery.batches, position).records) {
        const meta = wanted.get(record.offset);
        if (!meta) continue;
        const held: HeldRecord = {
          topic: delivery.topic, partition: delivery.partition, offset: record.offset, deliveryCount: meta.deliveryCount, lockDeadlineMs: meta.lockDeadlineMs,
          key: record.key?.toString('utf8') ?? null, value: record.value?.toString('utf8') ?? '', receivedAtMs: this.harness.clock.nowMs(),
        };
        wanted.delete(record.offset);
        this.received.push(held);
        this.held.set(refKey(held), held);
      }
    }
    if (wanted.size > 0) throw new Error(`delivery of ${delivery.topic}-${delivery.partition} lacks the batches of offsets ${[...wanted.keys()].join(', ')}`);
    return this.isWritable;
  };

  async answer(records: readonly HeldRecord[], type: QueueAnswer['type'], extra: Partial<QueueAnswer> = {}): Promise<QueueAnswerResult[]> {
    for (const record of records) this.held.delete(refKey(record));
    return this.harness.coordinator.answer(this.memberId, records.map((r) => ({ topic: r.topic, partition: r.partition, offset: r.offset, type, ...extra })));
  }

  heldRecords(): HeldRecord[] {
    return [...this.held.values()].sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition || a.offset - b.offset);
  }
}

export function refKey(ref: { topic: string; partition: number; offset: number }): string {
  return `${ref.topic}/${ref.partition}/${ref.offset}`;
}

/** A QueueCoordinator over fakes: a ManualClock, in-memory topics, journal and dead-letter topics. */
export class QueueHarness {
  readonly clock: ManualClock;
  readonly topics: FakeQueueTopics;
  readonly journal: FakeQueueJournal;
  readonly deadLetters: FakeDeadLetterWriter;
  readonly random: SeededRandom;
  coordinator!: QueueCoordinator;
  deliveryCount = 0;

  private readonly heldBatchBytes: { perPartition: number; perServer: number } | undefined;

  constructor(options: { seed?: number; startMs?: number; heldBatchBytes?: { perPartition: number; perServer: number } } = {}) {
    this.heldBatchBytes = options.heldBatchBytes;
    this.clock = new ManualClock(options.startMs ?? 1_000_000);
    this.topics = new FakeQueueTopics();
    this.journal = new FakeQueueJournal();
    this.deadLetters = new FakeDeadLetterWriter(this.topics);
    this.random = new SeededRandom(options.seed ?? 1);
  }

  async start(): Promise<QueueCoordinator> {
    this.coordinator = new QueueCoordinator({
      journal: this.journal, topics: this.topics, deadLetters: this.deadLetters, clock: this.clock, random: this.random,
      ...(this.heldBatchBytes ? { heldBatchBytes: this.heldBatchBytes } : {}),
    });
    await this.coordinator.start();
    return this.coordinator;
  }

  /** Closes the coordinator and starts a new one over the same journal, topics and clock (a server restart). */
  async restart(): Promise<QueueCoordinator> {
    await this.coordinator.close();
    return this.start();
  }

  async join(groupId: string, topics: string[], options: { inFlightLimit?: number; config?: Partial<QueueGroupConfig>; clientId?: string } = {}): Promise<TestMember> {
    const member = new TestMember(this);
    const handle = await this.coordinator.join({ groupId, topics, inFlightLimit: options.inFlightLimit ?? 0, config: options.config, clientId: options.clientId ?? 'test', deliver: member.deliver });
    member.memberId = handle.memberId;
    return member;
  }

  /** Event loop turns until the journal and the deliveries stop changing for a few turns in a row (no clock time passes). */
  async settle(): Promise<void> {
    let quiet = 0;
    let last = '';
    for (let turns = 0; turns < 10_000 && quiet < 5; turns++) {
      await turn();
      const now = `${this.deliveryCount}/${this.journal.appendCount}/${this.deadLetters.letters.length}/${this.topics.topics.size}`;
      quiet = now === last ? quiet + 1 : 0;
      last = now;
    }
  }

  /** Advances the clock `stepMs` at a time (settling between steps) until `check` holds; fails after `maxMs`. */
  async advanceUntil(check: () => boolean, what: string, stepMs = 10, maxMs = 600_000): Promise<void> {
    const untilMs = this.clock.nowMs() + maxMs;
    for (;;) {
      await this.settle();
      if (check()) return;
      if (this.clock.nowMs() >= untilMs) throw new Error(`${what}: not within ${maxMs} ms of clock time`);
      this.clock.advance(stepMs);
    }
  }
}
