import { EventEmitter } from 'node:events';
import type { StrataClient } from '../../src/client/strata-client.js';
import { delay, ManualClock } from '../../src/core/clock.js';
import { InvalidArgumentError } from '../../src/core/errors.js';
import { decodeRecordBatch } from '../../src/format/record-batch-codec.js';
import { readBatchHeader } from '../../src/format/record-batch.js';
import type { ProduceRequest } from '../../src/generated/strata/v1/ProduceRequest.js';
import { readyConnection } from './fake-channel.js';
import { fakeInitProducer } from './fake-init-producer.js';

export interface FakeProduceServiceOptions {
  /** Partitions of the one topic it knows (default 4). */
  partitions?: number;
  /** The topic's name (default 't'); describeTopic of any other fails. */
  topic?: string;
  /** The client's clock, on which describes and answers are delayed (default: a ManualClock of its own, returned). */
  clock?: ManualClock;
  /** How long describeTopic takes on the clock (default 0: on the next turn of the event loop). */
  describeDelayMs?: number;
  /** The topic's max.message.bytes in its description (default: not described). */
  maxMessageBytes?: number;
  /** A request of a partition it picks is refused (nothing appended). */
  failIf?: (partition: number) => boolean;
  /** When each answer is sent: undefined answers on setImmediate, else after this many ms of the clock. */
  answerDelayMs?: () => number;
  /** Sees each request as it arrives (before the fake reads it) and again just before its answer. */
  onRequest?: (request: ProduceRequest) => void;
  onAnswer?: (request: ProduceRequest) => void;
  /** The throttle_time_ms of each answer (a rate quota; default 0). */
  throttleTimeMs?: (request: ProduceRequest) => number;
}

/**
 * A StrataClient whose Produce stream appends the values of every batch to an in-memory log per
 * partition, in arrival order as the server does (a request may carry several batches), and answers
 * later: on setImmediate or after `answerDelayMs` of its clock, so many requests are in flight. The
 * producer runs on that clock too: a test moves it on (advanceUntil, settleOn) for lingers and delays.
 */
export function fakeProduceService(options: FakeProduceServiceOptions = {}) {
  const partitions = options.partitions ?? 4;
  const topicName = options.topic ?? 't';
  const logs: string[][] = Array.from({ length: partitions }, () => []);
  let requests = 0;
  let multiBatchRequests = 0;
  const initProducer = fakeInitProducer();
  const clock = options.clock ?? new ManualClock(0);
  const client = {
    admin: {
      describeTopic: async (topic: string) => {
        if (options.describeDelayMs) await delay(clock, options.describeDelayMs);
        else await new Promise((resolve) => setImmediate(resolve));
        if (topic !== topicName) throw new InvalidArgumentError(`no topic ${topic}`);
        return { partitionCount: partitions, config: options.maxMessageBytes ? { 'max.message.bytes': String(options.maxMessageBytes) } : {} };
      },
    },
    stubs: {
      produce: {
        initProducer,
        produce() {
          const stream = new EventEmitter() as EventEmitter & { write: (request: ProduceRequest) => boolean; end: () => void };
          stream.end = () => undefined;
          stream.write = (request) => {
            requests++;
            options.onRequest?.(request);
            const partition = request.partition as number;
            const isRefused = options.failIf?.(partition) ?? false;
            let answer: Record<string, unknown>;
            if (isRefused) {
              const failure = { code: 'INVALID_ARGUMENT', message: 'refused by the test', retriable: false, grpcStatus: 3 };
              answer = { requestId: request.requestId, partition, baseOffset: -1, lastOffset: -1, failure };
            } else {
              const log = logs[partition]!;
              const baseOffset = log.length;
              const records = request.records as Buffer;
              if (readBatchHeader(records).sizeBytes < records.length) multiBatchRequests++;
              for (let position = 0; position < records.length; position += readBatchHeader(records, position).sizeBytes) {
                for (const record of decodeRecordBatch(records, position).records) log.push(record.value!.toString());
              }
              answer = { requestId: request.requestId, partition, baseOffset, lastOffset: log.length - 1, durability: 'ACK_LEVEL_DURABLE', failure: null, duplicate: false, throttleTimeMs: options.throttleTimeMs?.(request) ?? 0 };
            }
            const send = () => {
              options.onAnswer?.(request);
              stream.emit('data', answer);
            };
            if (options.answerDelayMs) clock.setTimeout(send, options.answerDelayMs());
            else setImmediate(send);
            return true;
          };
          return stream;
        },
      },
    },
    ...readyConnection(clock),
  } as unknown as StrataClient;
  return { client, clock, logs, requestCount: () => requests, multiBatchRequestCount: () => multiBatchRequests, initProducerRequests: initProducer.requests };
}
