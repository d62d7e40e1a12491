import { describe, expect, it } from 'vitest';
import { capPartitionSeries, FOLDED_PARTITION_LABEL, type PartitionSample } from '../../../src/server/metrics/partition-series-cap.js';

const samples = (topic: string, values: number[], group?: string): PartitionSample[] =>
  values.map((value, partition) => ({ owner: group === undefined ? { topic } : ({ group, topic } as Record<string, string>), partition, value }));

describe('capPartitionSeries', () => {
  it('lists every partition while the cap holds, owners in name order', () => {
    const { series, droppedCount } = capPartitionSeries([...samples('b', [5]), ...samples('a', [1, 2])], 3, 'sum');
    expect(series).toEqual([
      { labels: { topic: 'a', partition: '0' }, value: 1 },
      { labels: { topic: 'a', partition: '1' }, value: 2 },
      { labels: { topic: 'b', partition: '0' }, value: 5 },
    ]);
    expect(droppedCount).toBe(0);
  });

  it('folds whole owners past the cap into one partition="all" series each: sums, or the largest', () => {
    const input = [...samples('a', [1, 2]), ...samples('b', [3, 4, 5]), ...samples('c', [6])];
    const summed = capPartitionSeries(input, 4, 'sum');
    expect(summed.series).toEqual([
      { labels: { topic: 'a', partition: '0' }, value: 1 },
      { labels: { topic: 'a', partition: '1' }, value: 2 },
      // b would make 5 > 4: folded; c would fit, but everything after the first folded owner folds too
      { labels: { topic: 'b', partition: FOLDED_PARTITION_LABEL }, value: 12 },
      { labels: { topic: 'c', partition: FOLDED_PARTITION_LABEL }, value: 6 },
    ]);
    expect(summed.droppedCount).toBe(4);
    expect(capPartitionSeries(input, 4, 'max').series[2]).toEqual({ labels: { topic: 'b', partition: 'all' }, value: 5 });
  });

  it('keeps sum by owner right, for a cap of zero too', () => {
    const input = [...samples('t', [10, 20], 'g1'), ...samples('t', [1], 'g2'), ...samples('u', [7], 'g1')];
    const { series, droppedCount } = capPartitionSeries(input, 0, 'sum');
    expect(series).toEqual([
      { labels: { group: 'g1', topic: 't', partition: 'all' }, value: 30 },
      { labels: { group: 'g1', topic: 'u', partition: 'all' }, value: 7 },
      { labels: { group: 'g2', topic: 't', partition: 'all' }, value: 1 },
    ]);
    expect(droppedCount).toBe(4);
  });
});
