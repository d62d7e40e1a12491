/**
 * The cardinality rule for per-partition series: one metric shows at most `maxSeries` partitions one
 * by one. Samples are taken in order of their owner (topic, or group and topic for lag), whole owners
 * at a time; from the first owner whose partitions would pass the cap on, each owner is one series
 * with `partition="all"` holding the sum of its partitions (or the largest, for ages), and its
 * partitions count as dropped. So a scrape grows with topics, not partitions, past the cap, and
 * `sum by (topic)` stays right for the summed metrics. Which owners are listed one by one is stable
 * while the cap holds: the first ones by name.
 */
export const FOLDED_PARTITION_LABEL = 'all';

export interface PartitionSample {
  /** The labels other than `partition` (topic; group and topic). */
  readonly owner: Readonly<Record<string, string>>;
  readonly partition: number;
  readonly value: number;
}

export interface CappedSeries {
  readonly labels: Record<string, string>;
  readonly value: number;
}

export function capPartitionSeries(samples: readonly PartitionSample[], maxSeries: number, fold: 'sum' | 'max'): { series: CappedSeries[]; droppedCount: number } {
  const byOwner = new Map<string, PartitionSample[]>();
  for (const sample of samples) {
    const key = ownerKey(sample.owner);
    let list = byOwner.get(key);
    if (!list) byOwner.set(key, (list = []));
    list.push(sample);
  }
  const series: CappedSeries[] = [];
  let listedCount = 0;
  let droppedCount = 0;
  let isFolding = false;
  for (const key of [...byOwner.keys()].sort()) {
    const list = byOwner.get(key)!;
    if (!isFolding && listedCount + list.length <= maxSeries) {
      for (const { owner, partition, value } of list) series.push({ labels: { ...owner, partition: String(partition) }, value });
      listedCount += list.length;
      continue;
    }
    isFolding = true;
    let folded = fold === 'sum' ? 0 : -Infinity;
    for (const { value } of list) folded = fold === 'sum' ? folded + value : Math.max(folded, value);
    series.push({ labels: { ...list[0]!.owner, partition: FOLDED_PARTITION_LABEL }, value: folded });
    droppedCount += list.length;
  }
  return { series, droppedCount };
}

/** Owners sort by their label values in order (group, then topic): NUL cannot occur in either. */
function ownerKey(owner: Readonly<Record<string, string>>): string {
  return Object.values(owner).join('\u0000');
}
