import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { ProducerSequences } from '../../src/broker/producer-sequences.js';
import { Producer, type RecordMetadata } from '../../src/client/producer.js';
import type { StrataClient } from '../../src/client/strata-client.js';
import { ManualClock } from '../../src/core/clock.js';
import { StrataError, TooManyPendingAppendsError } from '../../src/core/errors.js';
import { decodeRecordBatch } from '../../src/format/record-batch-codec.js';
import { validateBatches } from '../../src/format/record-batch.js';
import type { ProduceRequest } from '../../src/generated/strata/v1/ProduceRequest.js';
import { SeededRandom, seedsFromEnv } from '../helpers/seeded-random.js';
import { readyConnection } from '../helpers/fake-channel.js';
import { fakeInitProducer } from '../helpers/fake-init-producer.js';
import { advanceUntil, track, turn } from '../helpers/manual-time.js';

const PARTITIONS = 4;

/**
 * A fake Produce service, on the producer's ManualClock, with the server's real sequence check (broker/producer-sequences.ts), that
 * fails requests at random with retriable errors, breaks streams at random (sometimes after appending
 * but before answering), and "restarts" (forgets every producer), so that UNKNOWN_PRODUCER happens.
 */
class FlakyProduceService {
  readonly logs: string[][] = Array.from({ length: PARTITIONS }, () => []);
  private sequences = Array.from({ length: PARTITIONS }, () => new ProducerSequences());
  restarts = 0;
  streamsOpened = 0;
  failures = 0;
  breaks = 0;
  multiBatchRequests = 0;
  readonly initProducer = fakeInitProducer();

  constructor(
    private readonly random: () => number,
    private readonly faults: { breakAfterAppend: boolean; restart: boolean },
    private readonly clock: ManualClock,
  ) {}

  produce(): EventEmitter & { write: (r: ProduceRequest) => boolean; end: () => void } {
    this.streamsOpened++;
    const stream = new EventEmitter() as EventEmitter & { write: (r: ProduceRequest) => boolean; end: () => void };
    let isBroken = false;
    // Like the real server, one stream's requests are handled in arrival order.
    const queue: ProduceRequest[] = [];
    let isHandling = false;
    const handleNext = () => {
      const request = queue.shift();
      if (!request || isBroken) {
        isHandling = false;
        return;
      }
      // 0 or 1 ms of the producer's clock: due on its next advance.
      this.clock.setTimeout(() => {
        handle(request);
        handleNext();
      }, Math.floor(this.random() * 2));
    };
    stream.end = () => undefined;
    stream.write = (request) => {
      queue.push(request);
      if (!isHandling) {
        isHandling = true;
        handleNext();
      }
      return true;
    };
    const handle = (request: ProduceRequest) => {
        if (isBroken) return;
        const partition = request.partition as number;
        const records = request.records as Buffer;
        const roll = this.random();
        if (roll < 0.08) {
          this.failures++;
          const error = new TooManyPendingAppendsError('injected');
          return stream.emit('data', { requestId: request.requestId, partition, baseOffset: -1, lastOffset: -1, failure: failureOf(error) });
        }
        if (roll < 0.095 && this.faults.restart) {
          // A server restart: every producer is forgotten, the stream breaks before this request.
          this.restarts++;
          this.sequences = Array.from({ length: PARTITIONS }, () => new ProducerSequences());
          isBroken = true;
          return stream.emit('error', Object.assign(new Error('server restarted'), { code: 14, details: 'server restarted' }));
        }
        let response;
        try {
          // A request may carry several batches (queued ones travel together); all or none is appended.
          const headers = validateBatches(records, { maxBatchBytes: 1 << 20 });
          if (headers.length > 1) this.multiBatchRequests++;
          const admission = this.sequences[partition]!.admit(headers);
          if (admission.kind === 'duplicate') {
            response = { ...admission.result, duplicate: true };
          } else {
            const log = this.logs[partition]!;
            const baseOffset = log.length;
            for (let position = 0, i = 0; i < headers.length; position += headers[i]!.sizeBytes, i++) {
              for (const record of decodeRecordBatch(records, position).records) log.push(record.value!.toString());
            }
            const result = { baseOffset, lastOffset: log.length - 1, durability: 'durable' as const };
            if (admission.kind === 'append') admission.onAppended(result);
            response = { ...result, duplicate: false };
          }
        } catch (error) {
          return stream.emit('data', { requestId: request.requestId, partition, baseOffset: -1, lastOffset: -1, failure: failureOf(error) });
        }
        if (roll > 0.99 && this.faults.breakAfterAppend) {
          // Appended, but the stream dies before the answer: the retry must not write it twice.
          this.breaks++;
          isBroken = true;
          return stream.emit('error', Object.assign(new Error('connection reset'), { code: 14, details: 'connection reset' }));
        }
        stream.emit('data', { requestId: request.requestId, partition, baseOffset: response.baseOffset, lastOffset: response.lastOffset, durability: 'ACK_LEVEL_DURABLE', duplicate: response.duplicate, failure: null });
    };
    return stream;
  }
}

