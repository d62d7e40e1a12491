import { describe, expect, it } from 'vitest';
import { partitionSeriesText, type OwnerSeries, type PartitionMetric } from '../../../src/server/metrics/partition-series-cap.js';
import { parseExposition } from '../../helpers/prometheus-text.js';

const SUMMED: PartitionMetric = { name: 'm', help: 'a metric', fold: 'sum' };
const owner = (topic: string, values: number[], group?: string): OwnerSeries => ({
  owner: group === undefined ? [['topic', topic]] : [['group', group], ['topic', topic]],
  partitions: values.map((_, p) => p),
  values,
});
const series = (text: string) => parseExposition(text).map((s) => [s.labels.group, s.labels.topic, s.labels.partition, s.value].filter((v) => v !== undefined));

describe('per-partition series under the cap', () => {
  it('lists every partition while the cap holds, owners in name order, with HELP and TYPE', () => {
    const { text, droppedCount } = partitionSeriesText(SUMMED, [owner('b', [5]), owner('a', [1, 2])], 3);
    expect(text.split('\n').slice(0, 2)).toEqual(['# HELP m a metric', '# TYPE m gauge']);
    expect(series(text)).toEqual([
      ['a', '0', 1],
      ['a', '1', 2],
      ['b', '0', 5],
    ]);
    expect(droppedCount).toBe(0);
  });

  it('folds whole owners past the cap into one partition="all" series each: sums, or the largest', () => {
    const owners = [owner('a', [1, 2]), owner('b', [3, 4, 5]), owner('c', [6])];
    const summed = partitionSeriesText(SUMMED, owners, 4);
    expect(series(summed.text)).toEqual([
      ['a', '0', 1],
      ['a', '1', 2],
      // b would make 5 > 4: folded; c would fit, but every owner after the first folded one folds too
      ['b', 'all', 12],
      ['c', 'all', 6],
    ]);
    expect(summed.droppedCount).toBe(4);
    expect(series(partitionSeriesText({ ...SUMMED, fold: 'max' }, owners, 4).text)[2]).toEqual(['b', 'all', 5]);
  });

  it('keeps sum by owner right with a cap of zero, and escapes label values', () => {
    const { text, droppedCount } = partitionSeriesText(SUMMED, [owner('t', [10, 20], 'g"1\\'), owner('t', [1], 'g2'), owner('u', [7], 'g"1\\')], 0);
    expect(series(text)).toEqual([
      ['g"1\\', 't', 'all', 30],
      ['g"1\\', 'u', 'all', 7],
      ['g2', 't', 'all', 1],
    ]);
    expect(text).toContain('m{group="g\\"1\\\\",topic="t",partition="all"} 30');
    expect(droppedCount).toBe(4);
  });
});
