import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from '@node-rs/crc32';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AssertionError } from '../../src/core/assert.js';
import { silentLogger, type Logger } from '../../src/core/logger.js';
import { encodeRecordBatch } from '../../src/format/record-batch-codec.js';
import { DEFAULT_QUEUE_GROUP_CONFIG } from '../../src/queues/queue-group-config.js';
import type { QueueStateChange } from '../../src/queues/queue-state-changes.js';
import { QUEUE_STATE_PARTITIONS, QUEUE_STATE_TOPIC, QueueStateStore } from '../../src/queues/queue-state-store.js';
import { LogManager } from '../../src/storage/log-manager.js';
import { capturingLogger, type LogLine } from '../helpers/capturing-logger.js';
import { FaultyFileSystem } from '../helpers/faulty-file-system.js';
import { QueueStateModel } from '../helpers/queue-state-model.js';
import { SeededRandom } from '../helpers/seeded-random.js';
import { ManualClock } from '../../src/core/clock.js';
import { QueueCoordinator } from '../../src/queues/queue-coordinator.js';
import { FakeDeadLetterWriter, FakeQueueTopics } from '../helpers/fake-queue-topics.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const partitionOf = (groupId: string): number => crc32(groupId) % QUEUE_STATE_PARTITIONS;
const config = { ...DEFAULT_QUEUE_GROUP_CONFIG, ordering: 'key' as const, lockDurationMs: 5_000 };
const at = { topic: 'orders', partition: 1 };

/** One change of every type, for group `g`. */
function everyChange(g: string): QueueStateChange[] {
  return [
    { type: 'config', groupId: g, config, atMs: 1 },
    { type: 'acquire', groupId: g, ...at, offsets: [0, 1, 2], memberId: 'm-1', lockDeadlineMs: 5_002, atMs: 2 },
    { type: 'extend', groupId: g, ...at, offsets: [1], lockDeadlineMs: 9_000, atMs: 3 },
    { type: 'ack', groupId: g, ...at, offsets: [0], atMs: 4 },
    { type: 'release', groupId: g, ...at, offsets: [1, 2], eligibleAtMs: [6_000, 7_000], reason: 'handler threw: ünïcode', atMs: 5 },
    { type: 'release', groupId: g, ...at, offsets: [2], eligibleAtMs: [8_000], atMs: 6 },
    { type: 'archive', groupId: g, ...at, offsets: [1], cause: 'max-delivery-attempts', atMs: 7 },
    {
      type: 'snapshot', groupId: g, topic: 'orders', partition: 0, startOffset: 10,
      records: [[10, 'acquired', 1, 9_000, 'm-2', ''], [11, 'available', 2, 9_500, '', 'boom'], [12, 'done', 1, 0, '', '']],
      counters: { deadLettered: 3, redeliveries: 4 }, atMs: 8,
    },
    { type: 'reset', groupId: g, topic: 'orders', partition: 0, startOffset: 0, atMs: 9 },
    { type: 'forget-topic', groupId: g, topic: 'gone', atMs: 10 },
    { type: 'delete', groupId: g, atMs: 11 },
  ];
}

/** A random change of `groupId` over 2 topics x 2 partitions and offsets 0..29. */
function randomChange(random: SeededRandom, groupId: string, model: QueueStateModel, nowMs: number): QueueStateChange {
  if (!model.configs.has(groupId) || random.chance(0.02)) return { type: 'config', groupId, config: { ...config, maxDeliveryAttempts: random.int(1, 9) }, atMs: nowMs };
  if (random.chance(0.01)) return { type: 'delete', groupId, atMs: nowMs };
  const where = { groupId, topic: random.pick(['t1', 't2']), partition: random.int(0, 1) };
  const offsets = random.sample([...Array(30).keys()], random.int(1, 4));
  const kind = random.next();
  if (kind < 0.4) return { type: 'acquire', ...where, offsets, memberId: `m-${random.int(1, 5)}`, lockDeadlineMs: nowMs + 5_000, atMs: nowMs };
  if (kind < 0.7) return { type: 'ack', ...where, offsets, atMs: nowMs };
  if (kind < 0.85) return { type: 'release', ...where, offsets, eligibleAtMs: offsets.map((_, i) => nowMs + 1_000 * i), reason: random.chance(0.5) ? `error ${nowMs}` : undefined, atMs: nowMs } as QueueStateChange;
  if (kind < 0.9) return { type: 'archive', ...where, offsets, cause: random.pick(['rejected', 'max-delivery-attempts'] as const), atMs: nowMs };
  if (kind < 0.97) return { type: 'extend', ...where, offsets, lockDeadlineMs: nowMs + 9_000, atMs: nowMs };
  if (kind < 0.99) return { type: 'reset', ...where, startOffset: random.int(0, 20), atMs: nowMs };
  return { type: 'forget-topic', groupId, topic: where.topic, atMs: nowMs };
}

