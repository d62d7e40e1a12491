import { describe, expect, it } from 'vitest';
import { ProducerSequences, type Admission } from '../../src/broker/producer-sequences.js';
import { DuplicateSequenceError, InvalidArgumentError, OutOfOrderSequenceError, UnknownProducerError } from '../../src/core/errors.js';
import { MAX_BATCHES_PER_PRODUCE_REQUEST, MAX_PRODUCER_REQUESTS_IN_FLIGHT_PER_PARTITION } from '../../src/core/limits.js';
import { encodeRecordBatch } from '../../src/format/record-batch-codec.js';
import { readBatchHeader, type BatchHeader } from '../../src/format/record-batch.js';

/** The header of a batch of `count` records of producer `producerId`, starting at `baseSequence`. */
function header(baseSequence: number, count: number, producerId = 7, producerEpoch = 0): BatchHeader {
  const records = Array.from({ length: count }, (_, i) => ({ value: `r${baseSequence + i}`, timestampMs: 1 }));
  return readBatchHeader(encodeRecordBatch(records, { producerId, producerEpoch, baseSequence }));
}

function appended(admission: Admission, baseOffset: number, lastOffset: number): void {
  if (admission.kind !== 'append') throw new Error(`expected an append, got ${admission.kind}`);
  admission.onAppended({ baseOffset, lastOffset, durability: 'durable' });
}

describe('ProducerSequences with several batches in one request', () => {
  it('admits contiguous batches together and recognises a retry of the whole request or of any batch alone', () => {
    const sequences = new ProducerSequences();
    const [a, b, c] = [header(0, 3), header(3, 2), header(5, 4)];
    appended(sequences.admit([a!, b!, c!]), 100, 108);
    expect(sequences.admit([b!])).toEqual({ kind: 'duplicate', result: { baseOffset: 103, lastOffset: 104, durability: 'durable' } });
    expect(sequences.admit([a!, b!, c!])).toEqual({ kind: 'duplicate', result: { baseOffset: 100, lastOffset: 108, durability: 'durable' } });
    expect(sequences.admit([b!, c!])).toEqual({ kind: 'duplicate', result: { baseOffset: 103, lastOffset: 108, durability: 'durable' } });
    // And the sequence goes on after the last batch.
    expect(sequences.admit([header(9, 1)]).kind).toBe('append');
  });

  it('refuses batches of one request that do not continue one another, or mix producers, epochs or untracked batches', () => {
    const sequences = new ProducerSequences();
    expect(() => sequences.admit([header(0, 3), header(4, 1)])).toThrow(InvalidArgumentError);
    expect(() => sequences.admit([header(0, 3), header(3, 1, 8)])).toThrow(InvalidArgumentError);
    expect(() => sequences.admit([header(0, 3), header(3, 1, 7, 1)])).toThrow(InvalidArgumentError);
    expect(() => sequences.admit([header(0, 3), header(-1, 1, -1, -1)])).toThrow(InvalidArgumentError);
    expect(() => sequences.admit([header(-1, 1, -1, -1), header(0, 3)])).toThrow(InvalidArgumentError);
    // Nothing was admitted: the producer is still unknown, so it must start at 0.
    expect(() => sequences.admit([header(3, 1)])).toThrow(UnknownProducerError);
    expect(sequences.admit([header(-1, 2, -1, -1), header(-1, 2, -1, -1)]).kind).toBe('untracked');
  });

  it('does not answer a retry whose batches were appended apart (their offsets do not follow one another)', () => {
    const sequences = new ProducerSequences();
    const [a, b] = [header(0, 2), header(2, 2)];
    appended(sequences.admit([a!]), 0, 1);
    appended(sequences.admit([b!]), 10, 11); // another producer wrote offsets 2..9 in between
    expect(() => sequences.admit([a!, b!])).toThrow(OutOfOrderSequenceError);
    expect(sequences.admit([b!])).toEqual({ kind: 'duplicate', result: { baseOffset: 10, lastOffset: 11, durability: 'durable' } });
  });

  it('a retry of a batch whose append has not finished is out of order (the client waits and resends)', () => {
    const sequences = new ProducerSequences();
    const a = header(0, 2);
    expect(sequences.admit([a, header(2, 1)]).kind).toBe('append');
    expect(() => sequences.admit([a])).toThrow(OutOfOrderSequenceError);
  });

  it('refuses more batches of one producer in a request than it can remember for retries', () => {
    const sequences = new ProducerSequences();
    const headers = Array.from({ length: MAX_BATCHES_PER_PRODUCE_REQUEST + 1 }, (_, i) => header(i * 2, 2));
    expect(() => sequences.admit(headers)).toThrow(InvalidArgumentError);
    expect(sequences.admit(headers.slice(0, MAX_BATCHES_PER_PRODUCE_REQUEST)).kind).toBe('append');
  });

  it('recognises a retry of the oldest batch a producer can have in flight (requests x batches per request)', () => {
    const sequences = new ProducerSequences();
    const requests = Array.from({ length: MAX_PRODUCER_REQUESTS_IN_FLIGHT_PER_PARTITION }, (_, r) =>
      Array.from({ length: MAX_BATCHES_PER_PRODUCE_REQUEST }, (_, b) => header((r * MAX_BATCHES_PER_PRODUCE_REQUEST + b) * 3, 3)),
    );
    let offset = 0;
    for (const request of requests) {
      appended(sequences.admit(request), offset, offset + request.length * 3 - 1);
      offset += request.length * 3;
    }
    expect(sequences.admit([requests[0]![0]!])).toEqual({ kind: 'duplicate', result: { baseOffset: 0, lastOffset: 2, durability: 'durable' } });
  });
});

