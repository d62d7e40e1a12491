import { DuplicateSequenceError, InvalidArgumentError, OutOfOrderSequenceError, UnknownProducerError } from '../core/errors.js';
import { MAX_BATCHES_PER_PRODUCE_REQUEST, MAX_PRODUCERS_PER_PARTITION, PRODUCER_RECENT_BATCHES } from '../core/limits.js';
import type { BatchHeader } from '../format/record-batch.js';
import type { AppendResult } from '../storage/partition-log.js';

interface RecentBatch {
  firstSequence: number;
  lastSequence: number;
  /**
   * Filled in when the append completes; a retry of a batch still in flight is out of order. Offsets
   * -1 when none of its records was written (all were duplicates by message id).
   */
  result: AppendResult | undefined;
  /**
   * Read back from a log where records of these sequences were dropped as duplicates by message id
   * (the stored batch's sequences start after the previous batch's end): a retry of any part of it is
   * recognised, and the broker tells its records apart by their ids.
   */
  spansDroppedRecords?: boolean;
}

interface ProducerEntry {
  producerEpoch: number;
  nextSequence: number;
  recent: RecentBatch[];
  /** For state rebuilt from the log at startup: the first sequence of this epoch the tail held. */
  restoredFromSequence: number | undefined;
  /** Whether a batch of this epoch was appended since startup (not only restored). */
  hasLiveAppend: boolean;
}

export type Admission =
  | {
      kind: 'append';
      /**
       * `writtenCounts`: records written per batch, when duplicates by message id were dropped (default:
       * every record); offsets -1 when nothing was written.
       */
      onAppended: (result: AppendResult, writtenCounts?: readonly number[]) => void;
      onFailed: () => void;
    }
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
 * from 0 under a new epoch. Held in memory, and rebuilt at startup from the batches at the end of the
 * log (`restore`, see Broker.restoreProducerState): a retry of a batch whose acknowledgement was lost
 * in a restart is answered as a duplicate if the batch is within that tail, refused for good
 * (DuplicateSequenceError: it may be in the log) if it is older; a producer not in the tail at all,
 * or forgotten (LRU), is unknown and may get a batch written twice. Producer id -1 is not tracked.
 */
export class ProducerSequences {
  private readonly producers = new Map<number, ProducerEntry>();

  /**
   * Takes note of a batch read back from the log at startup, as if it had just been appended and
   * acknowledged: a retry of it is answered with these offsets, and the producer's next batch must
   * continue its sequence. Batches must come in log order. `durability` is what the log guarantees
   * for it now (at startup, after recovery: durable).
   */
  restore(header: BatchHeader, durability: AppendResult['durability']): void {
    if (header.producerId < 0 || header.baseSequence < 0) return;
    let entry = this.producers.get(header.producerId);
    let spansDroppedRecords = false;
    if (entry) {
      this.producers.delete(header.producerId);
      this.producers.set(header.producerId, entry);
      // The log is in admission order, so its last batch's epoch is what admit last accepted: a higher
      // one, or (for a producer evicted from the LRU and admitted again) a lower one.
      if (header.producerEpoch !== entry.producerEpoch) {
        entry.producerEpoch = header.producerEpoch;
        entry.recent = [];
        entry.restoredFromSequence = header.baseSequence;
      } else if (header.baseSequence > entry.nextSequence) {
        // A gap within one epoch: records dropped as duplicates by message id (a batch rebuilt without
        // them keeps its last sequence; one whose records all were duplicates left nothing).
        spansDroppedRecords = true;
      }
    } else {
      if (this.producers.size >= MAX_PRODUCERS_PER_PARTITION) this.producers.delete(this.producers.keys().next().value as number);
      entry = { producerEpoch: header.producerEpoch, nextSequence: 0, recent: [], restoredFromSequence: header.baseSequence, hasLiveAppend: false };
      this.producers.set(header.producerId, entry);
    }
    const lastSequence = header.baseSequence + header.lastOffsetDelta;
    entry.recent.push({
      firstSequence: spansDroppedRecords ? entry.nextSequence : header.baseSequence,
      lastSequence,
      result: { baseOffset: header.baseOffset, lastOffset: header.baseOffset + header.lastOffsetDelta, durability },
      ...(spansDroppedRecords ? { spansDroppedRecords } : {}),
    });
    if (entry.recent.length > PRODUCER_RECENT_BATCHES) entry.recent.splice(0, entry.recent.length - PRODUCER_RECENT_BATCHES);
    entry.nextSequence = lastSequence + 1;
  }