describe('QueueStateStore (__queue_state)', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let logs: LogManager;
  let fs: FaultyFileSystem;
  const stores: QueueStateStore[] = [];
  beforeEach(async () => {
    dir = await makeTempDir('strata-queue-state-');
    fs = new FaultyFileSystem();
    logs = await LogManager.open({ dataDir: dir.path, logger: silentLogger, fs });
  });
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
    await logs.close();
    await dir.remove();
  });

  async function open(options: { logger?: Logger; segmentBytes?: number } = {}): Promise<QueueStateStore> {
    const store = await QueueStateStore.open(logs, { logger: options.logger ?? silentLogger, nowMs: () => 1_000, ...(options.segmentBytes ? { segmentBytes: options.segmentBytes } : {}) });
    stores.push(store);
    return store;
  }

  /** Closes the stores and the logs, and opens the logs again (a restart). */
  async function restart(): Promise<void> {
    await Promise.all(stores.splice(0).map((s) => s.close()));
    await logs.close();
    logs = await LogManager.open({ dataDir: dir.path, logger: silentLogger });
  }

  it('creates __queue_state (8 partitions, flush=always, kept forever) and replays every change shape as written, per group in order, after a restart', async () => {
    const store = await open();
    expect(logs.describeTopic(QUEUE_STATE_TOPIC)).toMatchObject({ partitionCount: 8, configOverrides: { flush: 'always', 'retention.ms': '-1' } });
    expect(await store.replay(() => undefined)).toEqual({ replayed: 0, skipped: 0 });
    const groups = ['orders-workers', 'billing', 'émails'];
    for (const g of groups) for (const change of everyChange(g)) await store.append(g, [change]);
    await store.append('batch', everyChange('batch'));
    await restart();
    const replayed: QueueStateChange[] = [];
    expect(await (await open()).replay((change) => replayed.push(change))).toEqual({ replayed: 44, skipped: 0 });
    for (const g of [...groups, 'batch']) expect(replayed.filter((c) => c.groupId === g)).toEqual(everyChange(g));
  });

  it('refuses a change that replay would skip, or one of another group, as a bug (AssertionError), writing nothing', async () => {
    const store = await open();
    await store.replay(() => undefined);
    const bad = [
      { type: 'ack', groupId: 'g', topic: 'orders', partition: 0, offsets: [1.5], atMs: 1 },
      { type: 'release', groupId: 'g', topic: 'orders', partition: 0, offsets: [1, 2], eligibleAtMs: [5], atMs: 1 },
      { type: 'acquire', groupId: 'g', topic: 'orders', partition: -1, offsets: [1], memberId: 'm', lockDeadlineMs: 5, atMs: 1 },
      { type: 'config', groupId: 'g', config: { ...config, ordering: 'random' }, atMs: 1 },
      { type: 'ack', groupId: 'other', topic: 'orders', partition: 0, offsets: [1], atMs: 1 },
    ] as unknown as QueueStateChange[];
    for (const change of bad) await expect(store.append('g', [{ type: 'delete', groupId: 'g', atMs: 1 }, change])).rejects.toBeInstanceOf(AssertionError);
    expect(logs.partition(QUEUE_STATE_TOPIC, partitionOf('g')).logEndOffset).toBe(0);
  });

  it('skips records that are not changes of their shape, or not under their group key, counts them and logs once', async () => {
    const store = await open();
    await store.replay(() => undefined);
    const good: QueueStateChange = { type: 'ack', groupId: 'g', topic: 'orders', partition: 0, offsets: [0], atMs: 1 };
    await store.append('g', [good]);
    const garbage = [
      'not JSON',
      '{"type":"ack","groupId":"g","topic":"orders","partition":0,"atMs":1}',
      '{"type":"release","groupId":"g","topic":"orders","partition":0,"offsets":[1,2],"eligibleAtMs":[1],"atMs":1}',
      '{"type":"teleport","groupId":"g","topic":"orders","partition":0,"offsets":[1],"atMs":1}',
      '{"type":"snapshot","groupId":"g","topic":"orders","partition":0,"startOffset":0,"records":[[1,"lost",0,0,"",""]],"counters":{"deadLettered":0,"redeliveries":0},"atMs":1}',
      JSON.stringify({ type: 'config', groupId: 'g', config: { ...config, delivery: 'maybe' }, atMs: 1 }),
      JSON.stringify({ ...good, groupId: 'not-g' }),
    ];
    await logs.partition(QUEUE_STATE_TOPIC, partitionOf('g')).append(encodeRecordBatch(garbage.map((value) => ({ key: 'g', value }))));
    await store.append('g', [{ ...good, offsets: [1] }]);
    await restart();
    const lines: LogLine[] = [];
    const replayed: QueueStateChange[] = [];
    expect(await (await open({ logger: capturingLogger(lines) })).replay((c) => replayed.push(c))).toEqual({ replayed: 2, skipped: garbage.length });
    expect(replayed).toEqual([good, { ...good, offsets: [1] }]);
    expect(lines).toEqual([expect.objectContaining({ msg: expect.stringMatching(/__queue_state.*skipped/), skipped: garbage.length })]);
  });

  it('compacts through the coordinator\'s snapshots: the state replays the same, deleted groups are dropped, the topic stays bounded', async () => {
    const store = await open({ segmentBytes: 4096 });
    const model = new QueueStateModel();
    await store.replay(model.apply);
    const asked: string[] = [];
    store.setSnapshotSource((groupId) => {
      asked.push(groupId);
      return model.snapshotOf(groupId);
    });
    // Six groups in one partition of the state topic and one elsewhere, each appending without pause
    // (one change after another, each seeded by its group), so writes hold several groups' changes and
    // appends are queued whenever a compaction runs.
    const groups = [...Array(200).keys()].map((i) => `g${i}`).filter((g) => partitionOf(g) === partitionOf('g0')).slice(0, 6);
    groups.push('g1');
    // A group that is deleted early: compaction never asks for it again, and its records go.
    const doomed = 'doomed-3';
    expect(partitionOf(doomed), 'shares a partition with the busy groups').toBe(partitionOf('g0'));
    for (const change of [{ type: 'config', groupId: doomed, config, atMs: 1 }, { type: 'delete', groupId: doomed, atMs: 2 }] as QueueStateChange[]) {
      model.apply(change);
      await store.append(doomed, [change]);
    }
    let maxSegments = 0;
    let busyPartitionBytes = 0;
    await Promise.all(
      groups.map(async (groupId, index) => {
        const random = new SeededRandom(15 + index);
        for (let i = 0; i < 500; i++) {
          // Applied when appended, as the coordinator does (so that it never hands a record out twice
          // while the write runs); the store places its snapshots accordingly.
          const change = randomChange(random, groupId, model, 1_000 + i);
          model.apply(change);
          await store.append(groupId, [change]);
          if (partitionOf(groupId) === partitionOf('g0')) busyPartitionBytes += JSON.stringify(change).length;
          for (let p = 0; p < QUEUE_STATE_PARTITIONS; p++) maxSegments = Math.max(maxSegments, logs.partition(QUEUE_STATE_TOPIC, p).segmentCount);
        }
      }),
    );
    await store.close();
    expect(asked.length).toBeGreaterThan(0);
    expect(asked).not.toContain(doomed);
    const doomedLog = logs.partition(QUEUE_STATE_TOPIC, partitionOf(doomed));
    expect(doomedLog.logStartOffset, 'the partition of the deleted group was compacted').toBeGreaterThan(0);
    // The busy partition took over 150 segments' worth of changes; it stays bounded by its live state
    // (six groups' snapshots of up to 4 partitions x 30 records, compacted at 4 times their size).
    expect(busyPartitionBytes / 4096).toBeGreaterThan(80);
    expect(maxSegments).toBeLessThanOrEqual(30);
    await restart();
    const replayedModel = new QueueStateModel();
    const replayedGroups = new Set<string>();
    await (await open()).replay((change) => {
      replayedGroups.add(change.groupId);
      replayedModel.apply(change);
    });
    expect(replayedModel.dump()).toEqual(model.dump());
    expect(replayedGroups.has(doomed), 'a deleted group\'s records were cut').toBe(false);
  }, 60_000);

  it('fails the groups of a damaged partition only: their appends and damageOf say DATA_LOSS, the others replay and write', async () => {
    const store = await open();
    await store.replay(() => undefined);
    const [damagedGroup, healthyGroup] = ['g1', 'g2'];
    expect(partitionOf(damagedGroup)).not.toBe(partitionOf(healthyGroup));
    for (const g of [damagedGroup, healthyGroup]) {
      await store.append(g, [{ type: 'config', groupId: g, config, atMs: 1 }]);
      await store.append(g, [{ type: 'ack', groupId: g, ...at, offsets: [0], atMs: 2 }]);
    }
    await restart();
    const segment = join(dir.path, QUEUE_STATE_TOPIC, String(partitionOf(damagedGroup)), '00000000000000000000.log');
    const bytes = readFileSync(segment);
    bytes[12 + bytes.readInt32BE(8) + 7]! ^= 0x40; // the second batch's base offset: outside the CRC
    writeFileSync(segment, bytes);
    await logs.close();
    logs = await LogManager.open({ dataDir: dir.path, logger: silentLogger });
    const lines: LogLine[] = [];
    const again = await open({ logger: capturingLogger(lines, 'error') });
    const model = new QueueStateModel();
    await again.replay(model.apply);
    expect(lines).toEqual([expect.objectContaining({ msg: expect.stringMatching(/^DATA LOSS in __queue_state/), partition: partitionOf(damagedGroup) })]);
    expect(again.damageOf(damagedGroup)).toMatchObject({ code: 'DATA_LOSS' });
    expect(again.damageOf(healthyGroup)).toBeUndefined();
    await expect(again.append(damagedGroup, [{ type: 'ack', groupId: damagedGroup, ...at, offsets: [1], atMs: 3 }])).rejects.toMatchObject({ code: 'DATA_LOSS' });
    expect(model.snapshotOf(healthyGroup)).toEqual([
      { type: 'config', groupId: healthyGroup, config, atMs: 1 },
      expect.objectContaining({ type: 'snapshot', ...at, startOffset: 1 }),
    ]);
    await again.append(healthyGroup, [{ type: 'ack', groupId: healthyGroup, ...at, offsets: [1], atMs: 3 }]);
  });

  it('a replayed change its group\'s state does not allow (a record before it skipped) fails that group with DATA_LOSS; the server starts for the others', async () => {
    const store = await open();
    await store.replay(() => undefined);
    const where = { topic: 'orders', partition: 0 };
    for (const g of ['bad', 'good']) {
      await store.append(g, [{ type: 'config', groupId: g, config: DEFAULT_QUEUE_GROUP_CONFIG, atMs: 1 }, { type: 'reset', groupId: g, ...where, startOffset: 0, atMs: 1 }]);
    }
    // As if the 'acquire' before it were in a batch replay skipped: a release of a record never acquired.
    await store.append('bad', [{ type: 'release', groupId: 'bad', ...where, offsets: [0], eligibleAtMs: [5], atMs: 2 }]);
    await store.append('bad', [{ type: 'ack', groupId: 'bad', ...where, offsets: [1], atMs: 3 }]);
    await restart();
    const lines: LogLine[] = [];
    const again = await open({ logger: capturingLogger(lines, 'error') });
    const topics = new FakeQueueTopics();
    topics.create('orders', 1);
    const coordinator = new QueueCoordinator({ journal: again, topics, deadLetters: new FakeDeadLetterWriter(topics), clock: new ManualClock(1_000), random: new SeededRandom(1) });
    await coordinator.start();
    try {
      expect(lines).toEqual([expect.objectContaining({ msg: expect.stringMatching(/^DATA LOSS in __queue_state.*'bad'/) })]);
      const join = (groupId: string) => coordinator.join({ groupId, topics: ['orders'], inFlightLimit: 0, clientId: 't', deliver: () => true });
      await expect(join('bad')).rejects.toMatchObject({ code: 'DATA_LOSS' });
      await expect(again.append('bad', [{ type: 'delete', groupId: 'bad', atMs: 4 }])).rejects.toMatchObject({ code: 'DATA_LOSS' });
      await expect(join('good')).resolves.toMatchObject({ config: DEFAULT_QUEUE_GROUP_CONFIG });
    } finally {
      await coordinator.close();
    }
  });

  it('lets many groups\' concurrent appends share fsyncs: one write per partition for all that queued', async () => {
    const store = await open();
    await store.replay(() => undefined);
    let fsyncs = 0;
    fs.beforeDatasync = (path) => {
      if (path.includes(QUEUE_STATE_TOPIC)) fsyncs++;
    };
    const groups = Array.from({ length: 200 }, (_, i) => `group-${i}`);
    await Promise.all(groups.map((g) => store.append(g, [{ type: 'ack', groupId: g, ...at, offsets: [0], atMs: 1 }])));
    // Per partition: the first append's write, then one for everything queued behind it.
    expect(fsyncs).toBeLessThanOrEqual(2 * QUEUE_STATE_PARTITIONS);
  });
});
