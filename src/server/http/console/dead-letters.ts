import type { Broker } from '../../../broker/broker.js';
import type { TopicAdmin } from '../../../broker/topic-admin.js';
import { DEAD_LETTER_HEADER_PREFIX, DEFAULT_DEAD_LETTER_SUFFIX, deadLetterInfo } from '../../../core/dead-letter-headers.js';
import { type DecodedRecord, encodeRecordBatch } from '../../../format/index.js';
import type { QueueCoordinatorApi } from '../../../queues/queue-coordinator-api.js';
import { CONSOLE_LIMITS } from './console-limits.js';
import { scanPartition } from './partition-scan.js';

const DEFAULT_SUFFIX = DEFAULT_DEAD_LETTER_SUFFIX;
const DEAD_LETTER_PREFIX = DEAD_LETTER_HEADER_PREFIX;
export { deadLetterInfo };

export interface DeadLetterTopicSummary {
  topic: string;
  sourceTopic: string;
  partitionCount: number;
  /** High watermark minus log start, summed over partitions. */
  records: number;
  queueGroups: string[];
}

/**
 * Dead-letter topics as `strata dlq list` finds them: those queue groups name in their descriptions,
 * and those named `*.dlq`, each with its source topic.
 */
export async function listDeadLetterTopics(topics: TopicAdmin, queues: QueueCoordinatorApi): Promise<DeadLetterTopicSummary[]> {
  const existing = new Set(topics.listTopics().map((t) => t.name));
  const found = new Map<string, { sourceTopic: string; groups: Set<string> }>();
  for (const { groupId } of queues.listGroups()) {
    const description = await queues.describeGroup(groupId).catch(() => undefined); // deleted meanwhile
    for (const partition of description?.partitions ?? []) {
      if (!existing.has(partition.deadLetterTopic)) continue;
      const entry = found.get(partition.deadLetterTopic) ?? { sourceTopic: partition.topic, groups: new Set<string>() };
      entry.groups.add(groupId);
      found.set(partition.deadLetterTopic, entry);
    }
  }
  for (const topic of existing) {
    if (topic.endsWith(DEFAULT_SUFFIX) && topic.length > DEFAULT_SUFFIX.length && !found.has(topic)) found.set(topic, { sourceTopic: topic.slice(0, -DEFAULT_SUFFIX.length), groups: new Set() });
  }
  const out: DeadLetterTopicSummary[] = [];
  for (const [topic, { sourceTopic, groups }] of [...found.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    let description;
    try {
      description = topics.describeTopic(topic);
    } catch {
      continue; // deleted meanwhile
    }
    const records = description.partitions.reduce((sum, p) => sum + Math.max(0, p.highWatermark - p.logStartOffset), 0);
    out.push({ topic, sourceTopic, partitionCount: description.partitionCount, records, queueGroups: [...groups].sort() });
  }
  return out;
}

export interface RedriveRequest {
  deadLetterTopic: string;
  /** Per partition, where to start (default: the log start): a previous answer's nextOffsets, to go on. */
  fromOffsets: ReadonlyMap<number, number>;
  maxRecords: number;
}

export interface RedriveResult {
  /** Records appended to their source topic and partition. */
  appended: number;
  /** Dead letters of a source record already redriven in this request (a crash can dead-letter one twice). */
  duplicates: number;
  /** Dead letters without strata.dlq.source-* headers: left where they are. */
  withoutSource: number;
  perTarget: Record<string, number>;
  /** Per dead-letter partition, where a further request would go on (the end, once complete). */
  nextOffsets: Array<{ partition: number; offset: number }>;
  /** Every dead letter up to the end as of the request was looked at. */
  isComplete: boolean;
}

/**
 * `strata dlq redrive --execute` inside the broker: each dead letter goes back to its source topic and
 * partition with its key, value, headers (strata.dlq.* dropped) and timestamp, appended durably, in
 * dead-letter order per source partition. The dead letters stay in their topic (a log is append-only;
 * redriving the same range again appends them again). At most `maxRecords` per request; the answer's
 * nextOffsets go on from there. A failed append stops the request with its error: what was appended
 * before it stays appended.
 */
export async function redriveDeadLetters(broker: Broker, topics: TopicAdmin, request: RedriveRequest): Promise<RedriveResult> {
  const description = topics.describeTopic(request.deadLetterTopic);
  const result: RedriveResult = { appended: 0, duplicates: 0, withoutSource: 0, perTarget: {}, nextOffsets: [], isComplete: true };
  const seen = new Set<string>();
  // Bounded by maxRecords, not bytes read (every record read is one taken).
  const budget = { remainingBytes: Number.MAX_SAFE_INTEGER };
  let taken = 0;
  for (const p of description.partitions) {
    if (p.status === 'data-loss') continue;
    let offset = Math.max(p.logStartOffset, request.fromOffsets.get(p.partition) ?? p.logStartOffset);
    // A scan stops when maxRecords are taken or pending holds maxRedriveHeldBytes; the held records are
    // appended, then the scan goes on where it stopped.
    while (offset < p.highWatermark && taken < request.maxRecords) {
      const pending: Pending[] = [];
      let pendingBytes = 0;
      const scan = await scanPartition(broker, request.deadLetterTopic, p.partition, { fromOffset: offset, untilOffset: p.highWatermark }, { budget, chunkBytes: CONSOLE_LIMITS.readChunkBytes }, (record) => {
        taken++;
        const info = deadLetterInfo(record.headers);
        if (info.sourceTopic === undefined || info.sourcePartition === undefined || info.sourceOffset === undefined) result.withoutSource++;
        else {
          const coordinates = `${info.sourceTopic}\u0000${info.sourcePartition}\u0000${info.sourceOffset}`;
          if (seen.has(coordinates)) result.duplicates++;
          else {
            seen.add(coordinates);
            pending.push({ record, sourceTopic: info.sourceTopic, sourcePartition: info.sourcePartition });
            pendingBytes += recordBytes(record);
          }
        }
        return taken < request.maxRecords && pendingBytes < MAX_REDRIVE_HELD_BYTES;
      });
      await appendInBatches(broker, topics, pending, result);
      offset = scan.nextOffset;
      if (scan.isComplete) break;
    }
    result.nextOffsets.push({ partition: p.partition, offset });
    if (offset < p.highWatermark) result.isComplete = false;
  }
  return result;
}

/** Dead letters read and not yet appended, at most (then they are appended before the scan goes on). */
const MAX_REDRIVE_HELD_BYTES = 16 * 1024 * 1024;
/** What a record adds to a batch beyond its key, value and headers, at most (varints and attributes). */
const RECORD_OVERHEAD_BYTES = 64;

interface Pending {
  record: DecodedRecord;
  sourceTopic: string;
  sourcePartition: number;
}

function recordBytes(record: DecodedRecord): number {
  return RECORD_OVERHEAD_BYTES + (record.key?.length ?? 0) + (record.value?.length ?? 0) + record.headers.reduce((sum, h) => sum + h.key.length * 3 + (h.value?.length ?? 0) + 16, 0);
}

/**
 * Appends `pending` in order, runs of one target packed into batches within the target topic's
 * max.message.bytes (one fsync per batch, not per record); a record too large alone goes alone and
 * fails as its own produce would.
 */
async function appendInBatches(broker: Broker, topics: TopicAdmin, pending: readonly Pending[], result: RedriveResult): Promise<void> {
  let i = 0;
  while (i < pending.length) {
    const { sourceTopic, sourcePartition } = pending[i]!;
    const maxBatchBytes = topics.describeTopic(sourceTopic).config.maxBatchBytes;
    const run: Pending[] = [];
    let runBytes = 1024; // the batch header, with room to spare
    while (i < pending.length && pending[i]!.sourceTopic === sourceTopic && pending[i]!.sourcePartition === sourcePartition) {
      const bytes = recordBytes(pending[i]!.record);
      if (run.length > 0 && runBytes + bytes > maxBatchBytes) break;
      run.push(pending[i]!);
      runBytes += bytes;
      i++;
    }
    const batch = encodeRecordBatch(
      run.map(({ record }) => ({ key: record.key, value: record.value, headers: record.headers.filter((h) => !h.key.startsWith(DEAD_LETTER_PREFIX)), timestampMs: record.timestampMs })),
    );
    await broker.produce(sourceTopic, sourcePartition, batch, 'durable');
    result.appended += run.length;
    const target = `${sourceTopic}/${sourcePartition}`;
    result.perTarget[target] = (result.perTarget[target] ?? 0) + run.length;
  }
}