  /** Producers tracked (for logs and tests). */
  get producerCount(): number {
    return this.producers.size;
  }

  /**
   * Checks the batches of one request. A request may carry several batches of one producer when their
   * sequences continue one another (the client sends queued batches of a partition together); they
   * are appended together, so their offsets are contiguous, and each is remembered on its own, so a
   * retry of any of them alone is still recognised.
   */
  admit(headers: readonly BatchHeader[]): Admission {
    const first = headers[0];
    if (!first || first.producerId < 0) {
      if (headers.some((h) => h.producerId >= 0)) throw new InvalidArgumentError('a request mixes batches with and without a producer id');
      return { kind: 'untracked' };
    }
    if (headers.length > MAX_BATCHES_PER_PRODUCE_REQUEST) {
      throw new InvalidArgumentError(`a request may carry at most ${MAX_BATCHES_PER_PRODUCE_REQUEST} batches of one producer, not ${headers.length}`);
    }
    for (let i = 1; i < headers.length; i++) {
      const previous = headers[i - 1]!;
      const header = headers[i]!;
      if (header.producerId !== first.producerId || header.producerEpoch !== first.producerEpoch) {
        throw new InvalidArgumentError('the batches of one request must come from one producer and epoch');
      }
      if (header.baseSequence !== previous.baseSequence + previous.lastOffsetDelta + 1) {
        throw new InvalidArgumentError(`the batches of one request must continue one another's sequence: ${header.baseSequence} follows ${previous.baseSequence + previous.lastOffsetDelta}`);
      }
    }
    if (first.baseSequence < 0) throw new InvalidArgumentError(`producer ${first.producerId} sent a batch without a sequence number`);
    const last = headers[headers.length - 1]!;
    const firstSequence = first.baseSequence;
    const lastSequence = last.baseSequence + last.lastOffsetDelta;
    let entry = this.producers.get(first.producerId);
    if (entry) {
      // Least recently used order: move to the end.
      this.producers.delete(first.producerId);
      this.producers.set(first.producerId, entry);
      if (first.producerEpoch < entry.producerEpoch) {
        throw new OutOfOrderSequenceError(`producer ${first.producerId} epoch ${first.producerEpoch} is older than ${entry.producerEpoch}`);
      }
    }
    const isNewEpoch = !entry || first.producerEpoch > entry.producerEpoch;
    if (isNewEpoch) {
      // A sequence that starts anywhere but 0 continues batches this partition never saw in order.
      if (firstSequence !== 0) {
        throw new UnknownProducerError(
          `producer ${first.producerId} epoch ${first.producerEpoch} is unknown to this partition; its sequence must start at 0, not ${firstSequence}`,
        );
      }
      if (!entry) {
        if (this.producers.size >= MAX_PRODUCERS_PER_PARTITION) this.producers.delete(this.producers.keys().next().value as number);
        entry = { producerEpoch: first.producerEpoch, nextSequence: 0, recent: [], restoredFromSequence: undefined, hasLiveAppend: false };
        this.producers.set(first.producerId, entry);
      }
      entry.producerEpoch = first.producerEpoch;
      entry.nextSequence = 0;
      entry.recent = [];
      entry.restoredFromSequence = undefined;
    } else if (firstSequence !== entry!.nextSequence) {
      const duplicate = duplicateResult(entry!.recent, headers);
      if (duplicate) return { kind: 'duplicate', result: duplicate };
      const restoredFrom = entry!.restoredFromSequence;
      if (restoredFrom !== undefined && firstSequence < restoredFrom) {
        // Older than the log's tail held at startup: it may be in the log, and no retry can tell.
        throw new DuplicateSequenceError(
          `producer ${first.producerId} sent sequence ${firstSequence}, older than what this partition kept of it across a restart (from ${restoredFrom}): the batch may already be in the log`,
        );
      }
      if (restoredFrom !== undefined && !entry!.hasLiveAppend && firstSequence > entry!.nextSequence) {
        // The log ends before batches this producer had acknowledged (lost with the page cache under
        // flush=interval): waiting for them is hopeless; renumbering under a new epoch is the way on.
        throw new UnknownProducerError(`producer ${first.producerId} sent sequence ${firstSequence}, but the log holds its batches only up to ${entry!.nextSequence - 1}`);
      }
      throw new OutOfOrderSequenceError(`producer ${first.producerId} sent sequence ${firstSequence}; this partition expects ${entry!.nextSequence}`);
    }
    entry = entry!;
    entry.hasLiveAppend = true;
    const batches: RecentBatch[] = headers.map((h) => ({ firstSequence: h.baseSequence, lastSequence: h.baseSequence + h.lastOffsetDelta, result: undefined }));
    entry.recent.push(...batches);
    if (entry.recent.length > PRODUCER_RECENT_BATCHES) entry.recent.splice(0, entry.recent.length - PRODUCER_RECENT_BATCHES);
    entry.nextSequence = lastSequence + 1;
    const admitted = entry;
    const epoch = first.producerEpoch;
    return {
      kind: 'append',
      // The append failed and left nothing in the log (a full disk is cut back; after an fsync error
      // the partition takes no more writes): the producer's sequence goes back to this batch, so that
      // the same batch sent again is in order instead of OUT_OF_ORDER_SEQUENCE. Batches admitted
      // after it were queued behind it and failed too.
      onFailed: () => {
        admitted.recent = admitted.recent.filter((b) => !batches.includes(b));
        if (this.producers.get(first.producerId) === admitted && admitted.producerEpoch === epoch && admitted.nextSequence > firstSequence) {
          admitted.nextSequence = firstSequence;
        }
      },
      onAppended: (result, writtenCounts) => {
        // One append: the batches got contiguous offsets, in order.
        let baseOffset = result.baseOffset;
        batches.forEach((batch, i) => {
          const writtenCount = writtenCounts?.[i] ?? batch.lastSequence - batch.firstSequence + 1;
          if (writtenCount === 0 || baseOffset < 0) {
            batch.result = { baseOffset: -1, lastOffset: -1, durability: result.durability };
            return;
          }
          const lastOffset = baseOffset + writtenCount - 1;
          batch.result = { baseOffset, lastOffset, durability: result.durability };
          baseOffset = lastOffset + 1;
        });
      },
    };
  }
}

