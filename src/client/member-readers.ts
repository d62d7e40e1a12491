import { InvalidArgumentError } from '../core/errors.js';
import type { ConsumedRecord } from './consumed-record.js';
import { groupBatches, type GroupBatchHost } from './group-batches.js';
import type { GroupFailurePolicy, RecordHandler } from './group-failure-policy.js';
import { GroupRecordIterator, type GroupIteratorHost } from './group-record-iterator.js';
import { GroupRecordProcessor, type GroupProcessorHost } from './group-record-processor.js';
import { partitionKey } from './member-partitions.js';

/** What a group member's readers need of it. */
export interface MemberReadersHost extends GroupProcessorHost {
  /** process()'s failure policy, if the member has one. */
  readonly failurePolicy: GroupFailurePolicy | undefined;
  /** Lets go of every partition if the member may have been removed from its group. */
  checkSession(nowMs: number): void;
}

/**
 * The ways a group member is read, one per member: iteration (record by record, or in batches),
 * where a record counts as processed once the loop asks for the next one, or process(), where it
 * counts once its handler resolved and a throw follows the failure policy (GroupRecordProcessor).
 * A member with a failure policy is read with process() only: a loop cannot say a record failed.
 */
export class MemberReaders {
  private isIterated = false;
  /** process()'s loop, once it started: the member tells it of revocations, losses and close(). */
  processor: GroupRecordProcessor | undefined;

  constructor(private readonly host: MemberReadersHost) {}

  records(): AsyncIterableIterator<ConsumedRecord> {
    this.take('iteration');
    return new GroupRecordIterator(this.loopHost());
  }

  batches(maxRecords: number): AsyncGenerator<ConsumedRecord[]> {
    this.take('iteration');
    return groupBatches(this.loopHost(), maxRecords);
  }

  process(handler: RecordHandler, signal: AbortSignal | undefined): Promise<void> {
    try {
      this.take('process');
    } catch (error) {
      return Promise.reject(error as Error);
    }
    this.processor = new GroupRecordProcessor(this.host, handler, this.host.failurePolicy);
    return this.processor.runUntilClosed(signal);
  }

  private take(kind: 'iteration' | 'process'): void {
    if (kind === 'iteration' && this.host.failurePolicy) throw new InvalidArgumentError('onFailure applies to process(): a for-await loop cannot tell the consumer that a record failed');
    if (this.processor || (kind === 'process' && this.isIterated)) throw new InvalidArgumentError('a group consumer is read by one loop: process() once, or iteration');
    if (kind === 'iteration') this.isIterated = true;
  }

  /** What the record and batch iterations need of the member. */
  private loopHost(): GroupIteratorHost & GroupBatchHost {
    const { host } = this;
    return {
      clock: host.clock,
      // The record in hand is processed, the loop asks for more: and is the member still in its group?
      beforeNext: (nowMs) => {
        host.partitions.markProcessed();
        host.noteAsked(nowMs);
      },
      checkSession: (nowMs) => host.checkSession(nowMs),
      handOne: (record) => {
        // Revoked while it waited in the buffer: it belongs to another member now. After close()
        // nothing more is handed: it would be processed but never committed.
        const k = partitionKey(record.topic, record.partition);
        if (!host.isHandable(k)) return false;
        host.partitions.handOne(record, k);
        return true;
      },
      handBatch: (records) => {
        const batch = records.filter((r) => host.isHandable(partitionKey(r.topic, r.partition)));
        if (batch.length > 0) host.partitions.hand(batch);
        return batch;
      },
      buffer: host.buffer,
      failure: () => host.failure(),
      close: () => host.close(),
    };
  }
}
