import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from '@node-rs/crc32';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/logger.js';
import type { OffsetLog, OffsetLogPartition } from '../../src/groups/offset-log.js';
import { OFFSETS_TOPIC, OffsetStore } from '../../src/groups/offset-store.js';
import { LogManager } from '../../src/storage/log-manager.js';
import { encodeRecordBatch } from '../../src/format/record-batch-codec.js';
import { capturingLogger, type LogLine } from '../helpers/capturing-logger.js';
import { makeTempDir } from '../helpers/temp-dir.js';

describe('OffsetStore (__consumer_offsets)', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let logs: LogManager;
  beforeEach(async () => {
    dir = await makeTempDir();
    logs = await LogManager.open({ dataDir: dir.path, logger: silentLogger });
    await logs.createTopic('orders', 4);
  });
  afterEach(async () => {
    await logs.close();
    await dir.remove();
  });

  it('keeps the latest commit per group, topic and partition, and rebuilds it from the log', async () => {
    const store = await OffsetStore.open(logs, () => 1_000, silentLogger);
    await store.commit('g1', 'm1', [{ topic: 'orders', partition: 0, offset: 5 }, { topic: 'orders', partition: 1, offset: 7 }]);
    await store.commit('g1', 'm1', [{ topic: 'orders', partition: 0, offset: 9 }]);
    await store.commit('g2', 'm2', [{ topic: 'orders', partition: 0, offset: 1 }]);
    await store.reset('g2', 'ops@host', [{ topic: 'orders', partition: 0, offset: 0 }]);
    await store.deleteGroup('g3');
    await logs.close();
    logs = await LogManager.open({ dataDir: dir.path, logger: silentLogger });
    const again = await OffsetStore.open(logs, () => 2_000, silentLogger);
    expect(again.groupIds()).toEqual(['g1', 'g2']);
    expect(again.fetch('g1').get('orders')!.get(0)!.offset).toBe(9);
    expect(again.fetch('g1').get('orders')!.get(1)!.offset).toBe(7);
    expect(again.fetch('g2').get('orders')!.get(0)).toMatchObject({ offset: 0, memberId: 'ops@host' });
    await again.deleteGroup('g1');
    expect(again.groupIds()).toEqual(['g2']);
    await expect(again.commit('g2', 'm', [{ topic: 'orders', partition: 0, offset: -1 }])).rejects.toThrow(/non-negative/);
  });

  it('works over any OffsetLog: a commit whose append fails is refused and changes nothing, the next one lands', async () => {
    let failNextAppend = false;
    // The port over the log manager, with appends that can fail (as a full disk or an fsync error would).
    const port: OffsetLog = {
      listTopics: () => logs.listTopics(),
      createTopic: (name, partitionCount, config) => logs.createTopic(name, partitionCount, config),
      partitionCount: (topic) => logs.partitionCount(topic),
      partition: (topic, partition): OffsetLogPartition => {
        const log = logs.partition(topic, partition);
        return Object.assign(Object.create(log) as OffsetLogPartition, {
          append: (batch: Buffer, options: { ackLevel: 'durable' }) => {
            if (failNextAppend) {
              failNextAppend = false;
              return Promise.reject(new Error('injected append failure'));
            }
            return log.append(batch, options);
          },
        });
      },
    };
    const store = await OffsetStore.open(port, () => 1_000, silentLogger);
    await store.commit('g', 'm', [{ topic: 'orders', partition: 0, offset: 5 }]);
    failNextAppend = true;
    await expect(store.commit('g', 'm', [{ topic: 'orders', partition: 0, offset: 9 }])).rejects.toThrow('injected append failure');
    expect(store.fetch('g').get('orders')!.get(0)!.offset).toBe(5);
    await store.commit('g', 'm', [{ topic: 'orders', partition: 0, offset: 10 }]);
    expect(store.fetch('g').get('orders')!.get(0)!.offset).toBe(10);
    const again = await OffsetStore.open(logs, () => 2_000, silentLogger);
    expect(again.fetch('g').get('orders')!.get(0)!.offset).toBe(10);
  });

  it('starts with a damaged partition of __consumer_offsets: the groups it holds fail with DATA_LOSS, never read as having no offsets, and the others work', async () => {
    const store = await OffsetStore.open(logs, () => 1_000, silentLogger);
    const partitionCount = logs.describeTopic(OFFSETS_TOPIC).partitionCount;
    const partitionOf = (groupId: string) => crc32(groupId) % partitionCount;
    const [damagedGroup, healthyGroup] = ['g1', 'g2'];
    expect(partitionOf(damagedGroup)).not.toBe(partitionOf(healthyGroup));
    await store.commit(damagedGroup, 'm1', [{ topic: 'orders', partition: 0, offset: 5 }]);
    await store.commit(damagedGroup, 'm1', [{ topic: 'orders', partition: 0, offset: 6 }]);
    await store.commit(healthyGroup, 'm2', [{ topic: 'orders', partition: 1, offset: 7 }]);
    await logs.close();
    // The second batch's base offset, outside the CRC: a header the startup walk refuses.
    const segment = join(dir.path, OFFSETS_TOPIC, String(partitionOf(damagedGroup)), '00000000000000000000.log');
    const bytes = readFileSync(segment);
    const secondBatchAt = 12 + bytes.readInt32BE(8);
    bytes[secondBatchAt + 7]! ^= 0x40;
    writeFileSync(segment, bytes);
    logs = await LogManager.open({ dataDir: dir.path, logger: silentLogger });
    const lines: LogLine[] = [];
    const again = await OffsetStore.open(logs, () => 2_000, capturingLogger(lines, 'error'));
    expect(lines).toEqual([expect.objectContaining({ msg: expect.stringMatching(/DATA LOSS in __consumer_offsets/), partition: partitionOf(damagedGroup) })]);
    expect(() => again.fetch(damagedGroup)).toThrow(expect.objectContaining({ code: 'DATA_LOSS' }));
    await expect(again.commit(damagedGroup, 'm1', [{ topic: 'orders', partition: 0, offset: 9 }])).rejects.toMatchObject({ code: 'DATA_LOSS' });
    expect(again.fetch(healthyGroup).get('orders')!.get(1)!.offset).toBe(7);
    await again.commit(healthyGroup, 'm2', [{ topic: 'orders', partition: 1, offset: 8 }]);
    await again.forgetTopic('orders');
    expect(again.fetch(healthyGroup).size).toBe(0);
  });

  it('skips records it did not write when it rebuilds (a bad record does not stop the server), and says so', async () => {
    const store = await OffsetStore.open(logs, () => 1_000, silentLogger);
    await store.commit('g1', 'm1', [{ topic: 'orders', partition: 0, offset: 5 }]);
    const partition = logs.partition(OFFSETS_TOPIC, 0);
    const values = ['this is not JSON', '{"type":"commit","groupId":"g1"}', '[1,2]', 'null', '{"type":"unknown","groupId":"g1","atMs":1}'];
    await partition.append(encodeRecordBatch(values.map((value) => ({ key: 'g1', value }))));
    await partition.append(encodeRecordBatch([{ key: 'g1', value: '{}' }], { compression: 'gzip' }));
    const lines: LogLine[] = [];
    const again = await OffsetStore.open(logs, () => 2_000, capturingLogger(lines));
    expect(again.fetch('g1').get('orders')!.get(0)!.offset).toBe(5);
    expect(lines).toEqual([expect.objectContaining({ msg: expect.stringMatching(/skipped/), skipped: values.length + 1 })]);
  });

  it('forgets a deleted topic in every group, also after a replay; a commit after it counts again', async () => {
    const store = await OffsetStore.open(logs, () => 1_000, silentLogger);
    await store.commit('g1', 'm1', [{ topic: 'orders', partition: 0, offset: 5 }, { topic: 'other', partition: 0, offset: 3 }]);
    await store.commit('g2', 'm2', [{ topic: 'orders', partition: 1, offset: 9 }]);
    await store.forgetTopic('orders');
    expect([...store.fetch('g1').keys()]).toEqual(['other']);
    expect(store.groupIds()).toEqual(['g1']);
    await store.commit('g2', 'm2', [{ topic: 'orders', partition: 0, offset: 1 }]);
    await logs.close();
    logs = await LogManager.open({ dataDir: dir.path, logger: silentLogger });
    const again = await OffsetStore.open(logs, () => 2_000, silentLogger);
    expect([...again.fetch('g1').keys()]).toEqual(['other']);
    expect(again.fetch('g2').get('orders')!.get(0)!.offset).toBe(1);
    expect(again.fetch('g2').get('orders')!.has(1)).toBe(false);
  });

  it('forgets a deleted topic also in a group whose first commit to it was still being written (a commit validated before the delete)', async () => {
    let releaseAppends!: () => void;
    const appendsReleased = new Promise<void>((resolve) => (releaseAppends = resolve));
    // The port over the log manager, whose appends wait until released (a slow fsync).
    const port: OffsetLog = {
      listTopics: () => logs.listTopics(),
      createTopic: (name, partitionCount, config) => logs.createTopic(name, partitionCount, config),
      partitionCount: (topic) => logs.partitionCount(topic),
      partition: (topic, partition): OffsetLogPartition => {
        const log = logs.partition(topic, partition);
        return Object.assign(Object.create(log) as OffsetLogPartition, {
          append: async (batch: Buffer, options: { ackLevel: 'durable' }) => {
            await appendsReleased;
            return log.append(batch, options);
          },
        });
      },
    };
    const store = await OffsetStore.open(port, () => 1_000, silentLogger);
    // Validated while 'orders' existed, still being written when TopicAdmin deleted it and asked to forget it.
    const commit = store.commit('g', 'm', [{ topic: 'orders', partition: 0, offset: 5 }]);
    const forgotten = store.forgetTopic('orders');
    releaseAppends();
    await commit;
    await forgotten;
    expect(store.fetch('g').has('orders'), 'an offset of the deleted topic survived its deletion').toBe(false);
    await logs.close();
    logs = await LogManager.open({ dataDir: dir.path, logger: silentLogger });
    const again = await OffsetStore.open(logs, () => 2_000, silentLogger);
    expect(again.fetch('g').has('orders')).toBe(false);
  });

  it('opens on a server whose client topics already hold every partition it may have', async () => {
    await logs.close();
    logs = await LogManager.open({ dataDir: dir.path, logger: silentLogger, maxPartitions: 4 });
    const store = await OffsetStore.open(logs, () => 1_000, silentLogger);
    await store.commit('g', 'm', [{ topic: 'orders', partition: 3, offset: 5 }]);
    expect(store.fetch('g').get('orders')!.get(3)!.offset).toBe(5);
  });

  it('cleans old records: the topic stays bounded however many commits there are', async () => {
    const store = await OffsetStore.open(logs, () => 1_000, silentLogger, { segmentBytes: 4096 });
    const partitionOf = () => [...Array(8).keys()].find((p) => logs.partition(OFFSETS_TOPIC, p).logEndOffset > 0)!;
    for (let i = 0; i < 1_500; i++) await store.commit('busy', 'm', [{ topic: 'orders', partition: i % 4, offset: i }]);
    const log = logs.partition(OFFSETS_TOPIC, partitionOf());
    expect(log.logEndOffset).toBeGreaterThan(1_500);
    // Without cleaning, 1,500 records of ~150 bytes would fill about 55 segments of 4 KiB.
    expect(log.segmentCount).toBeLessThanOrEqual(4);
    expect(log.logStartOffset).toBeGreaterThan(1_000);
    await logs.close();
    logs = await LogManager.open({ dataDir: dir.path, logger: silentLogger });
    const again = await OffsetStore.open(logs, () => 2_000, silentLogger);
    for (let p = 0; p < 4; p++) expect(again.fetch('busy').get('orders')!.get(p)!.offset).toBe(1_496 + p);
  }, 60_000);
});
