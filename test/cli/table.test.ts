import { describe, expect, it } from 'vitest';
import { formatTable } from '../../src/cli/cli-context.js';

describe('formatTable', () => {
  it('draws a rule under the head and none between rows', () => {
    expect(formatTable(['topic', 'partitions'], [['orders', 8], ['payments', 12]]).split('\n')).toEqual([
      '┌──────────┬────────────┐',
      '│ topic    │ partitions │',
      '├──────────┼────────────┤',
      '│ orders   │ 8          │',
      '│ payments │ 12         │',
      '└──────────┴────────────┘',
    ]);
  });

  it('draws an empty table as its head alone', () => {
    expect(formatTable(['a'], []).split('\n')).toEqual(['┌───┐', '│ a │', '├───┤', '└───┘']);
  });
});
