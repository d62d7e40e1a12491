import { assert } from '../../core/assert.js';

/**
 * A binary heap of small integer items (member indexes) whose keys live outside the heap and may
 * change: after changing an item's key the caller calls `update(item)`, which restores heap order in
 * O(log n). `isBefore(a, b)` must be a strict total order (break ties on the item itself), so the
 * heap's top is fully determined by the keys and never by the order of pushes.
 *
 * `positions[item]` is the item's index in the heap, or -1 when absent. Several heaps may share one
 * positions array as long as every item lives in at most one of them (the assignor keeps one heap per
 * subscription group over a single array, since a member belongs to exactly one group).
 *
 * Every loop walks one root-to-leaf path, so it runs at most log2(size) + 1 times.
 */
export class IndexedHeap {
  private readonly items: number[] = [];

  constructor(
    private readonly positions: Int32Array,
    private readonly isBefore: (a: number, b: number) => boolean,
  ) {}

  get size(): number {
    return this.items.length;
  }

  peek(): number | undefined {
    return this.items[0];
  }

  has(item: number): boolean {
    const position = this.positions[item] ?? -1;
    return position >= 0 && this.items[position] === item;
  }

  push(item: number): void {
    assert(item >= 0 && item < this.positions.length, `heap item ${item} out of range`);
    assert((this.positions[item] ?? -1) === -1, `item ${item} is already in a heap`);
    this.items.push(item);
    this.positions[item] = this.items.length - 1;
    this.siftUp(this.items.length - 1);
  }

  pop(): number | undefined {
    const top = this.items[0];
    if (top === undefined) return undefined;
    const last = this.items.pop()!;
    this.positions[top] = -1;
    if (last !== top) {
      this.items[0] = last;
      this.positions[last] = 0;
      this.siftDown(0);
    }
    return top;
  }

  /** Restores heap order after `item`'s key changed in either direction. */
  update(item: number): void {
    assert(this.has(item), `item ${item} is not in this heap`);
    const position = this.positions[item]!;
    this.siftDown(this.siftUp(position));
  }

  private siftUp(start: number): number {
    let position = start;
    const item = this.items[position]!;
    while (position > 0) {
      const parentPosition = (position - 1) >> 1;
      const parent = this.items[parentPosition]!;
      if (!this.isBefore(item, parent)) break;
      this.place(parent, position);
      position = parentPosition;
    }
    this.place(item, position);
    return position;
  }

  private siftDown(start: number): void {
    let position = start;
    const item = this.items[position]!;
    const size = this.items.length;
    while (2 * position + 1 < size) {
      const left = 2 * position + 1;
      const right = left + 1;
      let child = left;
      if (right < size && this.isBefore(this.items[right]!, this.items[left]!)) child = right;
      const childItem = this.items[child]!;
      if (!this.isBefore(childItem, item)) break;
      this.place(childItem, position);
      position = child;
    }
    this.place(item, position);
  }

  private place(item: number, position: number): void {
    this.items[position] = item;
    this.positions[item] = position;
  }
}
