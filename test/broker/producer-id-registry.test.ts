import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PRODUCER_IDS_TOPIC, ProducerIdRegistry } from '../../src/broker/producer-id-registry.js';
import { DataLossError, InvalidArgumentError, ProducerFencedError, TooManyProducersError } from '../../src/core/errors.js';
import { MAX_PRODUCER_EPOCH } from '../../src/core/limits.js';
import { silentLogger } from '../../src/core/logger.js';
import { decodeRecordBatch, encodeRecordBatch, iterateBatches } from '../../src/format/record-batch-codec.js';
import { LogManager } from '../../src/storage/log-manager.js';
import { rejection } from '../helpers/rejection.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { FaultyFileSystem } from '../helpers/faulty-file-system.js';

describe('ProducerIdRegistry (__producer_ids)', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let logs: LogManager;
  beforeEach(async () => {
    dir = await makeTempDir();
    logs = await LogManager.open({ dataDir: dir.path, logger: silentLogger });
  });
  afterEach(async () => {
    await logs.close();
    await dir.remove();
  });

  /** A restart: the log manager closed and opened again, the registry rebuilt from the topic. */
  async function reopen(options: { blockSize?: number; segmentBytes?: number } = {}): Promise<ProducerIdRegistry> {
    await logs.close();
    logs = await LogManager.open({ dataDir: dir.path, logger: silentLogger });
    return ProducerIdRegistry.open(logs, silentLogger, options);
  }

  async function records(): Promise<Array<Record<string, unknown>>> {
    const log = logs.partition(PRODUCER_IDS_TOPIC, 0);
    const { batches } = await log.read(log.logStartOffset, 16 * 1024 * 1024);
    const out: Array<Record<string, unknown>> = [];
    for (const { position } of iterateBatches(batches)) for (const r of decodeRecordBatch(batches, position).records) out.push(JSON.parse(r.value!.toString('utf8')));
    return out;
  }

  it('hands out fresh ids at epoch 0, recording one block per blockSize ids', async () => {
    const registry = await ProducerIdRegistry.open(logs, silentLogger, { blockSize: 3 });
    const ids = [];
    for (let i = 0; i < 7; i++) {
      const identity = await registry.initProducer({});
      expect(identity.producerEpoch).toBe(0);
      ids.push(identity.producerId);
    }
    expect(ids).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(await records()).toEqual([
      { type: 'block', endId: 3 },
      { type: 'block', endId: 6 },
      { type: 'block', endId: 9 },
    ]);
  });

  it('never hands out an id twice across restarts, skipping what was left of the last block', async () => {
    let registry = await ProducerIdRegistry.open(logs, silentLogger, { blockSize: 10 });
    const seen = new Set<number>();
    for (let i = 0; i < 4; i++) seen.add((await registry.initProducer({})).producerId);
    registry = await reopen({ blockSize: 10 });
    const afterRestart = (await registry.initProducer({})).producerId;
    expect(afterRestart).toBe(10);
    seen.add(afterRestart);
    registry = await reopen({ blockSize: 10 });
    for (let i = 0; i < 12; i++) {
      const { producerId } = await registry.initProducer({});
      expect(seen.has(producerId), `id ${producerId} handed out twice`).toBe(false);
      seen.add(producerId);
    }
    expect(seen.size).toBe(17);
  });

  it('gives a named producer the same id under the next epoch, which fences the older instance on every partition', async () => {
    const registry = await ProducerIdRegistry.open(logs, silentLogger);
    const first = await registry.initProducer({ name: 'billing' });
    const unnamed = await registry.initProducer({});
    expect(first.producerEpoch).toBe(0);
    expect(unnamed.producerId).not.toBe(first.producerId);
    registry.checkNotFenced(first.producerId, 0);
    const second = await registry.initProducer({ name: 'billing' });
    expect(second).toEqual({ producerId: first.producerId, producerEpoch: 1 });
    expect(() => registry.checkNotFenced(first.producerId, 0)).toThrow(ProducerFencedError);
    registry.checkNotFenced(second.producerId, 1);
    // Unnamed ids have nobody to be fenced by.
    registry.checkNotFenced(unnamed.producerId, 0);
    // Another name is another id.
    expect((await registry.initProducer({ name: 'orders' })).producerId).not.toBe(first.producerId);
  });

  it('bumps the latest epoch without moving the fence, answers a retried bump the same, and refuses a bump from a stale epoch', async () => {
    const registry = await ProducerIdRegistry.open(logs, silentLogger);
    const named = await registry.initProducer({ name: 'billing' });
    const bumped = await registry.initProducer({ current: named });
    expect(bumped).toEqual({ producerId: named.producerId, producerEpoch: 1 });
    // The epoch it replaced is the same instance's, maybe still in flight on other partitions.
    registry.checkNotFenced(named.producerId, 0);
    // The same bump asked again (its answer was lost): the same epoch, not PRODUCER_FENCED.
    expect(await registry.initProducer({ current: named })).toEqual(bumped);
    expect(await registry.initProducer({ current: bumped, name: 'billing' })).toEqual({ producerId: named.producerId, producerEpoch: 2 });
    // Older than the bump that made the latest epoch: stale.
    expect(await rejection(registry.initProducer({ current: named }))).toBeInstanceOf(ProducerFencedError);
    // A newer instance by name fences every older epoch, and the old instance can no longer bump.
    const newer = await registry.initProducer({ name: 'billing' });
    expect(newer.producerEpoch).toBe(3);
    expect(() => registry.checkNotFenced(named.producerId, 2)).toThrow(ProducerFencedError);
    expect(await rejection(registry.initProducer({ current: { producerId: named.producerId, producerEpoch: 2 } }))).toBeInstanceOf(ProducerFencedError);
    expect(await rejection(registry.initProducer({ current: newer, name: 'orders' }))).toBeInstanceOf(InvalidArgumentError);

    const unnamed = await registry.initProducer({});
    expect(await registry.initProducer({ current: unnamed })).toEqual({ producerId: unnamed.producerId, producerEpoch: 1 });
    expect(await registry.initProducer({ current: unnamed })).toEqual({ producerId: unnamed.producerId, producerEpoch: 1 });
    expect(await registry.initProducer({ current: { producerId: unnamed.producerId, producerEpoch: 1 } })).toEqual({ producerId: unnamed.producerId, producerEpoch: 2 });
    expect(await rejection(registry.initProducer({ current: unnamed }))).toBeInstanceOf(ProducerFencedError);
    expect(await rejection(registry.initProducer({ current: { producerId: 5_000_000, producerEpoch: 0 } }))).toBeInstanceOf(InvalidArgumentError);
    // The next id of the block is not issued yet either: bumping it would give it an epoch before
    // its first holder gets epoch 0 (whose batches partitions would then refuse as an older epoch).
    const next = unnamed.producerId + 1;
    expect(await rejection(registry.initProducer({ current: { producerId: next, producerEpoch: 0 } }))).toBeInstanceOf(InvalidArgumentError);
    expect(await registry.initProducer({})).toEqual({ producerId: next, producerEpoch: 0 });
    expect(await rejection(registry.initProducer({ current: { producerId: unnamed.producerId, producerEpoch: MAX_PRODUCER_EPOCH + 1 } }))).toBeInstanceOf(InvalidArgumentError);
    expect(await rejection(registry.initProducer({ name: '' }))).toBeInstanceOf(InvalidArgumentError);
  });

  it('rebuilds names, epochs and fences after a restart', async () => {
    let registry = await ProducerIdRegistry.open(logs, silentLogger);
    const old = await registry.initProducer({ name: 'billing' });
    const current = await registry.initProducer({ name: 'billing' });
    const bumped = await registry.initProducer({ current });
    registry = await reopen();
    expect(() => registry.checkNotFenced(old.producerId, old.producerEpoch)).toThrow(ProducerFencedError);
    registry.checkNotFenced(bumped.producerId, bumped.producerEpoch);
    // A bump whose answer a crash lost is answered the same after the restart.
    expect(await registry.initProducer({ current })).toEqual(bumped);
    expect(await rejection(registry.initProducer({ current: old }))).toBeInstanceOf(ProducerFencedError);
    const newer = await registry.initProducer({ name: 'billing' });
    expect(newer).toEqual({ producerId: old.producerId, producerEpoch: bumped.producerEpoch + 1 });
    // A newer instance took the name: the older one's bump, asked again, is fenced now.
    expect(await rejection(registry.initProducer({ current }))).toBeInstanceOf(ProducerFencedError);
    expect(await rejection(registry.initProducer({ current: bumped }))).toBeInstanceOf(ProducerFencedError);
    registry = await reopen();
    expect(await rejection(registry.initProducer({ current }))).toBeInstanceOf(ProducerFencedError);
  });

  it('moves a named producer to a fresh id past epoch 32767, leaving the old id to its instance until a new instance retires it; an unnamed one gets a fresh id', async () => {
    let registry = await ProducerIdRegistry.open(logs, silentLogger);
    const named = await registry.initProducer({ name: 'billing' });
    // 32767 inits would take 32767 fsyncs: the state they leave is written as the registry writes it.
    await logs.partition(PRODUCER_IDS_TOPIC, 0).append(
      encodeRecordBatch([{ key: 'billing', value: JSON.stringify({ type: 'producer', name: 'billing', producerId: named.producerId, epoch: MAX_PRODUCER_EPOCH, fenceEpoch: MAX_PRODUCER_EPOCH }) }]),
      { ackLevel: 'durable' },
    );
    registry = await reopen();
    const atLast = { producerId: named.producerId, producerEpoch: MAX_PRODUCER_EPOCH };
    const moved = await registry.initProducer({ current: atLast });
    expect(moved.producerEpoch).toBe(0);
    expect(moved.producerId).not.toBe(named.producerId);
    // The same instance's other partitions still write the old id: not fenced, but it moves on no more.
    registry.checkNotFenced(named.producerId, MAX_PRODUCER_EPOCH);
    // The move asked again (its answer was lost): the name's id, not PRODUCER_FENCED.
    expect(await registry.initProducer({ current: atLast })).toEqual(moved);
    expect(await rejection(registry.initProducer({ current: { ...atLast, producerEpoch: MAX_PRODUCER_EPOCH - 1 } }))).toBeInstanceOf(ProducerFencedError);
    expect(await registry.initProducer({ current: moved })).toEqual({ producerId: moved.producerId, producerEpoch: 1 });
    expect(await registry.initProducer({ current: atLast }), 'the name has moved on: its newest').toEqual({ producerId: moved.producerId, producerEpoch: 1 });
    // The name now means the new id, also after a restart; a new instance fences both ids.
    registry = await reopen();
    registry.checkNotFenced(named.producerId, MAX_PRODUCER_EPOCH);
    expect(await registry.initProducer({ name: 'billing' })).toEqual({ producerId: moved.producerId, producerEpoch: 2 });
    expect(() => registry.checkNotFenced(named.producerId, MAX_PRODUCER_EPOCH)).toThrow(ProducerFencedError);
    expect(await rejection(registry.initProducer({ current: atLast })), 'retired by the new instance').toBeInstanceOf(ProducerFencedError);
    expect(() => registry.checkNotFenced(moved.producerId, 1)).toThrow(ProducerFencedError);
    registry = await reopen();
    expect(() => registry.checkNotFenced(named.producerId, MAX_PRODUCER_EPOCH)).toThrow(ProducerFencedError);
    registry.checkNotFenced(moved.producerId, 2);

    const unnamed = await registry.initProducer({});
    registry = await reopen();
    // After a restart an unnamed id's epochs are not known: a bump from any epoch of an issued id is granted.
    const fresh = await registry.initProducer({ current: { producerId: unnamed.producerId, producerEpoch: MAX_PRODUCER_EPOCH } });
    expect(fresh.producerEpoch).toBe(0);
    expect(fresh.producerId).toBeGreaterThan(unnamed.producerId);
  });

  it('compacts the topic to its live state: old segments go, and the state after a restart is the same', async () => {
    let registry = await ProducerIdRegistry.open(logs, silentLogger, { blockSize: 2, segmentBytes: 4096 });
    // 'z' used up its epochs: it moved to a fresh id, its old one still unfenced (a previous id).
    const z = await registry.initProducer({ name: 'z' });
    await logs.partition(PRODUCER_IDS_TOPIC, 0).append(
      encodeRecordBatch([{ key: 'z', value: JSON.stringify({ type: 'producer', name: 'z', producerId: z.producerId, epoch: MAX_PRODUCER_EPOCH, fenceEpoch: 0 }) }]),
      { ackLevel: 'durable' },
    );
    registry = await reopen({ blockSize: 2, segmentBytes: 4096 });
    const zMoved = await registry.initProducer({ current: { producerId: z.producerId, producerEpoch: MAX_PRODUCER_EPOCH } });
    const identities = new Map<string, { producerId: number; producerEpoch: number }>();
    for (let round = 0; round < 20; round++) {
      for (const name of ['a', 'b', 'c', 'd', 'e']) identities.set(name, await registry.initProducer({ name }));
      await registry.initProducer({});
    }
    const log = logs.partition(PRODUCER_IDS_TOPIC, 0);
    expect(log.logStartOffset, 'segments below the snapshot were deleted').toBeGreaterThan(0);
    registry = await reopen({ blockSize: 2 });
    for (const [name, identity] of identities) {
      expect(() => registry.checkNotFenced(identity.producerId, identity.producerEpoch - 1)).toThrow(ProducerFencedError);
      expect(await registry.initProducer({ name })).toEqual({ producerId: identity.producerId, producerEpoch: identity.producerEpoch + 1 });
    }
    // The snapshot kept 'z' on its new id, with the old one unfenced until a new instance came.
    registry.checkNotFenced(z.producerId, MAX_PRODUCER_EPOCH);
    expect(await registry.initProducer({ name: 'z' })).toEqual({ producerId: zMoved.producerId, producerEpoch: 1 });
    expect(() => registry.checkNotFenced(z.producerId, MAX_PRODUCER_EPOCH)).toThrow(ProducerFencedError);
    const handedOut = new Set([...identities.values(), z, zMoved].map((i) => i.producerId));
    expect(handedOut.has((await registry.initProducer({})).producerId)).toBe(false);
  });

  it('keeps each name on its current id after a crash between two batches of a compaction snapshot', async () => {
    await logs.close();
    const fs = new FaultyFileSystem();
    logs = await LogManager.open({ dataDir: dir.path, logger: silentLogger, fs });
    let registry = await ProducerIdRegistry.open(logs, silentLogger, { segmentBytes: 4096 });
    const z = await registry.initProducer({ name: 'z' });
    // 6,000 more names (a snapshot of more than one batch: STATE_LOG_BATCH_TARGET_BYTES), written as
    // the registry writes them, in batches that fill segments until a compaction is due; then 'z' at
    // its last epoch.
    const log = logs.partition(PRODUCER_IDS_TOPIC, 0);
    for (let epoch = 0; epoch < 6; epoch++) {
      const named = Array.from({ length: 6_000 }, (_, i) => ({ type: 'producer', name: `n${i}`, producerId: 1_000 + i, epoch, fenceEpoch: epoch }));
      await log.append(encodeRecordBatch(named.map((r) => ({ key: r.name, value: JSON.stringify(r) }))), { ackLevel: 'durable' });
    }
    await log.append(
      encodeRecordBatch([{ type: 'block', endId: 10_000 }, { type: 'producer', name: 'z', producerId: z.producerId, epoch: MAX_PRODUCER_EPOCH, fenceEpoch: 0 }].map((r) => ({ key: null, value: JSON.stringify(r) }))),
      { ackLevel: 'durable' },
    );
    await registry.close();
    await logs.close();
    logs = await LogManager.open({ dataDir: dir.path, logger: silentLogger, fs });
    registry = await ProducerIdRegistry.open(logs, silentLogger);
    // 'z' moves to a fresh id (its record is the first write); the compaction after it writes its
    // snapshot's first batch, and the process dies in the middle of that write, before the second.
    const recordWrite = fs.writevCount + 1;
    let snapshotBatches = 0;
    let died!: () => void;
    const dead = new Promise<void>((resolve) => (died = resolve));
    fs.aroundWritev = async (_path, buffers, position, writev) => {
      if (fs.writevCount <= recordWrite) return writev(buffers, position);
      const bytes = Buffer.concat(buffers);
      for (const _ of iterateBatches(bytes)) snapshotBatches++;
      await writev([bytes.subarray(0, 12 + bytes.readInt32BE(8))], position);
      died();
      return new Promise<void>(() => undefined);
    };
    const zMoved = await registry.initProducer({ current: { producerId: z.producerId, producerEpoch: MAX_PRODUCER_EPOCH } });
    await dead;
    expect(snapshotBatches, 'the snapshot needed a second batch').toBeGreaterThan(1);
    fs.aroundWritev = undefined;
    await fs.crash();
    logs = await LogManager.open({ dataDir: dir.path, logger: silentLogger });
    registry = await ProducerIdRegistry.open(logs, silentLogger);
    // The same instance renumbers a partition: its current id moves on; nobody took the name over.
    expect(await registry.initProducer({ current: zMoved })).toEqual({ producerId: zMoved.producerId, producerEpoch: 1 });
    registry.checkNotFenced(z.producerId, MAX_PRODUCER_EPOCH);
  });

  it('opens on a server whose client topics already hold every partition it may have (an upgrade to a server with __producer_ids)', async () => {
    await logs.close();
    logs = await LogManager.open({ dataDir: dir.path, logger: silentLogger, maxPartitions: 2 });
    await logs.createTopic('orders', 2);
    const registry = await ProducerIdRegistry.open(logs, silentLogger);
    expect((await registry.initProducer({})).producerEpoch).toBe(0);
  });

  it('refuses a new name past maxNamedProducers, and still serves the names it holds', async () => {
    const registry = await ProducerIdRegistry.open(logs, silentLogger, { maxNamedProducers: 2 });
    const a = await registry.initProducer({ name: 'a' });
    await registry.initProducer({ name: 'b' });
    expect(await rejection(registry.initProducer({ name: 'c' }))).toBeInstanceOf(TooManyProducersError);
    expect(await registry.initProducer({ name: 'a' })).toEqual({ producerId: a.producerId, producerEpoch: 1 });
    expect((await registry.initProducer({})).producerEpoch).toBe(0);
  });

  it('hands out no id when __producer_ids is damaged (DATA_LOSS), and opens all the same', async () => {
    const registry = await ProducerIdRegistry.open(logs, silentLogger, { blockSize: 1 });
    for (let i = 0; i < 3; i++) await registry.initProducer({});
    await logs.close();
    // The second batch's base offset, outside the CRC: a header the startup walk refuses.
    const segment = join(dir.path, PRODUCER_IDS_TOPIC, '0', '00000000000000000000.log');
    const bytes = readFileSync(segment);
    const secondBatchAt = 12 + bytes.readInt32BE(8);
    bytes[secondBatchAt + 7]! ^= 0x40;
    writeFileSync(segment, bytes);
    logs = await LogManager.open({ dataDir: dir.path, logger: silentLogger });
    const damaged = await ProducerIdRegistry.open(logs, silentLogger, { blockSize: 1 });
    expect(await rejection(damaged.initProducer({}))).toBeInstanceOf(DataLossError);
    damaged.checkNotFenced(1, 0);
  });

  it('answers an init whose record is durable even when the compaction after it fails (a full disk): no epoch is taken twice', async () => {
    await logs.close();
    const fs = new FaultyFileSystem();
    logs = await LogManager.open({ dataDir: dir.path, logger: silentLogger, fs });
    const registry = await ProducerIdRegistry.open(logs, silentLogger, { segmentBytes: 4096 });
    const log = logs.partition(PRODUCER_IDS_TOPIC, 0);
    // Each init's record is written; any write after it in the same init (the compaction's snapshot,
    // once three segments make one due) finds the disk full.
    let identity = await registry.initProducer({ name: 'a' });
    for (let round = 0; round < 500; round++) {
      const startOffset = log.logStartOffset;
      const recordWrite = fs.writevCount + 1;
      fs.beforeWritev = (_path, count) => {
        if (count > recordWrite) throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
      };
      const next = await registry.initProducer({ name: 'a' });
      // The compaction runs after the record's write, in the state log's writer: wait for it.
      await registry.idle();
      expect(next).toEqual({ producerId: identity.producerId, producerEpoch: identity.producerEpoch + 1 });
      if (fs.writevCount > recordWrite) {
        expect(log.logStartOffset, 'nothing was cut').toBe(startOffset);
        expect(() => registry.checkNotFenced(identity.producerId, identity.producerEpoch)).toThrow(ProducerFencedError);
        return;
      }
      identity = next;
    }
    throw new Error('no compaction was due in 500 inits');
  });
});

