import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../../src/core/clock.js';
import { ThroughputSampler } from '../../../../src/server/http/console/throughput-sampler.js';

describe('ThroughputSampler', () => {
  function setUp(options = { intervalMs: 5_000, capacity: 4, maxTopics: 2 }) {
    const clock = new ManualClock(1_000_000);
    const ends = new Map<string, number>();
    const sampler = new ThroughputSampler({ topicEndOffsets: () => [...ends.entries()].map(([topic, endOffsetSum]) => ({ topic, endOffsetSum })) }, clock, options);
    return { clock, ends, sampler };
  }

  it('samples every interval on its clock and gives records per second between samples', () => {
    const { clock, ends, sampler } = setUp();
    ends.set('a', 0);
    sampler.start();
    expect(sampler.series('a')).toEqual([]);
    ends.set('a', 500);
    clock.advance(5_000);
    ends.set('a', 2_000);
    clock.advance(5_000);
    expect(sampler.series('a')).toEqual([
      { atMs: 1_005_000, recordsPerSecond: 100 },
      { atMs: 1_010_000, recordsPerSecond: 300 },
    ]);
    sampler.stop();
    clock.advance(50_000);
    expect(sampler.series('a')).toHaveLength(2);
  });

  it('keeps at most capacity samples per topic and at most maxTopics topics; a topic gone loses its ring', () => {
    const { clock, ends, sampler } = setUp();
    ends.set('a', 0).set('b', 0).set('c', 0);
    sampler.start();
    for (let i = 1; i <= 10; i++) {
      ends.set('a', i * 10);
      clock.advance(5_000);
    }
    // 4 samples kept: 3 rates, the newest.
    expect(sampler.series('a').map((p) => p.atMs)).toEqual([1_040_000, 1_045_000, 1_050_000]);
    expect(sampler.series('a').every((p) => p.recordsPerSecond === 2)).toBe(true);
    expect(sampler.series('b')).toHaveLength(3);
    expect(sampler.series('c')).toEqual([]); // past maxTopics
    ends.delete('a');
    clock.advance(5_000);
    expect(sampler.series('a')).toEqual([]);
    // Its place is free again: c is followed from now on.
    clock.advance(5_000);
    expect(sampler.series('c')).toHaveLength(1);
    sampler.stop();
  });

  it('never shows a negative rate (a topic deleted and created again between samples)', () => {
    const { clock, ends, sampler } = setUp();
    ends.set('a', 1_000);
    sampler.start();
    ends.set('a', 10);
    clock.advance(5_000);
    expect(sampler.series('a')).toEqual([{ atMs: 1_005_000, recordsPerSecond: 0 }]);
    sampler.stop();
  });
});
