import { describe, expect, it } from 'vitest';
import { hashOf, type IdBytes, MessageIdIndex, type PendingIds } from '../../src/broker/message-id-index.js';
import { silentLogger } from '../../src/core/logger.js';
import { DEDUPE_EVICTION_LOG_INTERVAL_MS } from '../../src/core/limits.js';
import { capturingLogger, type LogLine } from '../helpers/capturing-logger.js';

const T0 = 1_700_000_000_000;

function makeIndex(maxIdCount = 1_000, logger = silentLogger): MessageIdIndex {
  return new MessageIdIndex({ maxIdCount, logger, topic: 't', partition: 0 });
}

function idBytes(ids: string[]): IdBytes & { hashes: number[] } {
  const bytes = Buffer.from(ids.join(''));
  const starts: number[] = [];
  let at = 0;
  for (const id of ids) {
    starts.push(at);
    at += Buffer.byteLength(id);
  }
  const lengths = ids.map((id) => Buffer.byteLength(id));
  return { bytes, starts, lengths, hashes: ids.map((_, i) => hashOf(bytes, starts[i]!, lengths[i]!)) };
}

/** Admits ids as one append at `nowMs`, written at `positions` (default 0..n-1); settle or fail it. */
function admit(index: MessageIdIndex, ids: string[], nowMs: number, positions = ids.map((_, i) => i)): PendingIds {
  const bytes = idBytes(ids);
  return index.admit(bytes, ids.map((_, i) => i), positions, bytes.hashes, nowMs, nowMs);
}

/** Admits ids as one append written at `baseOffset` (positions 0..n-1), settled at once. */
function append(index: MessageIdIndex, ids: string[], baseOffset: number, nowMs: number): void {
  admit(index, ids, nowMs).settle(baseOffset);
}

function get(index: MessageIdIndex, id: string) {
  const bytes = Buffer.from(id);
  return index.get(bytes, 0, bytes.length);
}

function restore(index: MessageIdIndex, id: string, offset: number, appendTimeMs: number, nowMs: number): void {
  const bytes = Buffer.from(id);
  index.restore(bytes, 0, bytes.length, offset, appendTimeMs, nowMs);
}