describe('ProducerSequences restored from the log at startup', () => {
  /** A header as read back from the log: the batch got `baseOffset`. */
  function stored(baseSequence: number, count: number, baseOffset: number, producerId = 7, producerEpoch = 0): BatchHeader {
    return { ...header(baseSequence, count, producerId, producerEpoch), baseOffset };
  }

  it('answers a retry of a restored batch with its offsets, alone or with its neighbours, and lets the sequence go on', () => {
    const sequences = new ProducerSequences();
    sequences.restore(stored(0, 3, 40), 'durable');
    sequences.restore(stored(0, 5, 43, 9), 'durable'); // another producer in between
    sequences.restore(stored(3, 2, 48), 'durable');
    sequences.restore(stored(5, 1, 50), 'durable');
    expect(sequences.producerCount).toBe(2);
    expect(sequences.admit([header(3, 2)])).toEqual({ kind: 'duplicate', result: { baseOffset: 48, lastOffset: 49, durability: 'durable' } });
    expect(sequences.admit([header(3, 2), header(5, 1)])).toEqual({ kind: 'duplicate', result: { baseOffset: 48, lastOffset: 50, durability: 'durable' } });
    // Not contiguous in the log (producer 9 wrote between them): not one answer.
    expect(() => sequences.admit([header(0, 3), header(3, 2)])).toThrow(OutOfOrderSequenceError);
    // The producer continues where the log ends; it is not told to start over.
    expect(sequences.admit([header(6, 1)]).kind).toBe('append');
    expect(() => sequences.admit([header(8, 1, 9)])).toThrow(UnknownProducerError);
    expect(sequences.admit([header(5, 1, 9)]).kind).toBe('append');
  });

  it('takes a new epoch from the log, ignores untracked batches, and a producer that starts a new epoch starts at 0', () => {
    const sequences = new ProducerSequences();
    sequences.restore(stored(0, 2, 0, 7, 0), 'durable');
    sequences.restore(stored(0, 2, 2, 7, 1), 'durable');
    sequences.restore(stored(-1, 4, 4, -1, -1), 'durable');
    expect(sequences.producerCount).toBe(1);
    expect(sequences.admit([header(0, 2, 7, 1)])).toEqual({ kind: 'duplicate', result: { baseOffset: 2, lastOffset: 3, durability: 'durable' } });
    expect(() => sequences.admit([header(2, 1, 7, 0)])).toThrow(OutOfOrderSequenceError);
    expect(() => sequences.admit([header(5, 1, 7, 2)])).toThrow(UnknownProducerError);
    expect(sequences.admit([header(0, 1, 7, 2)]).kind).toBe('append');
  });

  it('follows the log when an epoch is followed by a lower one (the producer was evicted and admitted again)', () => {
    const sequences = new ProducerSequences();
    sequences.restore(stored(0, 2, 0, 7, 3), 'durable');
    sequences.restore(stored(0, 1, 2, 7, 1), 'durable');
    expect(sequences.admit([header(0, 1, 7, 1)])).toEqual({ kind: 'duplicate', result: { baseOffset: 2, lastOffset: 2, durability: 'durable' } });
    expect(sequences.admit([header(1, 1, 7, 1)]).kind).toBe('append');
  });

  it('a retry older than the restored tail may be in the log: refused for good, not retried until it times out', () => {
    const sequences = new ProducerSequences();
    // The tail starts at this producer's sequence 10: sequences 0-9 are further back in the log.
    sequences.restore(stored(10, 2, 500), 'durable');
    sequences.restore(stored(12, 2, 502), 'durable');
    expect(() => sequences.admit([header(8, 2)])).toThrow(DuplicateSequenceError);
    // A multi-batch retry cut by the tail start too.
    expect(() => sequences.admit([header(8, 2), header(10, 2)])).toThrow(DuplicateSequenceError);
    expect(sequences.admit([header(12, 2)]).kind).toBe('duplicate');
  });

  it('a producer ahead of the restored log (its acknowledged tail was lost) is told to start over; once live, a gap is only out of order', () => {
    const sequences = new ProducerSequences();
    sequences.restore(stored(0, 2, 0), 'durable');
    expect(() => sequences.admit([header(5, 1)])).toThrow(UnknownProducerError);
    expect(sequences.admit([header(2, 1)]).kind).toBe('append');
    expect(() => sequences.admit([header(5, 1)])).toThrow(OutOfOrderSequenceError);
  });
});