/**
 * The original answer to a retried request, if every batch of it is among the recent ones, already
 * appended, with offsets that follow one another (so one base and last offset describe them all).
 * Batches none of whose records were written (duplicates by message id) add no offsets; when no batch
 * wrote any, both offsets are -1.
 */
function duplicateResult(recent: readonly RecentBatch[], headers: readonly BatchHeader[]): AppendResult | undefined {
  let combined: AppendResult | undefined;
  let durability: AppendResult['durability'] = 'durable';
  for (const header of headers) {
    const lastSequence = header.baseSequence + header.lastOffsetDelta;
    const found = recent.find(
      (b) =>
        (b.firstSequence === header.baseSequence && b.lastSequence === lastSequence) ||
        (b.spansDroppedRecords === true && b.firstSequence <= header.baseSequence && lastSequence <= b.lastSequence),
    )?.result;
    if (!found) return undefined;
    if (found.durability === 'written') durability = 'written';
    if (found.baseOffset < 0) continue;
    if (!combined) combined = { ...found };
    else if (found.baseOffset !== combined.lastOffset + 1) return undefined;
    else {
      combined.lastOffset = found.lastOffset;
      if (found.durability === 'written') combined.durability = 'written';
    }
  }
  return combined ? { ...combined, durability } : { baseOffset: -1, lastOffset: -1, durability };
}
