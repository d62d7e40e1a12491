import { InvalidArgumentError, OutOfOrderSequenceError, UnknownProducerError } from '../core/errors.js';
import { MAX_PRODUCERS_PER_PARTITION, PRODUCER_RECENT_BATCHES } from '../core/limits.js';
import type { BatchHeader } from '../format/record-batch.js';
import type { AppendResult } from '../storage/partition-log.js';

interface RecentBatch {
  firstSequence: number;
  lastSequence: number;
  /** Filled in when the append completes; a retry of a batch still in flight is out of order. */
  result: AppendResult | undefined;
}

interface ProducerEntry {
  producerEpoch: number;
  nextSequence: number;
  recent: RecentBatch[];
}

export type Admission =
  | { kind: 'append'; onAppended: (result: AppendResult) => void }
  | { kind: 'duplicate'; result: AppendResult }
  | { kind: 'untracked' };

/**
 * Per-partition producer sequence numbers, after Kafka's idempotent producer: a batch carries its
 * producer id and the sequence number of its first record; the partition accepts it only if it
 * continues that producer's sequence, and answers a retry of one of its last few batches with the
 * original offsets instead of writing it twice. This keeps per-key order through retries with many
 * batches in flight: once a batch fails, the producer's later batches fail too, until it resends them
 * in order.
 *
 * A producer unknown to the partition (new, at a new epoch, or forgotten in a server restart) must
 * start at sequence 0; otherwise UnknownProducerError tells it to renumber its unacknowledged batches
 * from 0 under a new epoch. Held in memory only: after a server restart, a retry of a batch whose
 * acknowledgement was lost in the restart may be written twice. Producer id -1 is not tracked.
 */
export class ProducerSequences {
  private readonly producers = new Map<number, ProducerEntry>();

  admit(headers: readonly BatchHeader[]): Admission {
    const tracked = headers.filter((h) => h.producerId >= 0);
    if (tracked.length === 0) return { kind: 'untracked' };
    if (headers.length !== 1) {
      throw new InvalidArgumentError('a request with a producer id must carry exactly one batch');
    }
    const header = headers[0]!;
    if (header.baseSequence < 0) throw new InvalidArgumentError(`producer ${header.producerId} sent a batch without a sequence number`);
    const firstSequence = header.baseSequence;
    const lastSequence = firstSequence + header.lastOffsetDelta;
    let entry = this.producers.get(header.producerId);
    if (entry) {
      // Least recently used order: move to the end.
      this.producers.delete(header.producerId);
      this.producers.set(header.producerId, entry);
      if (header.producerEpoch < entry.producerEpoch) {
        throw new OutOfOrderSequenceError(`producer ${header.producerId} epoch ${header.producerEpoch} is older than ${entry.producerEpoch}`);
      }
    }
    const isNewEpoch = !entry || header.producerEpoch > entry.producerEpoch;
    if (isNewEpoch) {
      // A sequence that starts anywhere but 0 continues batches this partition never saw in order.
      if (firstSequence !== 0) {
        throw new UnknownProducerError(
          `producer ${header.producerId} epoch ${header.producerEpoch} is unknown to this partition; its sequence must start at 0, not ${firstSequence}`,
        );
      }
      if (!entry) {
        if (this.producers.size >= MAX_PRODUCERS_PER_PARTITION) this.producers.delete(this.producers.keys().next().value as number);
        entry = { producerEpoch: header.producerEpoch, nextSequence: 0, recent: [] };
        this.producers.set(header.producerId, entry);
      }
      entry.producerEpoch = header.producerEpoch;
      entry.nextSequence = 0;
      entry.recent = [];
    } else if (firstSequence !== entry!.nextSequence) {
      const recent = entry!.recent.find((b) => b.firstSequence === firstSequence && b.lastSequence === lastSequence);
      if (recent?.result) return { kind: 'duplicate', result: recent.result };
      throw new OutOfOrderSequenceError(`producer ${header.producerId} sent sequence ${firstSequence}; this partition expects ${entry!.nextSequence}`);
    }
    entry = entry!;
    const batch: RecentBatch = { firstSequence, lastSequence, result: undefined };
    entry.recent.push(batch);
    if (entry.recent.length > PRODUCER_RECENT_BATCHES) entry.recent.shift();
    entry.nextSequence = lastSequence + 1;
    return { kind: 'append', onAppended: (result) => void (batch.result = result) };
  }
}
