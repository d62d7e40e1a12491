/**
 * Bounds of the console's API: every list is paged and every read capped, so that a page of the
 * console costs the broker a bounded amount of work and memory whatever the data looks like. They live
 * here, not in core/limits.ts: nothing outside the console reads them.
 */
export const CONSOLE_LIMITS = Object.freeze({
  /** Rows of a list (topics, groups, queue groups, partitions) when a request names no limit, and at most. */
  defaultPageRows: 100,
  maxPageRows: 1_000,
  /** Records the message browser returns when a request names no limit, and at most. */
  defaultMessageCount: 50,
  maxMessageCount: 500,
  /** Bytes of decoded keys, values and headers in one answer of the message browser, by default and at most. */
  defaultMessageBytes: 1024 * 1024,
  maxMessageBytes: 8 * 1024 * 1024,
  /** A key, value or header value is shown up to this many bytes; the rest is cut (with isTruncated). */
  maxFieldBytes: 64 * 1024,
  /** Log bytes one browser request reads looking for matches (a key filter scans), over all its partitions. */
  maxScanBytes: 64 * 1024 * 1024,
  /** Bytes read from a log per read call. */
  readChunkBytes: 1024 * 1024,
  /** Dead letters one redrive request appends at most; the answer says where to go on from. */
  maxRedriveRecords: 10_000,
  /** Throughput samples kept per topic (a ring), and how often they are taken. */
  throughputSamples: 120,
  throughputSampleIntervalMs: 5_000,
  /** Topics the throughput sampler follows at most (the server's partition cap bounds them anyway). */
  maxSampledTopics: 10_000,
});
