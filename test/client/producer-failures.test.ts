/**
 * Producer failure paths that a review found broken (each test failed before its fix): a refusal of a
 * request of several batches, a stream that breaks while blocked, and a delivery timeout whose
 * outcome is unknown. The producer runs on a ManualClock: backoffs, request and delivery timeouts
 * pass only when a test advances it, and fake servers answer on the next turn of the event loop.
 */
import { EventEmitter } from 'node:events';
import { afterEach, expect, it } from 'vitest';
import { Broker } from '../../src/broker/broker.js';
import { ProducerSequences } from '../../src/broker/producer-sequences.js';
import { Producer } from '../../src/client/producer.js';
import type { StrataClient } from '../../src/client/strata-client.js';
import { ManualClock } from '../../src/core/clock.js';
import { BatchTooLargeError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import { decodeRecordBatch } from '../../src/format/record-batch-codec.js';
import { validateBatches, type BatchHeader } from '../../src/format/record-batch.js';
import type { ProduceRequest } from '../../src/generated/strata/v1/ProduceRequest.js';
import { toFailure } from '../../src/server/status.js';
import type { LogManager } from '../../src/storage/log-manager.js';
import { openLog } from '../helpers/open-log.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { readyConnection } from '../helpers/fake-channel.js';
import { fakeInitProducer } from '../helpers/fake-init-producer.js';
import { advanceUntil, track, turn } from '../helpers/manual-time.js';

type FakeStream = EventEmitter & { write: (r: ProduceRequest) => boolean; end: () => void };
const tick = turn;
const outcome = (p: Promise<unknown>) => p.then(() => 'acknowledged', (e: Error) => `rejected: ${e.message}`);

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

it('a batch the topic refuses as too large fails alone, not with the batches coalesced into its request', async () => {
  const dir = await makeTempDir();
  const log = await openLog(dir.path, { config: { 'max.message.bytes': '4096' } });
  cleanups.push(async () => {
    await log.close();
    await dir.remove();
  });
  // The real broker and partition log behind a fake stream that answers each request 30 ms (of the
  // producer's clock) late: batches queue up behind the one in flight.
  const broker = new Broker({ partition: () => log } as unknown as LogManager, new ManualClock(0), silentLogger);
  const clock = new ManualClock(0);
  let appending = 0;
  const client = {
    admin: { describeTopic: async () => ({ partitionCount: 1 }) },
    stubs: {
      produce: {
        initProducer: fakeInitProducer(),
        produce() {
          const stream = new EventEmitter() as FakeStream;
          stream.end = () => undefined;
          stream.write = (request) => {
            clock.setTimeout(() => {
              appending++;
              broker.produce('t', 0, Buffer.from(request.records as Buffer), 'written').then(
                (r) => stream.emit('data', { requestId: request.requestId, partition: 0, baseOffset: r.baseOffset, lastOffset: r.lastOffset, durability: 'ACK_LEVEL_WRITTEN', duplicate: r.isDuplicate, failure: null }),
                (error: unknown) => stream.emit('data', { requestId: request.requestId, partition: 0, baseOffset: -1, lastOffset: -1, failure: toFailure(error) }),
              ).finally(() => appending--);
            }, 30);
            return true;
          };
          return stream;
        },
      },
    },
    ...readyConnection(clock),
  } as unknown as StrataClient;
  /** Advances the clock while no append is on the disk, until `done`. */
  const runUntil = async (done: () => boolean) => {
    while (!done()) {
      await tick();
      if (appending === 0) clock.advance(10);
    }
  };
  const producer = new Producer(client, { lingerMs: 0, maxInFlightPerPartition: 1 });
  const warm = track(producer.send('t', { value: 'warm' }));
  await runUntil(() => warm.isSettled);
  const hold = track(producer.send('t', { value: 'hold' })); // in flight: the next three queue up
  await tick();
  const small1 = track(producer.send('t', { value: 'small-1' }));
  await tick();
  const big = track(producer.send('t', { value: 'x'.repeat(5000) }));
  await tick();
  const small2 = track(producer.send('t', { value: 'small-2' }));
  await runUntil(() => [hold, small1, big, small2].every((t) => t.isSettled));
  const results = { hold: hold.outcome, small1: small1.outcome, big: big.outcome, small2: small2.outcome };
  await producer.close();
  expect(results.big).toMatch(/exceeds the limit/);
  // The three queued batches travelled in one request; the refusal is resent alone per batch.
  expect(results.small1).toBe('acknowledged');
  expect(results.small2).toBe('acknowledged');
});

it('batches queued behind a blocked stream are sent after that stream breaks', async () => {
  const logs: string[][] = [[], []];
  const streams: FakeStream[] = [];
  const clock = new ManualClock(0);
  let firstStreamRequests = 0;
  const client = {
    admin: { describeTopic: async () => ({ partitionCount: 2 }) },
    stubs: {
      produce: {
        initProducer: fakeInitProducer(),
        produce() {
          const stream = new EventEmitter() as FakeStream;
          const isFirst = streams.length === 0;
          streams.push(stream);
          stream.end = () => undefined;
          stream.write = (request) => {
            // The first stream takes one request, reports back-pressure, and never answers.
            if (isFirst) {
              firstStreamRequests++;
              return false;
            }
            const partition = request.partition as number;
            setImmediate(() => {
              const log = logs[partition]!;
              const baseOffset = log.length;
              for (const r of decodeRecordBatch(request.records as Buffer).records) log.push(r.value!.toString());
              stream.emit('data', { requestId: request.requestId, partition, baseOffset, lastOffset: log.length - 1, durability: 'ACK_LEVEL_DURABLE', failure: null, duplicate: false });
            });
            return true;
          };
          return stream;
        },
      },
    },
    ...readyConnection(clock),
  } as unknown as StrataClient;
  const producer = new Producer(client, { lingerMs: 0, retryBackoffMs: 1 });
  const a = track(producer.send('t', { value: 'a', partition: 0 }));
  await advanceUntil(clock, () => firstStreamRequests === 1, { what: 'a written to the first stream' });
  const b = track(producer.send('t', { value: 'b', partition: 1 })); // queued: the stream is blocked, partition 1 has nothing in flight
  await tick();
  await tick();
  expect(b.isSettled).toBe(false);
  streams[0]!.emit('error', Object.assign(new Error('connection reset'), { code: 14, details: 'connection reset' }));
  // Partition 1 had nothing in flight: the stream break alone gets its queued batch going, with no
  // time passing; a, retried, waits out its backoff.
  const clockAtBreakMs = clock.nowMs();
  await tick();
  await tick();
  expect(b.outcome).toBe('acknowledged');
  expect(a.isSettled).toBe(false);
  await advanceUntil(clock, () => a.isSettled, { what: 'a retried' });
  expect(clock.nowMs() - clockAtBreakMs).toBe(1);
  expect(a.value!.offset).toBe(0);
  expect(logs).toEqual([['a'], ['b']]);
});

interface SequencedServiceOptions {
  /** Which requests get an answer (the others are appended and left unanswered). Default: all. */
  isAnswered?: (streamIndex: number, requestIndexOnStream: number) => boolean;
  /** The server "restarts" before stream `atStream`: producer state rebuilt from the last `tailBatches` batches. */
  restart?: { atStream: number; tailBatches: number };
  /** Streams before this index admit and write each append but never finish it (a hung fsync): no answer. */
  stalledStreams?: number;
  /** Streams before this index take requests and do nothing at all (the connection stays up). */
  silentStreams?: number;
  /** Requests larger than this are refused for good (BatchTooLargeError). */
  maxRequestBytes?: number;
}

/**
 * One partition served by the server's real sequence check (ProducerSequences), appending to `log`,
 * with the failures of `options`: unanswered requests (as when a connection dies after the append),
 * a restart that restores producer state from the log's tail, hung appends, silent streams, refusals.
 */
function sequencedService(options: SequencedServiceOptions = {}) {
  const log: string[] = [];
  const appended: BatchHeader[] = [];
  let sequences = new ProducerSequences();
  const streams: FakeStream[] = [];
  const counts = { multiBatchAppendsUnanswered: 0, duplicatesAnswered: 0, streams: 0, cancelled: 0 };
  /** Requests each stream received. */
  const requestsPerStream: number[] = [];
  const clock = new ManualClock(0);
  const client = {
    admin: { describeTopic: async () => ({ partitionCount: 1 }) },
    stubs: {
      produce: {
        initProducer: fakeInitProducer(),
        produce() {
          const stream = new EventEmitter() as FakeStream & { cancel: () => void };
          const streamIndex = streams.length;
          counts.streams++;
          if (options.restart?.atStream === streamIndex) {
            sequences = new ProducerSequences();
            for (const header of appended.slice(-options.restart.tailBatches)) sequences.restore(header, 'durable');
          }
          let requestIndex = 0;
          streams.push(stream);
          requestsPerStream.push(0);
          stream.end = () => undefined;
          stream.cancel = () => {
            counts.cancelled++;
            setImmediate(() => stream.emit('error', Object.assign(new Error('cancelled'), { code: 1, details: 'Cancelled on client' })));
          };
          stream.write = (request) => {
            requestsPerStream[streamIndex]!++;
            if (streamIndex < (options.silentStreams ?? 0)) return true;
            const records = request.records as Buffer;
            const answered = options.isAnswered?.(streamIndex, requestIndex++) ?? true;
            try {
              if (options.maxRequestBytes !== undefined && records.length > options.maxRequestBytes) throw new BatchTooLargeError(records.length, options.maxRequestBytes);
              const headers = validateBatches(records, { maxBatchBytes: 1 << 20 });
              const admission = sequences.admit(headers);
              let result = admission.kind === 'duplicate' ? admission.result : undefined;
              if (admission.kind === 'duplicate' && answered) counts.duplicatesAnswered++;
              if (!result) {
                const baseOffset = log.length;
                for (let position = 0, i = 0; i < headers.length; position += headers[i]!.sizeBytes, i++) {
                  appended.push({ ...headers[i]!, baseOffset: log.length });
                  for (const r of decodeRecordBatch(records, position).records) log.push(r.value!.toString());
                }
                result = { baseOffset, lastOffset: log.length - 1, durability: 'durable' as const };
                if (streamIndex < (options.stalledStreams ?? 0)) return true;
                if (admission.kind === 'append') admission.onAppended(result);
                if (!answered && headers.length > 1) counts.multiBatchAppendsUnanswered++;
              }
              const answer = { requestId: request.requestId, partition: 0, ...result, durability: 'ACK_LEVEL_DURABLE', duplicate: admission.kind === 'duplicate', failure: null };
              if (answered) setImmediate(() => stream.emit('data', answer));
            } catch (error) {
              setImmediate(() => stream.emit('data', { requestId: request.requestId, partition: 0, baseOffset: -1, lastOffset: -1, failure: toFailure(error) }));
            }
            return true;
          };
          return stream;
        },
      },
    },
    ...readyConnection(clock),
  } as unknown as StrataClient;
  const breakFirstStream = () => streams[0]!.emit('error', Object.assign(new Error('connection reset'), { code: 14, details: 'connection reset' }));
  return { client, clock, log, counts, requestsPerStream, breakFirstStream };
}

/** Closes `producer`, moving `clock` on while it flushes (a retry may still wait out its backoff). */
async function closeOn(clock: ManualClock, producer: Producer): Promise<void> {
  const closed = track(producer.close());
  await advanceUntil(clock, () => closed.isSettled, { what: 'the producer closed' });
}

it('a batch past its delivery timeout with an unknown outcome does not get the next batch written twice', async () => {
  // The first stream appends but never answers (it breaks later); later ones answer.
  const { client, clock, log, requestsPerStream, breakFirstStream } = sequencedService({ isAnswered: (streamIndex) => streamIndex > 0 });
  const producer = new Producer(client, { lingerMs: 0, deliveryTimeoutMs: 200, retryBackoffMs: 1 });
  const a = track(producer.send('t', { value: 'a' }));
  await advanceUntil(clock, () => requestsPerStream[0] === 1, { what: 'a sent', stepMs: 0 });
  clock.advance(100);
  const b = track(producer.send('t', { value: 'b' }));
  await advanceUntil(clock, () => requestsPerStream[0] === 2, { what: 'b sent', stepMs: 0 });
  clock.advance(150); // a is past its delivery timeout, b is not; both are in the log, unanswered
  breakFirstStream();
  await advanceUntil(clock, () => a.isSettled && b.isSettled, { what: 'a and b settled' });
  // Both were sent and never answered: both fail saying they may be in the log, and nothing is
  // renumbered and written again.
  expect(a.outcome).toMatch(/may have been written/);
  expect(b.outcome).toMatch(/may have been written/);
  expect(log).toEqual(['a', 'b']);
  // The partition goes on under a new producer epoch.
  const c = track(producer.send('t', { value: 'c' }));
  expect((await advanceUntil(clock, () => c.value, { what: 'c acknowledged' })).offset).toBe(2);
  await closeOn(clock, producer);
  expect(log).toEqual(['a', 'b', 'c']);
});

it('a request of several batches appended but unanswered (the stream broke) is retried batch by batch and recognised: each record once', async () => {
  // The first stream answers its first three requests (so queued batches go out in groups), then
  // appends without answering.
  const { client, clock, log, counts, requestsPerStream, breakFirstStream } = sequencedService({ isAnswered: (streamIndex, requestIndex) => streamIndex > 0 || requestIndex < 3 });
  const producer = new Producer(client, { lingerMs: 0, batchBytes: 100, maxInFlightPerPartition: 2, retryBackoffMs: 1 });
  const first = track(producer.send('t', { value: 'first' }));
  await advanceUntil(clock, () => first.isSettled, { what: 'first acknowledged', stepMs: 0 });
  // Small batches (batchBytes 100) pile up behind two unanswered requests and travel together.
  const sends = Array.from({ length: 40 }, (_, i) => producer.send('t', { value: `v${i}` }));
  // 'first', two more answered, then two that never are: the partition's two requests in flight.
  await advanceUntil(clock, () => requestsPerStream[0] === 5, { what: 'two requests in flight, unanswered', stepMs: 0 });
  breakFirstStream();
  const all = track(Promise.all(sends));
  const offsets = (await advanceUntil(clock, () => all.value, { what: 'every send acknowledged' })).map((m) => m.offset);
  await closeOn(clock, producer);
  expect(counts.multiBatchAppendsUnanswered).toBeGreaterThan(0);
  expect(counts.duplicatesAnswered).toBeGreaterThan(0);
  expect(log).toEqual(['first', ...Array.from({ length: 40 }, (_, i) => `v${i}`)]);
  expect(offsets).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
});

it('after a restart whose restored tail misses unanswered batches, they succeed with offset -1 (in the log, offset unknown) and nothing is written twice', async () => {
  // The first stream answers two requests, then appends without answering; the server restarts with
  // a producer state rebuilt from the log's last batch only.
  const { client, clock, log, counts, requestsPerStream, breakFirstStream } = sequencedService({ isAnswered: (streamIndex, requestIndex) => streamIndex > 0 || requestIndex < 2, restart: { atStream: 1, tailBatches: 1 } });
  const producer = new Producer(client, { lingerMs: 0, batchBytes: 100, maxInFlightPerPartition: 1, retryBackoffMs: 1 });
  const first = track(producer.send('t', { value: 'first' }));
  await advanceUntil(clock, () => first.isSettled, { what: 'first acknowledged', stepMs: 0 });
  // Small batches queue behind the one request in flight and travel in a group of several, which is
  // appended and not answered: more unanswered batches than can be retried at once.
  const sends = Array.from({ length: 40 }, (_, i) => producer.send('t', { value: `v${i}` }));
  await advanceUntil(clock, () => requestsPerStream[0] === 3, { what: 'a request in flight, unanswered', stepMs: 0 });
  breakFirstStream();
  const all = track(Promise.all(sends));
  const offsets = (await advanceUntil(clock, () => all.value, { what: 'every send acknowledged' })).map((m) => m.offset);
  await closeOn(clock, producer);
  expect(counts.multiBatchAppendsUnanswered).toBe(1);
  expect(log).toEqual(['first', ...Array.from({ length: 40 }, (_, i) => `v${i}`)]);
  // Before the tail: in the log, offset unknown (DUPLICATE_SEQUENCE, as Kafka answers it); the rest exact.
  expect(offsets.filter((o) => o === -1).length).toBeGreaterThan(0);
  expect(offsets.filter((o, i) => o !== -1 && o !== i + 1)).toEqual([]);
});

it('a batch whose unanswered first attempt is still being written when its retry is refused is not renumbered and written twice', async () => {
  // Stream 0 admits every append but never finishes one (its fsync hangs), so nothing is answered and
  // a retry of the same batch is refused as out of order (its first append has no result yet).
  const { client, clock, log, requestsPerStream, breakFirstStream } = sequencedService({ stalledStreams: 1, maxRequestBytes: 2_000 });
  const producer = new Producer(client, { lingerMs: 0, retryBackoffMs: 5 });
  const a = track(producer.send('t', { value: 'a' }));
  const b = track(producer.send('t', { value: 'b' }));
  await advanceUntil(clock, () => requestsPerStream[0]! >= 1, { what: 'a and b sent', stepMs: 0 });
  breakFirstStream();
  // Refused for good: the partition renumbers its sequence.
  const big = track(producer.send('t', { value: 'x'.repeat(5_000) }));
  await advanceUntil(clock, () => a.isSettled && b.isSettled && big.isSettled, { what: 'every send settled' });
  await closeOn(clock, producer);
  expect(log).toEqual(['a', 'b']);
  expect(a.outcome).toMatch(/may have been written/);
  expect(b.outcome).toMatch(/may have been written/);
  expect(big.outcome).toMatch(/rejected: .*5\d{3}/);
});

it('a request the server never answers (the connection stays up) is retried on a new stream after requestTimeoutMs', async () => {
  const { client, clock, log, counts, requestsPerStream } = sequencedService({ silentStreams: 1 });
  const producer = new Producer(client, { lingerMs: 0, requestTimeoutMs: 100, retryBackoffMs: 1 });
  const sent = track(producer.send('t', { value: 'a' }));
  await advanceUntil(clock, () => requestsPerStream[0] === 1, { what: 'a sent', stepMs: 0 });
  await advanceUntil(clock, () => counts.streams === 2, { what: 'a second stream' });
  // The timeout is checked every requestTimeoutMs / 4: the stream is replaced within 100-125 ms.
  expect(clock.nowMs()).toBeGreaterThanOrEqual(100);
  expect(clock.nowMs()).toBeLessThanOrEqual(126);
  await advanceUntil(clock, () => sent.isSettled, { what: 'a acknowledged' });
  expect(sent.outcome).toBe('acknowledged');
  expect(log).toEqual(['a']);
  expect(counts).toMatchObject({ streams: 2, cancelled: 1 });
  await closeOn(clock, producer);
});

it('request and delivery timeouts are counted on the monotonic clock: a wall clock step forward an hour neither gives up the stream nor fails the batch', async () => {
  const { client, clock, log, counts, requestsPerStream } = sequencedService({ silentStreams: 1 });
  const producer = new Producer(client, { lingerMs: 0, requestTimeoutMs: 100, retryBackoffMs: 1 });
  const sent = track(producer.send('t', { value: 'a' }));
  await advanceUntil(clock, () => requestsPerStream[0] === 1, { what: 'a sent', stepMs: 0 });
  const sentAtMs = clock.monotonicMs();
  // An NTP step of an hour, then checks at 25, 50 and 75 ms: on the wall clock, each saw it an hour old.
  clock.stepWallClock(3_600_000);
  clock.advance(75);
  await new Promise((resolve) => setImmediate(resolve));
  expect(counts.streams).toBe(1);
  await advanceUntil(clock, () => counts.streams === 2, { what: 'a second stream' });
  expect(clock.monotonicMs() - sentAtMs).toBeGreaterThanOrEqual(100);
  expect(clock.monotonicMs() - sentAtMs).toBeLessThanOrEqual(126);
  await advanceUntil(clock, () => sent.isSettled, { what: 'a acknowledged' });
  expect(sent.outcome).toBe('acknowledged');
  expect(log).toEqual(['a']);
  await closeOn(clock, producer);
});

it('a server that never answers at all: send() fails at its delivery timeout, saying the record may be written', async () => {
  const { client, clock, log, requestsPerStream } = sequencedService({ silentStreams: Number.POSITIVE_INFINITY });
  const producer = new Producer(client, { lingerMs: 0, requestTimeoutMs: 50, deliveryTimeoutMs: 400, retryBackoffMs: 1 });
  const result = track(producer.send('t', { value: 'a' }));
  // Sent once InitProducer answered, with no clock time passing: the timeouts count from here.
  await advanceUntil(clock, () => requestsPerStream[0] === 1, { what: 'a sent', stepMs: 0 });
  await advanceUntil(clock, () => result.isSettled, { what: 'the send settled' });
  expect(result.outcome).toMatch(/may have been written/);
  // Not before its delivery timeout; at the first request timeout past it (checked every 12.5 ms, each 50 ms).
  expect(clock.nowMs()).toBeGreaterThanOrEqual(400);
  expect(clock.nowMs()).toBeLessThan(400 + 50 + 13 + 2);
  expect(log).toEqual([]);
  await closeOn(clock, producer);
});
