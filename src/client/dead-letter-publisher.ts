import { DEAD_LETTER_HEADERS, type DeadLetterCause } from '../core/dead-letter-headers.js';
import { InvalidArgumentError, TopicAlreadyExistsError, TopicNotFoundError } from '../core/errors.js';
import { MAX_QUEUE_REASON_BYTES } from '../core/limits.js';
import type { RecordHeader } from '../format/record.js';
import type { ClientChannel } from './client-channel.js';
import type { ConsumedRecord } from './consumed-record.js';
import { Producer } from './producer.js';
import type { RecordMetadata } from './record-sink.js';

/** A record a group member gives up on, and why. */
export interface DeadLetter {
  record: ConsumedRecord;
  /** Handler calls made for it. */
  attempts: number;
  cause: DeadLetterCause;
  /** What the last attempt threw. */
  error: unknown;
}

/** Where a group member's dead letters go: resolves once the letter is durable. */
export interface DeadLetterWriter {
  write(letter: DeadLetter): Promise<RecordMetadata>;
  /** Waits for what is being written, then lets go of the connection's produce stream. */
  close(): Promise<void>;
}

export interface DeadLetterPublisherOptions {
  groupId: string;
  deadLetterTopic: (topic: string) => string;
}

const DEAD_LETTER_HEADER_NAMES: ReadonlySet<string> = new Set(Object.values(DEAD_LETTER_HEADERS));

/**
 * Appends a group member's dead letters to their dead-letter topic (Spring Kafka's
 * DeadLetterPublishingRecoverer): key, value, headers and timestamp as the source record has them,
 * plus DEAD_LETTER_HEADERS (the source coordinates, group, attempts, cause, error text, time), into
 * the source's partition number modulo the dead-letter topic's partition count, with acks durable.
 * A dead-letter topic that does not exist is created with the source topic's partition count (two
 * members racing to create it both go on). Strata's own dead-letter headers already on the record
 * (a record redriven from a dead-letter topic that failed again) are replaced, not repeated, so a
 * reader finds one of each. The producer is made at the first letter: a member that never gives up
 * on a record opens no produce stream.
 */
export class DeadLetterPublisher implements DeadLetterWriter {
  private producer: Producer | undefined;
  /** Partition counts of dead-letter topics, as found (or created) once. */
  private readonly partitionCounts = new Map<string, number>();

  constructor(
    private readonly client: ClientChannel,
    private readonly options: DeadLetterPublisherOptions,
  ) {}

  async write(letter: DeadLetter): Promise<RecordMetadata> {
    const { record } = letter;
    const topic = this.options.deadLetterTopic(record.topic);
    if (typeof topic !== 'string' || topic.length === 0 || topic === record.topic) {
      throw new InvalidArgumentError(`onFailure.deadLetterTopic gave ${JSON.stringify(topic)} for topic '${record.topic}': a dead-letter topic must be a name of its own`);
    }
    const partitionCount = await this.partitionCount(topic, record.topic);
    this.producer ??= new Producer(this.client, { acks: 'durable', lingerMs: 0 });
    return this.producer.send(topic, {
      key: record.key,
      value: record.value,
      headers: deadLetterHeaders(letter, this.options.groupId, this.client.clock.nowMs()),
      timestampMs: record.timestampMs,
      partition: record.partition % partitionCount,
    });
  }

  async close(): Promise<void> {
    await this.producer?.close();
  }

  /** The dead-letter topic's partition count, the topic created first when missing. */
  private async partitionCount(topic: string, sourceTopic: string): Promise<number> {
    const known = this.partitionCounts.get(topic);
    if (known !== undefined) return known;
    const admin = this.client.admin;
    let count: number;
    try {
      count = (await admin.describeTopic(topic)).partitionCount;
    } catch (error) {
      if (!(error instanceof TopicNotFoundError)) throw error;
      const sourceCount = (await admin.describeTopic(sourceTopic)).partitionCount;
      try {
        count = (await admin.createTopic(topic, { partitions: sourceCount })).partitionCount;
      } catch (createError) {
        // Another member created it first.
        if (!(createError instanceof TopicAlreadyExistsError)) throw createError;
        count = (await admin.describeTopic(topic)).partitionCount;
      }
    }
    this.partitionCounts.set(topic, count);
    return count;
  }
}

/** The source record's headers (minus Strata's dead-letter ones) followed by the dead-letter headers. */
export function deadLetterHeaders(letter: DeadLetter, groupId: string, nowMs: number): RecordHeader[] {
  const { record } = letter;
  const text = (value: string | number): Buffer => Buffer.from(String(value), 'utf8');
  return [
    ...record.headers.filter((header) => !DEAD_LETTER_HEADER_NAMES.has(header.key)),
    { key: DEAD_LETTER_HEADERS.sourceTopic, value: text(record.topic) },
    { key: DEAD_LETTER_HEADERS.sourcePartition, value: text(record.partition) },
    { key: DEAD_LETTER_HEADERS.sourceOffset, value: text(record.offset) },
    { key: DEAD_LETTER_HEADERS.group, value: text(groupId) },
    { key: DEAD_LETTER_HEADERS.attempts, value: text(letter.attempts) },
    { key: DEAD_LETTER_HEADERS.cause, value: text(letter.cause) },
    { key: DEAD_LETTER_HEADERS.error, value: cutUtf8(errorText(letter.error), MAX_QUEUE_REASON_BYTES) },
    { key: DEAD_LETTER_HEADERS.deadLetteredAtMs, value: text(nowMs) },
  ];
}

/** What a throw says: an Error's name and message, else the thrown value as text. */
export function errorText(error: unknown): string {
  if (error instanceof Error) return error.message ? `${error.name}: ${error.message}` : error.name;
  return String(error);
}

/** `value` as UTF-8 in at most `maxBytes` bytes, cut before a character rather than inside one. */
export function cutUtf8(value: string, maxBytes: number): Buffer {
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length <= maxBytes) return bytes;
  let end = maxBytes;
  // Back off continuation bytes (10xxxxxx) so the cut falls on a character's first byte.
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end);
}
