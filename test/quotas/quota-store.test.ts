import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { QUOTAS_TOPIC } from '../../src/core/internal-topics.js';
import { silentLogger } from '../../src/core/logger.js';
import { MAX_QUOTA_ENTITIES, QuotaStore, type QuotaStoreOptions } from '../../src/quotas/quota-store.js';
import type { LogManager } from '../../src/storage/log-manager.js';
import { COMPACT_AT_SEGMENTS } from '../../src/storage/state-log.js';
import { capturingLogger, type LogLine } from '../helpers/capturing-logger.js';
import { useLogManagerFixture } from '../helpers/log-manager-fixture.js';

const UNLIMITED = { producer_byte_rate: null, consumer_byte_rate: null, admin_request_rate: null, max_groups: null, max_connections: null, max_streams: null };

describe('QuotaStore', () => {
  const fixture = useLogManagerFixture('strata-quotas-');
  const open = (manager: LogManager, options: Partial<QuotaStoreOptions> = {}) => QuotaStore.open(manager, { nowMs: () => fixture.clock.nowMs(), logger: silentLogger, defaults: {}, ...options });

  it('sets (merging keys into the entry), removes keys or the whole entry, lists; dry runs write nothing', async () => {
    const manager = await fixture.open();
    const store = await open(manager);
    expect(await store.set('alice', { producer_byte_rate: 1_000_000 }, 'root', { isDryRun: true })).toEqual({ isChanged: true, entity: 'alice', previous: {}, values: { producer_byte_rate: 1_000_000 } });
    expect(store.list()).toEqual([]);
    expect(manager.partition(QUOTAS_TOPIC, 0).logEndOffset).toBe(0);
    await store.set('alice', { producer_byte_rate: 1_000_000 }, 'root', { isDryRun: false });
    expect(await store.set('alice', { max_groups: 5, producer_byte_rate: 2_000_000 }, 'root', { isDryRun: false })).toEqual({
      isChanged: true,
      entity: 'alice',
      previous: { producer_byte_rate: 1_000_000 },
      values: { producer_byte_rate: 2_000_000, max_groups: 5 },
    });
    // The same values again: nothing to write.
    const endOffset = manager.partition(QUOTAS_TOPIC, 0).logEndOffset;
    expect(await store.set('alice', { max_groups: 5 }, 'root', { isDryRun: false })).toMatchObject({ isChanged: false });
    expect(manager.partition(QUOTAS_TOPIC, 0).logEndOffset).toBe(endOffset);
    await store.set('*', { consumer_byte_rate: 500 }, 'root', { isDryRun: false });
    await store.set('bob', { max_streams: 10 }, 'root', { isDryRun: false });
    expect(store.list()).toEqual([
      { entity: '*', values: { consumer_byte_rate: 500 } },
      { entity: 'alice', values: { producer_byte_rate: 2_000_000, max_groups: 5 } },
      { entity: 'bob', values: { max_streams: 10 } },
    ]);
    expect(store.list('bob')).toEqual([{ entity: 'bob', values: { max_streams: 10 } }]);
    expect(store.list('carol')).toEqual([]);
    expect(await store.remove('alice', ['max_groups'], 'root', { isDryRun: true })).toMatchObject({ isChanged: true, values: { producer_byte_rate: 2_000_000 } });
    expect(store.list('alice')[0]!.values).toEqual({ producer_byte_rate: 2_000_000, max_groups: 5 });
    await store.remove('alice', ['max_groups'], 'root', { isDryRun: false });
    expect(store.list('alice')[0]!.values).toEqual({ producer_byte_rate: 2_000_000 });
    expect(await store.remove('alice', ['max_streams'], 'root', { isDryRun: false })).toMatchObject({ isChanged: false });
    // Removing the last key removes the entity.
    await store.remove('alice', ['producer_byte_rate'], 'root', { isDryRun: false });
    expect(await store.remove('bob', 'all', 'root', { isDryRun: false })).toEqual({ isChanged: true, entity: 'bob', previous: { max_streams: 10 }, values: {} });
    expect(await store.remove('bob', 'all', 'root', { isDryRun: false })).toMatchObject({ isChanged: false });
    expect(store.list()).toEqual([{ entity: '*', values: { consumer_byte_rate: 500 } }]);
    await store.close();
  });

  it('keeps its entries across a restart, including removals', async () => {
    let manager = await fixture.open();
    let store = await open(manager);
    await store.set('alice', { producer_byte_rate: 1_000, max_groups: 3 }, 'root', { isDryRun: false });
    await store.set('bob', { max_connections: 4 }, 'root', { isDryRun: false });
    await store.set('*', { admin_request_rate: 2.5 }, 'root', { isDryRun: false });
    await store.remove('alice', ['max_groups'], 'root', { isDryRun: false });
    await store.remove('bob', 'all', 'root', { isDryRun: false });
    const before = store.list();
    await store.close();
    await manager.close();
    manager = await fixture.open();
    store = await open(manager);
    expect(store.list()).toEqual(before);
    expect(before).toEqual([
      { entity: '*', values: { admin_request_rate: 2.5 } },
      { entity: 'alice', values: { producer_byte_rate: 1_000 } },
    ]);
    await store.close();
  });

  it('refuses bad keys, bad values, bad entities and empty changes with INVALID_ARGUMENT, changing nothing', async () => {
    const manager = await fixture.open();
    const store = await open(manager);
    await store.set('alice', { max_groups: 2 }, 'root', { isDryRun: false });
    const endOffset = manager.partition(QUOTAS_TOPIC, 0).logEndOffset;
    const refusals = [
      () => store.set('alice', { max_groups: 3, byte_rate: 10 }, 'root', { isDryRun: false }),
      () => store.set('alice', { max_groups: 2.5 }, 'root', { isDryRun: false }),
      () => store.set('alice', { producer_byte_rate: 0 }, 'root', { isDryRun: false }),
      () => store.set('alice', { producer_byte_rate: -1 }, 'root', { isDryRun: false }),
      () => store.set('alice', { producer_byte_rate: Number.POSITIVE_INFINITY }, 'root', { isDryRun: false }),
      () => store.set('alice', { producer_byte_rate: '100' }, 'root', { isDryRun: false }),
      () => store.set('alice', {}, 'root', { isDryRun: false }),
      () => store.set('', { max_groups: 3 }, 'root', { isDryRun: false }),
      () => store.set('x'.repeat(1_025), { max_groups: 3 }, 'root', { isDryRun: false }),
      () => store.remove('alice', ['max_group'], 'root', { isDryRun: false }),
      () => store.remove('alice', [], 'root', { isDryRun: false }),
    ];
    for (const refusal of refusals) {
      await expect(Promise.resolve().then(refusal)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    }
    expect(store.list()).toEqual([{ entity: 'alice', values: { max_groups: 2 } }]);
    expect(manager.partition(QUOTAS_TOPIC, 0).logEndOffset).toBe(endOffset);
    await store.close();
  });

  it('keeps at most maxEntities entities (MAX_QUOTA_ENTITIES by default): a new one past it is refused, existing ones still change', async () => {
    expect(MAX_QUOTA_ENTITIES).toBe(10_000);
    const manager = await fixture.open();
    const store = await open(manager, { maxEntities: 3 });
    for (const entity of ['a', 'b', '*']) await store.set(entity, { max_groups: 1 }, 'root', { isDryRun: false });
    await expect(store.set('c', { max_groups: 1 }, 'root', { isDryRun: false })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/at most 3 entities/) });
    await expect(store.set('c', { max_groups: 1 }, 'root', { isDryRun: true })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await store.set('a', { max_streams: 2 }, 'root', { isDryRun: false });
    await store.remove('b', 'all', 'root', { isDryRun: false });
    await store.set('c', { max_groups: 1 }, 'root', { isDryRun: false });
    expect(store.list().map((entry) => entry.entity)).toEqual(['*', 'a', 'c']);
    await store.close();
  });

  it('resolves principal > * > config defaults key by key, caches per principal, clears the cache and tells listeners on a change', async () => {
    const manager = await fixture.open();
    const store = await open(manager, { defaults: { producer_byte_rate: 100, max_groups: 50 } });
    let changes = 0;
    store.onChange(() => changes++);
    expect(store.quotasFor('alice')).toEqual({ ...UNLIMITED, producer_byte_rate: 100, max_groups: 50 });
    const cached = store.quotasFor('alice');
    expect(store.quotasFor('alice')).toBe(cached);
    await store.set('*', { producer_byte_rate: 200, max_streams: 20 }, 'root', { isDryRun: false });
    expect(changes).toBe(1);
    expect(store.quotasFor('alice')).toEqual({ ...UNLIMITED, producer_byte_rate: 200, max_groups: 50, max_streams: 20 });
    await store.set('alice', { producer_byte_rate: 300 }, 'root', { isDryRun: false });
    expect(store.quotasFor('alice')).toEqual({ ...UNLIMITED, producer_byte_rate: 300, max_groups: 50, max_streams: 20 });
    expect(store.quotasFor('bob')).toEqual({ ...UNLIMITED, producer_byte_rate: 200, max_groups: 50, max_streams: 20 });
    expect(store.resolve('alice')).toEqual([
      { key: 'producer_byte_rate', value: 300, level: 'principal' },
      { key: 'consumer_byte_rate', value: null, level: 'unlimited' },
      { key: 'admin_request_rate', value: null, level: 'unlimited' },
      { key: 'max_groups', value: 50, level: 'config' },
      { key: 'max_connections', value: null, level: 'unlimited' },
      { key: 'max_streams', value: 20, level: 'default' },
    ]);
    // Dry runs and changes that change nothing tell no one.
    await store.set('alice', { producer_byte_rate: 1 }, 'root', { isDryRun: true });
    await store.set('alice', { producer_byte_rate: 300 }, 'root', { isDryRun: false });
    expect(changes).toBe(2);
    await store.remove('alice', 'all', 'root', { isDryRun: false });
    expect(changes).toBe(3);
    expect(store.quotasFor('alice').producer_byte_rate).toBe(200);
    await store.close();
  });

  it('a listener that throws does not fail the change, which is durable', async () => {
    const manager = await fixture.open();
    const lines: LogLine[] = [];
    const store = await open(manager, { logger: capturingLogger(lines, 'error') });
    store.onChange(() => {
      throw new Error('enforcer broke');
    });
    await store.set('alice', { max_groups: 1 }, 'root', { isDryRun: false });
    expect(store.quotasFor('alice').max_groups).toBe(1);
    expect(lines).toEqual([expect.objectContaining({ msg: 'a quota change listener failed' })]);
    await store.close();
  });

  it('compacts __quotas by snapshot: the partition stays within a few segments, and a reopen rebuilds the same entries', async () => {
    let manager = await fixture.open();
    let store = await open(manager, { segmentBytes: 4096 });
    let maxSegments = 0;
    for (let i = 1; i <= 600; i++) {
      await store.set(`p${i % 7}`, { producer_byte_rate: i, max_groups: (i % 5) + 1 }, 'root', { isDryRun: false });
      if (i % 50 === 0) await store.remove(`p${i % 7}`, 'all', 'root', { isDryRun: false });
      maxSegments = Math.max(maxSegments, manager.partition(QUOTAS_TOPIC, 0).segmentCount);
    }
    // Without compaction, ~650 records of ~130 bytes would fill about 20 segments of 4 KiB.
    expect(maxSegments).toBeLessThanOrEqual(COMPACT_AT_SEGMENTS + 1);
    expect(manager.partition(QUOTAS_TOPIC, 0).logStartOffset).toBeGreaterThan(0);
    const before = store.list();
    expect(before.length).toBeGreaterThan(0);
    await store.close();
    await manager.close();
    manager = await fixture.open();
    store = await open(manager, { segmentBytes: 4096 });
    expect(store.list()).toEqual(before);
    await store.close();
  }, 60_000);

  it('with a damaged __quotas: every principal gets the config defaults (logged as DATA LOSS), changes are refused with DATA_LOSS', async () => {
    let manager = await fixture.open();
    let store = await open(manager);
    await store.set('alice', { max_groups: 1 }, 'root', { isDryRun: false });
    await store.set('*', { max_streams: 2 }, 'root', { isDryRun: false });
    await store.close();
    await manager.close();
    // The second batch's base offset, outside the CRC: a header the startup walk refuses.
    const segment = join(fixture.dataDir, QUOTAS_TOPIC, '0', '00000000000000000000.log');
    const bytes = readFileSync(segment);
    const secondBatchAt = 12 + bytes.readInt32BE(8);
    bytes[secondBatchAt + 7]! ^= 0x40;
    writeFileSync(segment, bytes);
    manager = await fixture.open();
    const lines: LogLine[] = [];
    store = await open(manager, { logger: capturingLogger(lines, 'error'), defaults: { max_groups: 100 } });
    expect(lines).toEqual([expect.objectContaining({ msg: expect.stringMatching(/DATA LOSS in __quotas: the quota entries are unknown/) })]);
    expect(store.quotasFor('alice')).toEqual({ ...UNLIMITED, max_groups: 100 });
    expect(store.list()).toEqual([]);
    await expect(store.set('alice', { max_groups: 5 }, 'root', { isDryRun: false })).rejects.toMatchObject({ code: 'DATA_LOSS' });
    await expect(store.remove('alice', 'all', 'root', { isDryRun: true })).rejects.toMatchObject({ code: 'DATA_LOSS' });
    await store.close();
  });
});
