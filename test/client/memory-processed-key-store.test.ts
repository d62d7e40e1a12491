import { describe, expect, it } from 'vitest';
import { MemoryProcessedKeyStore, MAX_PROCESSED_KEYS } from '../../src/client/memory-processed-key-store.js';
import { InvalidArgumentError } from '../../src/core/errors.js';
import { SeededRandom, seedsFromEnv } from '../helpers/seeded-random.js';

const mark = (store: MemoryProcessedKeyStore, key: string) => store.runOnce(key, () => undefined);

describe('MemoryProcessedKeyStore', () => {
  it('runs the effect for a new key and marks it; a marked key is skipped without running the effect', async () => {
    const store = new MemoryProcessedKeyStore();
    const effects: string[] = [];
    expect(await store.runOnce('a', () => void effects.push('a1'))).toBe(true);
    expect(await store.runOnce('a', () => void effects.push('a2'))).toBe(false);
    expect(await store.runOnce('b', async () => void effects.push('b1'))).toBe(true);
    expect(effects).toEqual(['a1', 'b1']);
    expect(store.has('a')).toBe(true);
    expect(store.size).toBe(2);
  });

  it('marks nothing when the effect throws, so the record runs again', async () => {
    const store = new MemoryProcessedKeyStore();
    const failure = new Error('side effect failed');
    await expect(store.runOnce('a', () => Promise.reject(failure))).rejects.toBe(failure);
    expect(store.has('a')).toBe(false);
    expect(await mark(store, 'a')).toBe(true);
  });

  it('holds at most maxKeys, evicting the least recently marked first', async () => {
    const store = new MemoryProcessedKeyStore({ maxKeys: 3 });
    for (const key of ['a', 'b', 'c', 'd', 'e']) await mark(store, key);
    expect(store.size).toBe(3);
    expect(store.keysByRecency()).toEqual(['c', 'd', 'e']);
    // An evicted key is forgotten: its record would run again.
    expect(await mark(store, 'a')).toBe(true);
    expect(store.keysByRecency()).toEqual(['d', 'e', 'a']);
  });

  it('counts a skipped duplicate as a use: the key seen again outlives keys marked before that', async () => {
    const store = new MemoryProcessedKeyStore({ maxKeys: 3 });
    for (const key of ['a', 'b', 'c']) await mark(store, key);
    expect(await mark(store, 'a')).toBe(false); // a is now the most recently used
    await mark(store, 'd'); // evicts b, the least recently used, not a
    expect(store.keysByRecency()).toEqual(['c', 'a', 'd']);
    expect(store.has('b')).toBe(false);
    // has() is a peek: it does not move the key.
    expect(store.has('c')).toBe(true);
    await mark(store, 'e');
    expect(store.keysByRecency()).toEqual(['a', 'd', 'e']);
  });

  it('stays at its bound under many keys', async () => {
    const store = new MemoryProcessedKeyStore({ maxKeys: 1_000 });
    for (let i = 0; i < 10_000; i++) await mark(store, `k${i}`);
    expect(store.size).toBe(1_000);
    expect(store.keysByRecency()[0]).toBe('k9000');
    expect(store.keysByRecency()[999]).toBe('k9999');
  });

  it.each(seedsFromEnv([1, 2, 3]))('matches a list model of LRU order over random marks and duplicates (seed %i)', async (seed) => {
    const random = new SeededRandom(seed);
    const maxKeys = 7;
    const store = new MemoryProcessedKeyStore({ maxKeys });
    let model: string[] = []; // least recently used first
    for (let step = 0; step < 5_000; step++) {
      const key = `k${random.int(0, 19)}`;
      const isKnown = model.includes(key);
      expect(await mark(store, key), `step ${step}, key ${key}`).toBe(!isKnown);
      model = [...model.filter((k) => k !== key), key].slice(-maxKeys);
      expect(store.keysByRecency(), `step ${step}`).toEqual(model);
    }
  });

  it('refuses a bound it cannot keep', () => {
    expect(() => new MemoryProcessedKeyStore({ maxKeys: 0 })).toThrow(InvalidArgumentError);
    expect(() => new MemoryProcessedKeyStore({ maxKeys: 1.5 })).toThrow(/maxKeys/);
    expect(() => new MemoryProcessedKeyStore({ maxKeys: MAX_PROCESSED_KEYS + 1 })).toThrow(/maxKeys/);
    expect(new MemoryProcessedKeyStore().maxKeys).toBe(100_000);
  });
});
