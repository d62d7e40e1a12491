import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { countSegmentsToDelete, type SegmentSummary } from '../../src/storage/retention.js';
import { expectedSegmentsToDelete } from '../helpers/retention-oracle.js';

const NOW_MS = 1_700_000_000_000;
const DAY_MS = 24 * 60 * 60 * 1000;

const segment = (sizeBytes: number, maxTimestampMs: number): SegmentSummary => ({ sizeBytes, maxTimestampMs });
const timeOnly = (retentionMs: number) => ({ retentionMs, retentionBytes: -1 });
const sizeOnly = (retentionBytes: number) => ({ retentionMs: -1, retentionBytes });

describe('countSegmentsToDelete by time', () => {
  it('deletes the closed segments whose newest record is older than retention.ms', () => {
    const old = NOW_MS - 2 * DAY_MS;
    const segments = [segment(100, old), segment(100, old), segment(100, NOW_MS), segment(100, old)];
    expect(countSegmentsToDelete(segments, timeOnly(DAY_MS), NOW_MS)).toBe(2);
  });

  it('stops at the first segment still inside retention, even if older ones follow', () => {
    const old = NOW_MS - 2 * DAY_MS;
    const segments = [segment(100, old), segment(100, NOW_MS - 1000), segment(100, old), segment(100, old)];
    expect(countSegmentsToDelete(segments, timeOnly(DAY_MS), NOW_MS)).toBe(1);
  });

  it('keeps a segment whose newest record is exactly retention.ms old (strictly older expires)', () => {
    const segments = [segment(100, NOW_MS - DAY_MS), segment(100, NOW_MS)];
    expect(countSegmentsToDelete(segments, timeOnly(DAY_MS), NOW_MS)).toBe(0);
    expect(countSegmentsToDelete(segments, timeOnly(DAY_MS), NOW_MS + 1)).toBe(1);
  });

  it('never deletes the active segment, however old', () => {
    const ancient = segment(1_000_000, 0);
    expect(countSegmentsToDelete([ancient], timeOnly(0), NOW_MS)).toBe(0);
    expect(countSegmentsToDelete([ancient, ancient, ancient], timeOnly(0), NOW_MS)).toBe(2);
  });

  it('keeps everything with retention.ms = -1', () => {
    const segments = [segment(100, 0), segment(100, 0), segment(100, 0)];
    expect(countSegmentsToDelete(segments, timeOnly(-1), NOW_MS)).toBe(0);
  });
});

describe('countSegmentsToDelete by size', () => {
  const four = [segment(100, NOW_MS), segment(100, NOW_MS), segment(100, NOW_MS), segment(100, NOW_MS)];

  it('deletes while what remains stays at or above retention.bytes', () => {
    expect(countSegmentsToDelete(four, sizeOnly(250), NOW_MS)).toBe(1);
    expect(countSegmentsToDelete(four, sizeOnly(200), NOW_MS)).toBe(2);
    expect(countSegmentsToDelete(four, sizeOnly(201), NOW_MS)).toBe(1);
    expect(countSegmentsToDelete(four, sizeOnly(400), NOW_MS)).toBe(0);
    expect(countSegmentsToDelete(four, sizeOnly(10_000), NOW_MS)).toBe(0);
  });

  it('with retention.bytes = 0 deletes every closed segment, never the active one', () => {
    expect(countSegmentsToDelete(four, sizeOnly(0), NOW_MS)).toBe(3);
  });

  it('keeps everything with retention.bytes = -1', () => {
    expect(countSegmentsToDelete(four, sizeOnly(-1), NOW_MS)).toBe(0);
  });

  it('continues past the segments that time already deleted', () => {
    const old = NOW_MS - 2 * DAY_MS;
    const segments = [segment(100, old), segment(100, NOW_MS), segment(100, NOW_MS), segment(100, NOW_MS)];
    // Time deletes one (300 bytes left); size then allows one more (200 left >= 150).
    expect(countSegmentsToDelete(segments, { retentionMs: DAY_MS, retentionBytes: 150 }, NOW_MS)).toBe(2);
    // Size alone would delete two as well: the result is the longer prefix, not the sum.
    expect(countSegmentsToDelete(segments, { retentionMs: DAY_MS, retentionBytes: 200 }, NOW_MS)).toBe(2);
    expect(countSegmentsToDelete(segments, { retentionMs: DAY_MS, retentionBytes: 1000 }, NOW_MS)).toBe(1);
  });
});

