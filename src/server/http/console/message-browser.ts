import type { Broker } from '../../../broker/broker.js';
import type { TopicAdmin } from '../../../broker/topic-admin.js';
import type { DecodedRecord } from '../../../format/index.js';
import { OffsetOutOfRangeError, PartitionNotFoundError } from '../../../core/errors.js';
import { HttpError } from '../http-server.js';
import { CONSOLE_LIMITS } from './console-limits.js';
import { scanPartition } from './partition-scan.js';
import { recordView, type RecordView } from './record-view.js';

export type BrowseStart = { offset: number } | { timestampMs: number } | { point: 'earliest' | 'latest' };

export interface BrowseRequest {
  topic: string;
  /** Undefined: every partition of the topic. */
  partition: number | undefined;
  start: BrowseStart;
  /** Only records whose key is exactly this UTF-8 text. */
  key: string | undefined;
  limit: number;
  maxBytes: number;
  /** Fields added to each shown record (the dead-letter page adds what its strata.dlq.* headers say). */
  annotate: ((record: DecodedRecord) => object) | undefined;
}

export interface BrowsePartitionProgress {
  partition: number;
  startOffset: number;
  /** Where a next page of this partition starts. */
  nextOffset: number;
  /** The high watermark when the scan began: records past it are not looked at by this request. */
  endOffset: number;
  /** Every record up to endOffset was looked at. */
  isComplete: boolean;
}

export interface BrowseResult {
  records: RecordView[];
  partitions: BrowsePartitionProgress[];
  /** Why the answer holds fewer records than it might: 'limit', 'maxBytes' or 'scanBytes' (a key filter's scan budget), or none. */
  stoppedBy: 'limit' | 'maxBytes' | 'scanBytes' | null;
  scannedBytes: number;
}

/**
 * The console's message browser: records of one or all partitions of a topic, from an offset, a
 * time, the log start or the newest, optionally only those with a given key. Bounded three ways: at
 * most `limit` records, `maxBytes` of shown text, and CONSOLE_LIMITS.maxScanBytes of log read (a key
 * filter over a large log stops there and says where it got to, so the next page goes on from there).
 * Records come in partition order, each partition's in offset order.
 */
export async function browseMessages(broker: Broker, topics: TopicAdmin, request: BrowseRequest): Promise<BrowseResult> {
  const description = topics.describeTopic(request.topic);
  if (request.partition !== undefined && request.partition >= description.partitionCount) {
    throw new PartitionNotFoundError(request.topic, request.partition, description.partitionCount);
  }
  const partitions = request.partition !== undefined ? [request.partition] : description.partitions.map((p) => p.partition);
  if ('offset' in request.start && partitions.length > 1) {
    throw new HttpError(400, 'BAD_REQUEST', `an offset names a place in one partition: give partition too (the topic has ${partitions.length})`);
  }
  const starts = await startOffsets(broker, topics, request, partitions);
  const budget = { remainingBytes: CONSOLE_LIMITS.maxScanBytes };
  const records: RecordView[] = [];
  let shownChars = 0;
  let stoppedBy: BrowseResult['stoppedBy'] = null;
  const progress: BrowsePartitionProgress[] = [];
  for (const { partition, startOffset, endOffset } of starts) {
    if (stoppedBy !== null) {
      progress.push({ partition, startOffset, nextOffset: startOffset, endOffset, isComplete: startOffset >= endOffset });
      continue;
    }
    const scan = await scanPartition(broker, request.topic, partition, { fromOffset: startOffset, untilOffset: endOffset }, { budget, chunkBytes: CONSOLE_LIMITS.readChunkBytes }, (record) => {
      if (request.key !== undefined && (record.key === null || record.key.toString('utf8') !== request.key)) return true;
      const view: RecordView = { ...recordView(partition, record, CONSOLE_LIMITS.maxFieldBytes), ...request.annotate?.(record) };
      // The first record is shown whatever its size: an answer is never empty only because one record is large.
      if (records.length > 0 && shownChars + view.shownChars > request.maxBytes) {
        stoppedBy = 'maxBytes';
        return false;
      }
      records.push(view);
      shownChars += view.shownChars;
      if (records.length >= request.limit) {
        stoppedBy = 'limit';
        return false;
      }
      return true;
    });
    // A record refused for maxBytes was not shown: the next page starts at it.
    const nextOffset = stoppedBy === 'maxBytes' ? scan.nextOffset - 1 : scan.nextOffset;
    progress.push({ partition, startOffset, nextOffset, endOffset, isComplete: nextOffset >= endOffset });
    if (!scan.isComplete && stoppedBy === null) stoppedBy = 'scanBytes';
  }
  return { records, partitions: progress, stoppedBy, scannedBytes: CONSOLE_LIMITS.maxScanBytes - budget.remainingBytes };
}

async function startOffsets(broker: Broker, topics: TopicAdmin, request: BrowseRequest, partitions: readonly number[]): Promise<Array<{ partition: number; startOffset: number; endOffset: number }>> {
  const description = topics.describeTopic(request.topic);
  const out = [];
  for (const partition of partitions) {
    const p = description.partitions[partition]!;
    // A partition refused for data loss has nothing readable: shown as empty, its status on the topic page.
    if (p.status === 'data-loss') {
      out.push({ partition, startOffset: 0, endOffset: 0 });
      continue;
    }
    const endOffset = p.highWatermark;
    let startOffset: number;
    if ('offset' in request.start) {
      if (request.start.offset < p.logStartOffset || request.start.offset > endOffset) throw new OffsetOutOfRangeError(request.start.offset, p.logStartOffset, endOffset);
      startOffset = request.start.offset;
    } else if ('timestampMs' in request.start) {
      startOffset = await broker.resolveStart(request.topic, partition, { timestampMs: request.start.timestampMs });
    } else if (request.start.point === 'earliest') {
      startOffset = p.logStartOffset;
    } else {
      // The newest records: the last `limit` (shared out over the partitions) before the end.
      const share = Math.max(1, Math.ceil(request.limit / partitions.length));
      startOffset = request.key !== undefined ? p.logStartOffset : Math.max(p.logStartOffset, endOffset - share);
    }
    out.push({ partition, startOffset, endOffset });
  }
  return out;
}
