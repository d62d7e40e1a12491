import { describe, expect, it } from 'vitest';
import { MessageIdIndex } from '../../src/broker/message-id-index.js';
import { silentLogger } from '../../src/core/logger.js';
import { DEDUPE_EVICTION_LOG_INTERVAL_MS } from '../../src/core/limits.js';
import { capturingLogger, type LogLine } from '../helpers/capturing-logger.js';

const T0 = 1_700_000_000_000;

function makeIndex(maxIdCount = 1_000, logger = silentLogger): MessageIdIndex {
  return new MessageIdIndex({ maxIdCount, logger, topic: 't', partition: 0 });
}

/** Admits ids as one append written at `baseOffset` (positions 0..n-1), settled at once. */
function append(index: MessageIdIndex, ids: string[], baseOffset: number, nowMs: number): void {
  index.admit(ids, ids.map((_, i) => i), nowMs, nowMs).settle(baseOffset);
}

describe('MessageIdIndex', () => {
  it('maps an admitted id to its pending append, then to its offset once settled', async () => {
    const index = makeIndex();
    const pending = index.admit(['a', 'b'], [0, 3], T0, T0);
    const slot = index.get('b');
    expect(typeof slot).toBe('object');
    expect(slot).toMatchObject({ position: 3 });
    pending.settle(10);
    await pending.settled;
    expect(index.get('a')).toBe(10);
    expect(index.get('b')).toBe(13);
    expect(index.get('c')).toBeUndefined();
  });

  it('forgets the ids of a failed append, and its waiters hear the failure', async () => {
    const index = makeIndex();
    append(index, ['old'], 0, T0);
    const pending = index.admit(['x', 'y'], [0, 1], T0, T0);
    pending.fail(new Error('disk full'));
    await expect(pending.settled).rejects.toThrow('disk full');
    expect(index.get('x')).toBeUndefined();
    expect(index.size).toBe(1);
    // The counts behind the window stay right: expiring the old append leaves nothing.
    index.expire(T0 + 1_000, 500);
    expect(index.size).toBe(0);
  });

  it('keeps ids for the window and drops them after it, oldest first, on an injected clock', () => {
    const index = makeIndex();
    append(index, ['a', 'b'], 0, T0);
    append(index, ['c'], 2, T0 + 1_000);
    append(index, ['d'], 3, T0 + 2_000);
    index.expire(T0 + 10_000, 10_000); // exactly the window after a: gone (admitted at or before now - window)
    expect(index.get('a')).toBeUndefined();
    expect(index.get('b')).toBeUndefined();
    expect(index.get('c')).toBe(2);
    index.expire(T0 + 10_999, 10_000);
    expect(index.get('c')).toBe(2);
    index.expire(T0 + 11_000, 10_000);
    expect(index.get('c')).toBeUndefined();
    expect(index.get('d')).toBe(3);
    // A shorter window (the topic config changed) applies at the next call.
    index.expire(T0 + 2_500, 100);
    expect(index.size).toBe(0);
  });

  it('holds at most maxIdCount ids, evicting the oldest first, and counts and logs the evictions once per interval', () => {
    const lines: LogLine[] = [];
    const index = makeIndex(3, capturingLogger(lines));
    append(index, ['a', 'b'], 0, T0);
    append(index, ['c', 'd'], 2, T0 + 1);
    expect(index.size).toBe(3);
    expect(index.get('a')).toBeUndefined();
    expect([index.get('b'), index.get('c'), index.get('d')]).toEqual([1, 2, 3]);
    append(index, ['e'], 4, T0 + 2);
    expect(index.get('b')).toBeUndefined();
    expect(index.evictedIdCount).toBe(2);
    expect(lines.map((l) => l.evictedIdCount)).toEqual([1]);
    // Within the interval: counted, not logged; after it, logged with the count since the last line.
    append(index, ['f'], 5, T0 + 1 + DEDUPE_EVICTION_LOG_INTERVAL_MS);
    expect(lines.map((l) => l.evictedIdCount)).toEqual([1, 2]);
    expect(lines[0]!.msg).toContain('message id index full');
    // The window still works on what is left: c went by count, d, e, f by time.
    index.expire(T0 + DEDUPE_EVICTION_LOG_INTERVAL_MS + 2, DEDUPE_EVICTION_LOG_INTERVAL_MS);
    expect(index.size).toBe(1);
    expect(index.get('f')).toBe(5);
  });

  it('restores ids read back from the log in order, keeping the first offset of an id the log holds twice', () => {
    const index = makeIndex(2);
    index.restore('a', 0, T0, T0);
    index.restore('b', 1, T0, T0);
    index.restore('a', 2, T0 + 5, T0);
    expect(index.get('a')).toBe(0);
    index.restore('c', 3, T0 + 5, T0);
    expect(index.size).toBe(2);
    expect(index.get('a')).toBeUndefined();
    expect([index.get('b'), index.get('c')]).toEqual([1, 3]);
    index.expire(T0 + 100, 100);
    expect(index.get('b')).toBeUndefined();
    expect(index.get('c')).toBe(3);
  });

  it('keeps a pending id evicted before its append settles out of the index', () => {
    const index = makeIndex(1);
    const first = index.admit(['a'], [0], T0, T0);
    append(index, ['b'], 1, T0);
    first.settle(0);
    expect(index.get('a')).toBeUndefined();
    expect(index.get('b')).toBe(1);
    expect(index.size).toBe(1);
  });

  it('stays consistent under a long random run against a simple model', () => {
    let seed = 42;
    const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    const maxIdCount = 50;
    const windowMs = 1_000;
    const index = makeIndex(maxIdCount);
    // Model: ids in admission order with offset and time; failed appends removed.
    let model: Array<{ id: string; offset: number; timeMs: number }> = [];
    let nowMs = T0;
    let nextOffset = 0;
    let nextId = 0;
    for (let step = 0; step < 1_000; step++) {
      nowMs += Math.floor(random() * 50);
      index.expire(nowMs, windowMs);
      model = model.filter((m) => m.timeMs > nowMs - windowMs);
      const ids = Array.from({ length: 1 + Math.floor(random() * 4) }, () => `id-${nextId++}`);
      const pending = index.admit(ids, ids.map((_, i) => i), nowMs, nowMs);
      if (random() < 0.1) {
        pending.fail(new Error('refused'));
        pending.settled.catch(() => undefined);
      } else {
        pending.settle(nextOffset);
        model.push(...ids.map((id, i) => ({ id, offset: nextOffset + i, timeMs: nowMs })));
        nextOffset += ids.length;
      }
      if (model.length > maxIdCount) model = model.slice(model.length - maxIdCount);
      // A failed append's ids count against the bound only while admitted: the model may keep more.
      expect(index.size).toBeLessThanOrEqual(maxIdCount);
      for (const m of model.slice(-maxIdCount)) {
        const slot = index.get(m.id);
        if (slot !== undefined) expect(slot).toBe(m.offset);
      }
      expect(index.size).toBeLessThanOrEqual(model.length);
      // The newest written ids are always there.
      const newest = model[model.length - 1];
      if (newest && newest.timeMs === nowMs) expect(index.get(newest.id)).toBe(newest.offset);
    }
  });
});
