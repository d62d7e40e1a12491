/**
 * Per-partition metrics, written as exposition text directly (prom-client's Gauge costs about 10x more
 * per series, and these are the metrics with thousands of series), under the cardinality rule: one
 * metric shows at most `maxSeries` partitions one by one. Owners (a topic; a group and topic for lag)
 * are taken in order of their label values, whole owners at a time; from the first owner whose
 * partitions would pass the cap on, each owner is one series with `partition="all"` holding the sum
 * of its partitions (or the largest, for ages), and its partitions count as dropped. So a scrape grows
 * with topics, not partitions, past the cap, and `sum by (topic)` stays right for the summed metrics.
 * Which owners are listed one by one is stable while the cap holds: the first ones by name.
 */
export const FOLDED_PARTITION_LABEL = 'all';

/** One owner's partitions and their values (same length, any order). */
export interface OwnerSeries {
  /** The labels other than `partition`, in the order they are written (group, then topic). */
  readonly owner: ReadonlyArray<readonly [name: string, value: string]>;
  readonly partitions: number[];
  readonly values: number[];
}

export interface PartitionMetric {
  readonly name: string;
  readonly help: string;
  readonly fold: 'sum' | 'max';
}

/** The metric's HELP, TYPE and sample lines, and how many partition series were folded. */
export function partitionSeriesText(metric: PartitionMetric, owners: readonly OwnerSeries[], maxSeries: number): { text: string; droppedCount: number } {
  const sorted = owners.map((o) => ({ o, key: o.owner.map(([, value]) => value).join('\u0000') })).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  // One string grown by concatenation (V8 keeps it as a rope until it is written): no array of lines.
  let text = `# HELP ${metric.name} ${escapeHelp(metric.help)}\n# TYPE ${metric.name} gauge\n`;
  let listedCount = 0;
  let droppedCount = 0;
  let isFolding = false;
  for (const { o } of sorted) {
    const prefix = `${metric.name}{${o.owner.map(([name, value]) => `${name}="${escapeLabelValue(value)}"`).join(',')},partition="`;
    if (!isFolding && listedCount + o.partitions.length <= maxSeries) {
      for (let i = 0; i < o.partitions.length; i++) text += `${prefix}${o.partitions[i]!}"} ${formatValue(o.values[i]!)}\n`;
      listedCount += o.partitions.length;
      continue;
    }
    isFolding = true;
    let folded = metric.fold === 'sum' ? 0 : o.values.length > 0 ? -Infinity : 0;
    for (const value of o.values) folded = metric.fold === 'sum' ? folded + value : Math.max(folded, value);
    text += `${prefix}${FOLDED_PARTITION_LABEL}"} ${formatValue(folded)}\n`;
    droppedCount += o.partitions.length;
  }
  return { text, droppedCount };
}

/** Prometheus text format escapes: backslash, double quote and newline in label values. */
export function escapeLabelValue(value: string): string {
  return /[\\"\n]/.test(value) ? value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') : value;
}

function escapeHelp(help: string): string {
  return help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function formatValue(value: number): string {
  if (Number.isInteger(value)) return String(value);
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}