describe('MessageIdIndex', () => {
  it('maps an admitted id to its pending append, then to its offset once settled', async () => {
    const index = makeIndex();
    const pending = admit(index, ['a', 'b'], T0, [0, 3]);
    const slot = get(index, 'b');
    expect(typeof slot).toBe('object');
    expect(slot).toMatchObject({ position: 3 });
    pending.settle(10);
    await pending.settled;
    expect(get(index, 'a')).toBe(10);
    expect(get(index, 'b')).toBe(13);
    expect(get(index, 'c')).toBeUndefined();
  });

  it('forgets the ids of a failed append, and its waiters hear the failure', async () => {
    const index = makeIndex();
    append(index, ['old'], 0, T0);
    const pending = admit(index, ['x', 'y'], T0);
    pending.fail(new Error('disk full'));
    await expect(pending.settled).rejects.toThrow('disk full');
    expect(get(index, 'x')).toBeUndefined();
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
    expect(get(index, 'a')).toBeUndefined();
    expect(get(index, 'b')).toBeUndefined();
    expect(get(index, 'c')).toBe(2);
    index.expire(T0 + 10_999, 10_000);
    expect(get(index, 'c')).toBe(2);
    index.expire(T0 + 11_000, 10_000);
    expect(get(index, 'c')).toBeUndefined();
    expect(get(index, 'd')).toBe(3);
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
    expect(get(index, 'a')).toBeUndefined();
    expect([get(index, 'b'), get(index, 'c'), get(index, 'd')]).toEqual([1, 2, 3]);
    append(index, ['e'], 4, T0 + 2);
    expect(get(index, 'b')).toBeUndefined();
    expect(index.evictedIdCount).toBe(2);
    expect(lines.map((l) => l.evictedIdCount)).toEqual([1]);
    // Within the interval: counted, not logged; after it, logged with the count since the last line.
    append(index, ['f'], 5, T0 + 1 + DEDUPE_EVICTION_LOG_INTERVAL_MS);
    expect(lines.map((l) => l.evictedIdCount)).toEqual([1, 2]);
    expect(lines[0]!.msg).toContain('message id index full');
    // The window still works on what is left: c went by count, d, e, f by time.
    index.expire(T0 + DEDUPE_EVICTION_LOG_INTERVAL_MS + 2, DEDUPE_EVICTION_LOG_INTERVAL_MS);
    expect(index.size).toBe(1);
    expect(get(index, 'f')).toBe(5);
  });

  it('restores ids read back from the log in order, keeping the first offset of an id the log holds twice', () => {
    const index = makeIndex(2);
    restore(index, 'a', 0, T0, T0);
    restore(index, 'b', 1, T0, T0);
    restore(index, 'a', 2, T0 + 5, T0);
    expect(get(index, 'a')).toBe(0);
    restore(index, 'c', 3, T0 + 5, T0);
    expect(index.size).toBe(2);
    expect(get(index, 'a')).toBeUndefined();
    expect([get(index, 'b'), get(index, 'c')]).toEqual([1, 3]);
    index.expire(T0 + 100, 100);
    expect(get(index, 'b')).toBeUndefined();
    expect(get(index, 'c')).toBe(3);
  });

  it('keeps a pending id evicted before its append settles out of the index', () => {
    const index = makeIndex(1);
    const first = admit(index, ['a'], T0);
    append(index, ['b'], 1, T0);
    first.settle(0);
    expect(get(index, 'a')).toBeUndefined();
    expect(get(index, 'b')).toBe(1);
    expect(index.size).toBe(1);
  });

  it('matches an exact model through growth, shrinking, arena wrap-around, failed appends and both bounds', () => {
    let seed = 7;
    const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    const maxIdCount = 5_000;
    const windowMs = 10_000;
    const index = makeIndex(maxIdCount);
    type Entry = { id: string; offset: number | undefined; position: number; timeMs: number; append: number };
    let model: Entry[] = [];
    const inFlight: Array<{ pending: PendingIds; append: number; baseOffset: number }> = [];
    const everSeen: string[] = [];
    let nowMs = T0;
    let nextOffset = 0;
    let nextAppend = 0;
    const check = () => {
      expect(index.size).toBe(model.length);
      const byId = new Map(model.map((m) => [m.id, m]));
      for (let k = 0; k < 200; k++) {
        const id = everSeen[Math.floor(random() * everSeen.length)]!;
        const expected = byId.get(id);
        const slot = get(index, id);
        if (!expected) expect(slot, id).toBeUndefined();
        else if (expected.offset === undefined) expect(typeof slot, id).toBe('object');
        else expect(slot, id).toBe(expected.offset);
      }
    };
    let largestBytes = 0;
    let evictedWhileFull = 0;
    for (let step = 0; step < 2_000; step++) {
      // Busy phases fill the index past its bound; quiet ones let the window empty it (and shrink it).
      nowMs += step % 1_000 < 600 ? Math.floor(random() * 5) : Math.floor(random() * 200);
      index.expire(nowMs, windowMs);
      model = model.filter((m) => m.timeMs > nowMs - windowMs);
      if (step % 1_000 < 600 || random() < 0.2) {
        const count = 1 + Math.floor(random() * 40);
        const ids = Array.from({ length: count }, (_, i) => `${step}-${i}-${'x'.repeat(Math.floor(random() * 180))}`);
        everSeen.push(...ids);
        const append = nextAppend++;
        inFlight.push({ pending: admit(index, ids, nowMs), append, baseOffset: nextOffset });
        nextOffset += count;
        model.push(...ids.map((id, position) => ({ id, offset: undefined, position, timeMs: nowMs, append })));
        if (model.length > maxIdCount) model = model.slice(model.length - maxIdCount);
      }
      // Settle or fail the oldest appends in flight, in order.
      while (inFlight.length > 0 && random() < 0.7) {
        const { pending, append, baseOffset } = inFlight.shift()!;
        if (random() < 0.1) {
          pending.fail(new Error('refused'));
          pending.settled.catch(() => undefined);
          model = model.filter((m) => m.append !== append);
        } else {
          pending.settle(baseOffset);
          for (const m of model) if (m.append === append) m.offset = baseOffset + m.position;
        }
      }
      if (step % 20 === 0) check();
      largestBytes = Math.max(largestBytes, index.retainedBytes);
      evictedWhileFull = index.evictedIdCount;
    }
    check();
    // It grew past its first size, hit the count bound, and shrank again once the window emptied it.
    expect(evictedWhileFull).toBeGreaterThan(0);
    expect(largestBytes).toBeGreaterThan(4 * index.retainedBytes);
  });
});