function failureOf(error: unknown) {
  const e = error as StrataError;
  return { code: e.code, message: e.message, retriable: e.retriable, grpcStatus: 9 };
}

const SCENARIOS = [
  { name: 'failed requests and streams broken after an append', faults: { breakAfterAppend: true, restart: false }, isExactlyOnce: true },
  { name: 'failed requests and server restarts', faults: { breakAfterAppend: false, restart: true }, isExactlyOnce: true },
  // A restart forgets which batches were appended: a batch whose answer was lost may be appended
  // again after it (documented at-least-once), but never out of order and never lost.
  { name: 'everything at once', faults: { breakAfterAppend: true, restart: true }, isExactlyOnce: false },
];

describe('producer ordering through retries, broken streams and restarts', () => {
  for (const scenario of SCENARIOS) {
    for (const seed of seedsFromEnv([1, 2, 3, 4, 5, 6])) {
      it(`${scenario.name}: per-partition send order, nothing lost (seed ${seed})`, async () => {
        const generator = new SeededRandom(seed);
        const random = () => generator.next();
        const clock = new ManualClock(0);
        const service = new FlakyProduceService(random, scenario.faults, clock);
        const fakeClient = {
          stubs: { produce: service },
          admin: { describeTopic: async () => ({ partitionCount: PARTITIONS }) },
          ...readyConnection(clock),
        } as unknown as StrataClient;
        const producer = new Producer(fakeClient, { lingerMs: 0, batchBytes: 200, retryBackoffMs: 1, maxInFlightPerPartition: 5 });
        const sentInOrder: string[][] = Array.from({ length: PARTITIONS }, () => []);
        const sends: Array<Promise<Array<{ value: string; m: RecordMetadata }>>> = [];
        // One send() per record, or (a third of the time) sendBatch() of up to 20: the two mix in one order.
        for (let i = 0; i < 3000; ) {
          const count = random() < 0.33 ? 1 + Math.floor(random() * 20) : 1;
          const records = Array.from({ length: count }, (_, j) => ({ value: `r${i + j}`, partition: Math.floor(random() * PARTITIONS) }));
          for (const r of records) sentInOrder[r.partition]!.push(r.value);
          if (count === 1) sends.push(producer.send('t', records[0]!).then((m) => [{ value: records[0]!.value, m }]));
          else sends.push(producer.sendBatch('t', records).then((ms) => ms.map((m, j) => ({ value: records[j]!.value, m }))));
          if (Math.floor((i + count) / 100) > Math.floor(i / 100)) {
            // A millisecond passes every 100 records: answers, failures and retries come between sends.
            await turn();
            clock.advance(1);
          }
          i += count;
        }
        const all = track(Promise.all(sends));
        const results = (await advanceUntil(clock, () => all.value, { what: `every send acknowledged (seed ${seed})` })).flat();
        const closed = track(producer.close());
        await advanceUntil(clock, () => closed.isSettled, { what: 'the producer closed' });
        const context = `seed ${seed} (STRATA_SEED=${seed} replays it): ${service.failures} failures, ${service.breaks} broken streams, ${service.restarts} restarts, ${service.multiBatchRequests} requests of several batches`;
        expect(service.failures, context).toBeGreaterThan(10);
        expect(service.multiBatchRequests, context).toBeGreaterThan(0);
        for (let p = 0; p < PARTITIONS; p++) {
          const log = service.logs[p]!;
          if (scenario.isExactlyOnce) {
            expect(log, `${context}, partition ${p}`).toEqual(sentInOrder[p]);
          } else {
            // First occurrences in send order; every repeat is a re-append of something already there.
            const firstSeen = log.filter((v, i) => log.indexOf(v) === i);
            expect(firstSeen, `${context}, partition ${p}`).toEqual(sentInOrder[p]);
          }
        }
        for (const { value, m } of results) expect(service.logs[m.partition]![m.offset], context).toBe(value);
      });
    }
  }
});
