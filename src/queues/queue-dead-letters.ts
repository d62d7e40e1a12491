import { DEAD_LETTER_HEADERS } from '../core/dead-letter-headers.js';
import { type StrataError, StorageFailedError, StrataError as StrataErrorClass } from '../core/errors.js';
import type { DecodedRecord } from '../format/index.js';
import type { DeadLetterRequest } from './queue-answers.js';
import type { DeadLetter, QueueCoordinatorDependencies } from './queue-coordinator-api.js';
import type { QueueGroup } from './queue-group.js';
import type { QueueStateChange } from './queue-state-changes.js';
import { readRecords } from './queue-log-reads.js';

/** After a failed dead-letter append, an expired record is tried again this much later (it stays acquired meanwhile). */
export const DEAD_LETTER_RETRY_MS = 1_000;
/**
 * After a failure the same append cannot get past by itself (not retriable: a letter too large for the
 * dead-letter topic's max.message.bytes, a topic name it refuses): tried again this much later, as an
 * operator may raise the limit meanwhile, rather than every second (each try writes the error log line).
 */
export const DEAD_LETTER_PERMANENT_RETRY_MS = 60_000;

type Commit = (group: QueueGroup, changes: QueueStateChange[]) => Promise<void>;

/** Records of one partition to dead-letter, why, and the error text per record. */
export type DeadLetterRun = Pick<DeadLetterRequest, 'queue' | 'offsets' | 'cause' | 'reasons'>;

/**
 * Dead-lettering: the records are read from the source log, appended with DEAD_LETTER_HEADERS to the
 * group's dead-letter topic through the DeadLetterWriter (durably), and only then archived with an
 * 'archive' change. Meanwhile they stay acquired, marked in memory so that no answer, expiry or leave
 * touches them. A crash between the two writes leaves them acquired in the state: they expire after the
 * restart and are dead-lettered again (a duplicate there, found by its source coordinates), never lost.
 */
export class QueueDeadLetters {
  constructor(
    private readonly deps: Pick<QueueCoordinatorDependencies, 'topics' | 'deadLetters' | 'clock' | 'logger'>,
    private readonly commit: Commit,
    private readonly isCurrent: (group: QueueGroup) => boolean,
    /** After an archive: the records behind it (their key's next, in key order) may go out now. */
    private readonly onArchived: (group: QueueGroup) => void,
  ) {}

  /** Dead-letters `request`'s records; resolves with the error of each record it could not archive (none: all done). */
  async run(group: QueueGroup, request: DeadLetterRun): Promise<Map<number, StrataError>> {
    const { queue, offsets, cause } = request;
    if (offsets.length === 0) return new Map();
    const deadLetterTopic = queue.topic + group.config.deadLetterTopicSuffix;
    queue.beginDeadLetter(offsets);
    try {
      const view = this.deps.topics.partition(queue.topic, queue.partition);
      const sourcePartitionCount = this.deps.topics.partitionCount(queue.topic) ?? queue.partition + 1;
      const records = await readRecords(view, offsets, `queue group ${group.groupId} dead-lettering ${queue.topic}-${queue.partition}`);
      const nowMs = this.deps.clock.nowMs();
      const letters = offsets.map((offset) => {
        const deliveryCount = queue.get(offset)?.deliveryCount ?? 0;
        return deadLetterOf(records.get(offset)!, { group, topic: queue.topic, partition: queue.partition, offset, deliveryCount, cause, error: request.reasons.get(offset) ?? '', nowMs });
      });
      await this.deps.deadLetters.append(deadLetterTopic, sourcePartitionCount, letters);
    } catch (error) {
      const failure = toStrataError(error);
      if (failure.code === 'BATCH_TOO_LARGE' && offsets.length > 1) {
        // One letter too large for the dead-letter topic fails the append of the run, after the letters
        // before it were written: retried together, those would be written again at every retry and
        // never archived. Each record is tried alone, so the others land (once more) and are archived.
        const errors = new Map<number, StrataError>();
        for (const offset of offsets) for (const [failed, e] of await this.run(group, { ...request, offsets: [offset] })) errors.set(failed, e);
        return errors;
      }
      const log = { groupId: group.groupId, topic: queue.topic, partition: queue.partition, offsets, deadLetterTopic, err: failure };
      if (failure.retriable) {
        queue.failDeadLetter(offsets, this.deps.clock.nowMs() + DEAD_LETTER_RETRY_MS);
        this.deps.logger?.warn(log, 'queue group: dead-letter append failed; the records stay acquired and are tried again');
      } else {
        queue.failDeadLetter(offsets, this.deps.clock.nowMs() + DEAD_LETTER_PERMANENT_RETRY_MS);
        const logError = this.deps.logger?.error?.bind(this.deps.logger) ?? this.deps.logger?.warn.bind(this.deps.logger);
        logError?.(
          { ...log, retryInMs: DEAD_LETTER_PERMANENT_RETRY_MS },
          `queue group: a dead letter cannot be written to ${deadLetterTopic} (${failure.code}); it holds its partition's start offset until it can: fix the cause (for BATCH_TOO_LARGE, raise ${deadLetterTopic}'s max.message.bytes); tried again every ${DEAD_LETTER_PERMANENT_RETRY_MS / 1000} s`,
        );
      }
      return new Map(offsets.map((offset) => [offset, failure]));
    }
    // A reset, delete or forgotten topic meanwhile dropped them: the dead letters stand, nothing to archive.
    if (!this.isCurrent(group) || group.partitionQueue(queue.topic, queue.partition) !== queue) return new Map();
    const archived = offsets.filter((offset) => queue.isDeadLettering(offset) && queue.get(offset)?.state === 'acquired');
    if (archived.length === 0) return new Map();
    try {
      await this.commit(group, [{ type: 'archive', groupId: group.groupId, topic: queue.topic, partition: queue.partition, offsets: archived, cause, atMs: this.deps.clock.nowMs() }]);
    } catch (error) {
      const failure = toStrataError(error);
      return new Map(archived.map((offset) => [offset, failure]));
    }
    this.onArchived(group);
    return new Map();
  }
}

interface LetterSource {
  group: QueueGroup;
  topic: string;
  partition: number;
  offset: number;
  deliveryCount: number;
  cause: string;
  error: string;
  nowMs: number;
}

/** The source record unchanged (key, value, headers, timestamp), DEAD_LETTER_HEADERS after its own headers. */
export function deadLetterOf(record: DecodedRecord, source: LetterSource): DeadLetter {
  const added: Array<[string, string]> = [
    [DEAD_LETTER_HEADERS.sourceTopic, source.topic],
    [DEAD_LETTER_HEADERS.sourcePartition, String(source.partition)],
    [DEAD_LETTER_HEADERS.sourceOffset, String(source.offset)],
    [DEAD_LETTER_HEADERS.group, source.group.groupId],
    [DEAD_LETTER_HEADERS.attempts, String(source.deliveryCount)],
    [DEAD_LETTER_HEADERS.cause, source.cause],
  ];
  if (source.error !== '') added.push([DEAD_LETTER_HEADERS.error, source.error]);
  added.push([DEAD_LETTER_HEADERS.deadLetteredAtMs, String(source.nowMs)]);
  return {
    sourcePartition: source.partition,
    key: record.key,
    value: record.value,
    headers: [...record.headers, ...added.map(([key, value]) => ({ key, value: Buffer.from(value, 'utf8') }))],
    timestampMs: record.timestampMs,
  };
}

export function toStrataError(error: unknown): StrataError {
  if (error instanceof StrataErrorClass) return error;
  return new StorageFailedError(`queue state: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
}
