/**
 * Sets of partitions by topic, the currency of assignment. A plain Map of sorted arrays on the
 * outside (what assignors and the wire use), Map of Sets inside the group for quick membership tests.
 */
export type PartitionSet = Map<string, Set<number>>;

export function toPartitionSet(source: ReadonlyMap<string, readonly number[]> | Iterable<{ topic: string; partitions: readonly number[] }>): PartitionSet {
  const out: PartitionSet = new Map();
  const entries = source instanceof Map ? [...source].map(([topic, partitions]) => ({ topic, partitions })) : [...(source as Iterable<{ topic: string; partitions: readonly number[] }>)];
  for (const { topic, partitions } of entries) {
    if (partitions.length === 0) continue;
    const set = out.get(topic) ?? new Set<number>();
    for (const p of partitions) set.add(p);
    out.set(topic, set);
  }
  return out;
}

/** Sorted by topic, partitions ascending: the stable form for responses and comparisons. */
export function toSortedList(set: PartitionSet): Array<{ topic: string; partitions: number[] }> {
  return [...set]
    .filter(([, partitions]) => partitions.size > 0)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([topic, partitions]) => ({ topic, partitions: [...partitions].sort((a, b) => a - b) }));
}

export function toSortedMap(set: PartitionSet): Map<string, number[]> {
  return new Map(toSortedList(set).map(({ topic, partitions }) => [topic, partitions]));
}

/** a \ b */
export function difference(a: PartitionSet, b: PartitionSet): PartitionSet {
  const out: PartitionSet = new Map();
  for (const [topic, partitions] of a) {
    const other = b.get(topic);
    const rest = [...partitions].filter((p) => !other?.has(p));
    if (rest.length > 0) out.set(topic, new Set(rest));
  }
  return out;
}

export function intersects(a: PartitionSet, b: PartitionSet): boolean {
  for (const [topic, partitions] of a) {
    const other = b.get(topic);
    if (other) for (const p of partitions) if (other.has(p)) return true;
  }
  return false;
}

export function countPartitions(set: PartitionSet): number {
  let n = 0;
  for (const partitions of set.values()) n += partitions.size;
  return n;
}

export function isEmpty(set: PartitionSet): boolean {
  return countPartitions(set) === 0;
}

export function equals(a: PartitionSet, b: PartitionSet): boolean {
  return countPartitions(a) === countPartitions(b) && isEmpty(difference(a, b));
}

export function partitionKey(topic: string, partition: number): string {
  return `${partition}\u0000${topic}`;
}

/** Partitions in both sets. */
export function intersectWith(a: PartitionSet, b: PartitionSet): PartitionSet {
  const out: PartitionSet = new Map();
  for (const [topic, partitions] of a) {
    const other = b.get(topic);
    const both = [...partitions].filter((p) => other?.has(p));
    if (both.length > 0) out.set(topic, new Set(both));
  }
  return out;
}

/** Partitions that have an owner in both assignments, a different one in `after`. */
export function countMoved(before: Map<string, PartitionSet>, after: Map<string, PartitionSet>): number {
  const ownerBefore = new Map<string, string>();
  for (const [memberId, set] of before) for (const [topic, ps] of set) for (const p of ps) ownerBefore.set(`${p}\u0000${topic}`, memberId);
  let moved = 0;
  for (const [memberId, set] of after) for (const [topic, ps] of set) for (const p of ps) {
    const previous = ownerBefore.get(`${p}\u0000${topic}`);
    if (previous !== undefined && previous !== memberId) moved++;
  }
  return moved;
}

/** A subscription as the coordinator keeps it: each topic once, sorted. */
export function normalizeTopics(topics: readonly string[]): string[] {
  return [...new Set(topics)].sort();
}

export function sameTopics(a: readonly string[], b: readonly string[]): boolean {
  const x = normalizeTopics(a);
  const y = normalizeTopics(b);
  return x.length === y.length && x.every((t, i) => t === y[i]);
}
