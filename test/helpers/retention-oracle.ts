/**
 * What retention should delete, stated declaratively (no loop shared with src/storage/retention.ts):
 * - by time: the longest prefix of closed segments whose largest timestamp is older than
 *   `nowMs - retentionMs` (strictly); none when retentionMs is -1;
 * - by size: every closed segment k such that the segments after it still hold at least
 *   `retentionBytes`; suffix sums only shrink, so these form a prefix too; none when -1;
 * - the answer is the longer of the two prefixes. The last (active) segment is never counted.
 */
export function expectedSegmentsToDelete(
  segments: ReadonlyArray<{ sizeBytes: number; maxTimestampMs: number }>,
  retention: { retentionMs: number; retentionBytes: number },
  nowMs: number,
): number {
  const closed = segments.slice(0, -1);
  let byTime = 0;
  if (retention.retentionMs !== -1) {
    const firstKept = closed.findIndex((s) => !(s.maxTimestampMs < nowMs - retention.retentionMs));
    byTime = firstKept === -1 ? closed.length : firstKept;
  }
  let bySize = 0;
  if (retention.retentionBytes !== -1) {
    bySize = closed.filter((_, k) => sum(segments.slice(k + 1).map((s) => s.sizeBytes)) >= retention.retentionBytes).length;
  }
  return Math.max(byTime, bySize);
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
