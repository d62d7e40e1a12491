import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IndexedHeap } from '../../../src/groups/assignors/indexed-heap.js';

describe('IndexedHeap', () => {
  it('always exposes the smallest (key, item) after any push, pop and key change', () => {
    const ITEMS = 12;
    const op = fc.oneof(
      fc.record({ kind: fc.constant('push' as const), item: fc.nat(ITEMS - 1) }),
      fc.record({ kind: fc.constant('pop' as const) }),
      fc.record({ kind: fc.constant('set' as const), item: fc.nat(ITEMS - 1), key: fc.integer({ min: -5, max: 5 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
        const keys = new Array<number>(ITEMS).fill(0);
        const isBefore = (a: number, b: number) => keys[a]! < keys[b]! || (keys[a] === keys[b] && a < b);
        const heap = new IndexedHeap(new Int32Array(ITEMS).fill(-1), isBefore);
        const model = new Set<number>();
        const modelTop = () => [...model].sort((a, b) => (isBefore(a, b) ? -1 : 1))[0];
        for (const o of ops) {
          if (o.kind === 'push' && !model.has(o.item)) {
            heap.push(o.item);
            model.add(o.item);
          } else if (o.kind === 'pop') {
            const top = modelTop();
            expect(heap.pop()).toBe(top);
            if (top !== undefined) model.delete(top);
          } else if (o.kind === 'set') {
            keys[o.item] = o.key;
            if (model.has(o.item)) heap.update(o.item);
          }
          expect(heap.size).toBe(model.size);
          expect(heap.peek()).toBe(modelTop());
          for (let i = 0; i < ITEMS; i++) expect(heap.has(i)).toBe(model.has(i));
        }
      }),
      { numRuns: 300 },
    );
  });
});
