import { assert } from '../core/assert.js';
import { encodeRecordBatch } from '../format/record-batch-codec.js';

/** Appends that queued together are packed into batches of about this size (one fsync for all of them). */
export const STATE_LOG_BATCH_TARGET_BYTES = 512 * 1024;
/** Bytes a record adds to its key and value in a batch at most (every varint at its longest). */
const RECORD_OVERHEAD_BYTES = 40;

/** An append of a state log (state-log.ts) waiting for its partition's next write. */
export interface PendingAppend {
  key: string | null;
  texts: string[];
  /** An upper bound of the bytes the values take in a batch. */
  bytes: number;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** JSON of each value, and an upper bound of the bytes they take in a batch under `key`. */
export function encodeValues<T>(key: string | null, values: readonly T[]): { texts: string[]; bytes: number } {
  const keyBytes = key === null ? 0 : Buffer.byteLength(key);
  let bytes = 0;
  const texts = values.map((value) => {
    const text = JSON.stringify(value);
    assert(typeof text === 'string', 'a state value is JSON');
    bytes += RECORD_OVERHEAD_BYTES + keyBytes + Buffer.byteLength(text);
    return text;
  });
  return { texts, bytes };
}

/** The first appends of the queue, removed from it, up to `maxBytes` together (at least one). */
export function takeUpTo(queue: PendingAppend[], maxBytes: number, isKeyBusy: (key: string | null) => boolean = () => false): PendingAppend[] {
  // Appends of a busy key (one with a write in flight) stay queued behind that write, and so does
  // everything after them of their key: the order within a key is kept, the order between keys does
  // not matter. The rest is taken in queue order, up to maxBytes (at least one append).
  const taken: PendingAppend[] = [];
  const left: PendingAppend[] = [];
  const leftKeys = new Set<string | null>();
  let bytes = 0;
  for (const append of queue) {
    if (!leftKeys.has(append.key) && !isKeyBusy(append.key) && (taken.length === 0 || bytes + append.bytes <= maxBytes)) {
      taken.push(append);
      bytes += append.bytes;
    } else {
      left.push(append);
      leftKeys.add(append.key);
    }
  }
  queue.splice(0, queue.length, ...left);
  return taken;
}

export function takeBuffersUpTo(buffers: readonly Buffer[], maxBytes: number): Buffer[][] {
  const groups: Buffer[][] = [];
  let bytes = Number.POSITIVE_INFINITY;
  for (const buffer of buffers) {
    if (bytes + buffer.length > maxBytes) {
      groups.push([]);
      bytes = 0;
    }
    groups[groups.length - 1]!.push(buffer);
    bytes += buffer.length;
  }
  return groups;
}

/**
 * Entries in order, packed into batches of about STATE_LOG_BATCH_TARGET_BYTES: an entry is never
 * split over two batches unless `splitEntries` and it alone exceeds the target (then at value
 * boundaries; each value fits in a batch).
 */
export function packBatches(entries: ReadonlyArray<{ key: string | null; texts: readonly string[]; bytes: number }>, options: { splitEntries: boolean; timestampMs: number }): Buffer[] {
  const batches: Buffer[] = [];
  let records: Array<{ key: string | null; value: string; timestampMs: number }> = [];
  let bytes = 0;
  const flush = () => {
    if (records.length > 0) batches.push(encodeRecordBatch(records));
    records = [];
    bytes = 0;
  };
  for (const entry of entries) {
    if (bytes + entry.bytes > STATE_LOG_BATCH_TARGET_BYTES) flush();
    const isSplit = options.splitEntries && entry.bytes > STATE_LOG_BATCH_TARGET_BYTES;
    const keyBytes = entry.key === null ? 0 : Buffer.byteLength(entry.key);
    for (const text of entry.texts) {
      const valueBytes = RECORD_OVERHEAD_BYTES + keyBytes + Buffer.byteLength(text);
      if (isSplit && bytes + valueBytes > STATE_LOG_BATCH_TARGET_BYTES) flush();
      records.push({ key: entry.key, value: text, timestampMs: options.timestampMs });
      bytes += valueBytes;
    }
  }
  flush();
  return batches;
}
