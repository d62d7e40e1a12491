import { describe, expect, it } from 'vitest';
import { type ConsumptionReader, unconsumedStartOffset } from '../../src/storage/consumption-progress.js';
import { countConsumedSegments, unconsumedRemoved } from '../../src/storage/retention.js';

/** Segments by their exclusive end offsets, oldest first; the last one is the active segment. */
const ending = (...nextOffsets: number[]) => nextOffsets.map((nextOffset) => ({ nextOffset }));
const queue = (groupId: string, consumedBeforeOffset: number): ConsumptionReader => ({ kind: 'queue', groupId, consumedBeforeOffset });
const consumer = (groupId: string, consumedBeforeOffset: number): ConsumptionReader => ({ kind: 'consumer', groupId, consumedBeforeOffset });

describe('countConsumedSegments (retention.after.ack)', () => {
  const segments = ending(10, 20, 30, 40);
  const table: Array<[string, ConsumptionReader[], number]> = [
    ['no group reads the topic: everything is kept', [], 0],
    ['one queue group acked everything: every closed segment goes, never the active one', [queue('q', 40)], 3],
    ['acked past the active segment start', [queue('q', 35)], 3],
    ['exactly at a segment end: that segment goes (consumedBefore is exclusive)', [queue('q', 20)], 2],
    ['one below a segment end: that segment stays', [queue('q', 19)], 1],
    ['nothing consumed', [queue('q', 0)], 0],
    ['the slowest reader decides', [queue('q', 40), consumer('c', 12)], 1],
    ['a consumer group without a commit (at 0) keeps everything', [queue('q', 40), consumer('c', 0)], 0],
    ['progress below the log start keeps everything still there', [consumer('c', 5)], 0],
  ];
  for (const [name, readers, expected] of table) {
    it(name, () => expect(countConsumedSegments(segments, readers)).toBe(expected));
  }

  it('never deletes the only segment', () => {
    expect(countConsumedSegments(ending(100), [queue('q', 1000)])).toBe(0);
  });
});

describe('unconsumedRemoved', () => {
  it('counts per reader what a move of the log start took unread, leaving out readers that lost nothing', () => {
    const readers = [consumer('ahead', 50), consumer('behind', 25), queue('none', 0), consumer('at-end', 30)];
    expect(unconsumedRemoved(readers, 10, 30)).toEqual([
      { reader: readers[1], records: 5 },
      { reader: readers[2], records: 20 },
    ]);
    expect(unconsumedRemoved([], 10, 30)).toEqual([]);
    expect(unconsumedRemoved(readers, 30, 30)).toEqual([]);
  });
});

describe('unconsumedStartOffset', () => {
  it('is the slowest reader, at least the log start; the log start when no group reads', () => {
    expect(unconsumedStartOffset([], 7)).toBe(7);
    expect(unconsumedStartOffset([consumer('a', 20), queue('b', 12)], 7)).toBe(12);
    expect(unconsumedStartOffset([consumer('a', 0)], 7)).toBe(7);
  });
});
