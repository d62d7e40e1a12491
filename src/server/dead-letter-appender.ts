import type { Broker } from '../broker/broker.js';
import type { TopicAdmin } from '../broker/topic-admin.js';
import { TopicAlreadyExistsError, TopicNotFoundError } from '../core/errors.js';
import { encodeRecordBatch } from '../format/index.js';
import type { DeadLetter, DeadLetterWriter } from '../queues/queue-coordinator-api.js';

/**
 * Queue groups' dead-letter writer over the broker (queues/ never imports it: this is the port's
 * implementation the composition root hands the coordinator).
 *
 * - The dead-letter topic is created on demand with the source topic's partition count. A topic made
 *   meanwhile by another group or an operator is used as it is (TOPIC_ALREADY_EXISTS is not a
 *   failure), whatever its partition count: a letter goes to `source partition % partition count`.
 * - Each letter is a batch of its own, with its key, value, headers (the coordinator added
 *   DEAD_LETTER_HEADERS) and timestamp: one record too large for the dead-letter topic's
 *   max.message.bytes then fails alone, not the letters beside it. The batches of one call go in
 *   appends of at most the topic's max.message.bytes each, in order.
 * - Appends are durable (fsynced whatever the topic's flush policy) before `append` resolves: the
 *   coordinator archives the source records only then, so a crash between the two leaves a duplicate
 *   in the dead-letter topic (its headers name its source), never a loss.
 */
export class DeadLetterAppender implements DeadLetterWriter {
  constructor(
    private readonly broker: Broker,
    private readonly topics: TopicAdmin,
  ) {}

  async append(deadLetterTopic: string, sourcePartitionCount: number, letters: readonly DeadLetter[]): Promise<void> {
    if (letters.length === 0) return;
    const partitionCount = await this.ensureTopic(deadLetterTopic, sourcePartitionCount);
    const maxBatchBytes = this.topics.describeTopic(deadLetterTopic).config.maxBatchBytes;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let partition = -1;
    const flush = async () => {
      if (pending.length === 0) return;
      const records = pending.length === 1 ? pending[0]! : Buffer.concat(pending);
      pending = [];
      pendingBytes = 0;
      await this.broker.produce(deadLetterTopic, partition, records, 'durable');
    };
    for (const letter of letters) {
      const letterPartition = letter.sourcePartition % partitionCount;
      const batch = encodeRecordBatch([{ key: letter.key, value: letter.value, headers: letter.headers, timestampMs: letter.timestampMs }]);
      if (letterPartition !== partition || (pending.length > 0 && pendingBytes + batch.length > maxBatchBytes)) await flush();
      partition = letterPartition;
      pending.push(batch);
      pendingBytes += batch.length;
    }
    await flush();
  }

  /** The dead-letter topic's partition count, creating it first if needed. */
  private async ensureTopic(deadLetterTopic: string, sourcePartitionCount: number): Promise<number> {
    try {
      return this.broker.partitionCount(deadLetterTopic);
    } catch (error) {
      if (!(error instanceof TopicNotFoundError)) throw error;
    }
    try {
      await this.topics.createTopic(deadLetterTopic, sourcePartitionCount, {});
    } catch (error) {
      // Two groups (or a group and an operator) creating it at once: the other one's topic serves.
      if (!(error instanceof TopicAlreadyExistsError)) throw error;
    }
    return this.broker.partitionCount(deadLetterTopic);
  }
}