describe('countSegmentsToDelete against the oracle', () => {
  const retentionMsArbitrary = fc.oneof(fc.constant(-1), fc.constant(0), fc.integer({ min: 0, max: 12 * DAY_MS }));
  const retentionBytesArbitrary = fc.oneof(fc.constant(-1), fc.constant(0), fc.integer({ min: 0, max: 100_000 }));
  /** Segments for a given retention.ms: timestamps often right at the expiry cutoff, where off-by-ones live. */
  const segmentsFor = (retentionMs: number) =>
    fc.array(
      fc.record({
        sizeBytes: fc.oneof(fc.integer({ min: 0, max: 5000 }), fc.constant(1024)),
        maxTimestampMs: fc.oneof(
          fc.constant(-1),
          fc.integer({ min: -2, max: 2 }).map((d) => NOW_MS - (retentionMs === -1 ? DAY_MS : retentionMs) + d),
          fc.integer({ min: NOW_MS - 10 * DAY_MS, max: NOW_MS + DAY_MS }),
        ),
      }),
      { minLength: 1, maxLength: 30 },
    );
  const caseArbitrary = fc
    .tuple(retentionMsArbitrary, retentionBytesArbitrary)
    .chain(([retentionMs, retentionBytes]) => segmentsFor(retentionMs).map((segments) => ({ segments, retentionMs, retentionBytes })));
  const segmentsArbitrary = segmentsFor(DAY_MS);

  it('deletes exactly the prefix the oracle names, never the active segment', () => {
    fc.assert(
      fc.property(caseArbitrary, ({ segments, retentionMs, retentionBytes }) => {
        const retention = { retentionMs, retentionBytes };
        const count = countSegmentsToDelete(segments, retention, NOW_MS);
        expect(count).toBe(expectedSegmentsToDelete(segments, retention, NOW_MS));
        expect(count).toBeGreaterThanOrEqual(0);
        expect(count).toBeLessThanOrEqual(segments.length - 1);
        // What is left obeys retention.bytes whenever size deleted anything beyond time.
        const remaining = segments.slice(count).reduce((total, s) => total + s.sizeBytes, 0);
        if (retentionMs === -1 && retentionBytes !== -1 && count > 0) expect(remaining).toBeGreaterThanOrEqual(retentionBytes);
        // And one more deletion would have been wrong: the next closed segment is neither expired
        // nor removable without going below retention.bytes.
        if (count < segments.length - 1) {
          const next = segments[count]!;
          const isExpired = retentionMs !== -1 && segments.slice(0, count + 1).every((s) => s.maxTimestampMs < NOW_MS - retentionMs);
          const isOverSize = retentionBytes !== -1 && remaining - next.sizeBytes >= retentionBytes;
          expect(isExpired || isOverSize).toBe(false);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('does not depend on the retention settings it is told to ignore', () => {
    fc.assert(
      fc.property(segmentsArbitrary, retentionBytesArbitrary, fc.integer({ min: -1e15, max: 1e15 }), (segments, retentionBytes, nowMs) => {
        // With only size retention, time is irrelevant.
        expect(countSegmentsToDelete(segments, sizeOnly(retentionBytes), nowMs)).toBe(
          countSegmentsToDelete(segments, sizeOnly(retentionBytes), NOW_MS),
        );
      }),
      { numRuns: 200 },
    );
  });
});
