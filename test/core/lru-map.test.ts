import { describe, expect, it } from 'vitest';
import { LruMap } from '../../src/core/lru-map.js';

describe('LruMap', () => {
  it('keeps at most maxSize entries, dropping the least recently used (a get counts as a use)', () => {
    const map = new LruMap<number, string>(2);
    map.set(1, 'one');
    map.set(2, 'two');
    expect(map.get(1)).toBe('one');
    map.set(3, 'three');
    expect(map.get(2)).toBeUndefined();
    expect([map.get(1), map.get(3), map.size]).toEqual(['one', 'three', 2]);
    // Setting a key that is there replaces it without dropping another.
    map.set(1, 'uno');
    expect([map.get(1), map.get(3), map.size]).toEqual(['uno', 'three', 2]);
  });
});
