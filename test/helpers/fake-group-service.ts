import { EventEmitter } from 'node:events';
import { Readable } from 'node:stream';
import type { StrataClient } from '../../src/client/strata-client.js';
import { ManualClock } from '../../src/core/clock.js';
import { TopicAlreadyExistsError, TopicNotFoundError, type StrataError } from '../../src/core/errors.js';
import { decodeRecordBatch, encodeRecordBatch, type RecordInput } from '../../src/format/record-batch-codec.js';
import type { DecodedRecord } from '../../src/format/record.js';
import { readBatchHeader } from '../../src/format/record-batch.js';
import type { ProduceRequest } from '../../src/generated/strata/v1/ProduceRequest.js';
import { fakeProduceService } from './fake-produce-service.js';

export interface FakeCommit {
  atMs: number;
  /** `${topic}/${partition}` -> offset, as the commit wrote them. */
  offsets: Record<string, number>;
}

export interface FakeDeadLetterAppend {
  topic: string;
  partition: number;
  ackLevel: string;
  record: DecodedRecord;
  /** When the fake answered it (the append is durable from then on). */
  answeredAtMs: number | undefined;
}

export interface FakeGroupServiceOptions {
  /** Records of topic 't' per partition (index = partition); a partition's offsets start at 0. */
  partitions: RecordInput[][];
  /** The partitions of 't' the member is assigned; change it with `assign()`. Default: all. */
  assigned?: number[];
  /** How long a dead-letter append takes to be answered, on the clock. Default 0 (the next turn). */
  appendDelayMs?: number;
  clock?: ManualClock;
  /** describeTopic('t.dlq') fails with this the first `n` times (a retriable failure of the dead-letter path). */
  describeDeadLetterFailures?: { error: StrataError; times: number };
  /** 't.dlq' exists from the start with this many partitions. */
  deadLetterPartitions?: number;
  /** 't.dlq' is created by someone else, with this many partitions, between the member's describe and its create. */
  createdMeanwhileWith?: number;
}

export interface FakeHeartbeat {
  atMs: number;
  memberEpoch: number;
  idleMs: number;
}

export const HEARTBEAT_INTERVAL_MS = 1_000;

/**
 * A StrataClient on a ManualClock for a group member's process() tests: one member 'm1' whose every
 * heartbeat is answered (on the next turn) with the current assignment of topic 't', Subscribe
 * serving the given records of 't' from the asked offset (and then nothing more), commits recorded
 * with their clock time and read back by fetchOffsets (none at the start), and a Produce stream (fakeProduceService)
 * for the dead-letter topic 't.dlq', created by the member through createTopic.
 */
export function fakeGroupService(options: FakeGroupServiceOptions) {
  const clock = options.clock ?? new ManualClock(1_000_000);
  const partitionCount = options.partitions.length;
  let assigned = options.assigned ?? options.partitions.map((_, p) => p);
  const commits: FakeCommit[] = [];
  const created: Array<{ topic: string; partitions: number }> = [];
  const appends: FakeDeadLetterAppend[] = [];
  let deadLetterPartitions = options.deadLetterPartitions;
  const heartbeats: FakeHeartbeat[] = [];
  let isAnswering = true;
  let joins = 0;
  /** Answers held back while heartbeats go unanswered, sent in order once they are answered again. */
  const heldAnswers: Array<() => void> = [];
  let describeFailures = options.describeDeadLetterFailures?.times ?? 0;
  const produce = fakeProduceService({
    clock,
    topic: 't.dlq',
    partitions: partitionCount,
    answerDelayMs: options.appendDelayMs ? () => options.appendDelayMs! : undefined,
    onRequest: (request: ProduceRequest) => {
      const records = request.records as Buffer;
      for (let position = 0; position < records.length; position += readBatchHeader(records, position).sizeBytes) {
        for (const record of decodeRecordBatch(records, position).records) {
          appends.push({ topic: request.topic as string, partition: request.partition as number, ackLevel: String(request.ackLevel), record, answeredAtMs: undefined });
        }
      }
    },
    onAnswer: (request: ProduceRequest) => {
      for (const append of appends) if (append.partition === request.partition && append.answeredAtMs === undefined) append.answeredAtMs = clock.nowMs();
    },
  });
  const describe = async (topic: string) => {
    await new Promise((resolve) => setImmediate(resolve));
    if (topic === 't') return { topic, partitionCount, config: {} };
    if (topic === 't.dlq') {
      if (describeFailures > 0) {
        describeFailures--;
        throw options.describeDeadLetterFailures!.error;
      }
      if (deadLetterPartitions === undefined) throw new TopicNotFoundError(topic);
      return { topic, partitionCount: deadLetterPartitions, config: {} };
    }
    throw new TopicNotFoundError(topic);
  };
  const client = {
    ...produce.client,
    callTimeoutMs: 5_000,
    clock,
    admin: {
      describeTopic: describe,
      createTopic: async (topic: string, { partitions }: { partitions: number }) => {
        await new Promise((resolve) => setImmediate(resolve));
        if (topic !== 't.dlq') throw new Error(`the fake creates only t.dlq, not ${topic}`);
        if (options.createdMeanwhileWith !== undefined) deadLetterPartitions ??= options.createdMeanwhileWith;
        if (deadLetterPartitions !== undefined) throw new TopicAlreadyExistsError(topic);
        created.push({ topic, partitions });
        deadLetterPartitions = partitions;
        return { topic, partitionCount: partitions, config: {} };
      },
      listOffsets: async (_topic: string, _spec: unknown, partitions: number[]) => partitions.map((partition) => ({ partition, offset: 0 })),
    },
    stubs: {
      produce: (produce.client as unknown as { stubs: { produce: unknown } }).stubs.produce,
      groups: {
        groupHeartbeat() {
          const stream = Object.assign(new EventEmitter(), {
            write: (request: { memberId: string; memberEpoch: number; idleMs: number }) => {
              heartbeats.push({ atMs: clock.nowMs(), memberEpoch: request.memberEpoch, idleMs: request.idleMs });
              // A join gets a member id of its own (m1, m2, ...), as the server gives.
              const memberId = request.memberEpoch === 0 ? `m${++joins}` : request.memberId;
              const answer = () => {
                const response =
                  request.memberEpoch < 0
                    ? { memberId, memberEpoch: request.memberEpoch }
                    : { memberId, memberEpoch: 1, heartbeatIntervalMs: HEARTBEAT_INTERVAL_MS, sessionTimeoutMs: 60_000, assignment: [{ topic: 't', partitions: [...assigned] }] };
                setImmediate(() => stream.emit('data', { failure: null, offsetsEpoch: 0, assignment: [], sessionTimeoutMs: 0, ...response }));
              };
              if (isAnswering) answer();
              else heldAnswers.push(answer);
              return true;
            },
            end: () => undefined,
          });
          return stream;
        },
        commitOffsets: (request: { topics: Array<{ topic: string; partitions: Array<{ partition: number; offset: number }> }> }, _options: unknown, callback: (error: null, response: object) => void) => {
          const offsets: Record<string, number> = {};
          for (const { topic, partitions } of request.topics) for (const { partition, offset } of partitions) offsets[`${topic}/${partition}`] = offset;
          commits.push({ atMs: clock.nowMs(), offsets });
          setImmediate(() => callback(null, {}));
        },
        // What was committed last, per partition (none at the start).
        fetchOffsets: (request: { topics: string[] }, _options: unknown, callback: (error: null, response: object) => void) =>
          setImmediate(() =>
            callback(null, {
              topics: request.topics.map((topic) => ({
                topic,
                partitions: options.partitions.flatMap((_, partition) => {
                  const offset = commits.filter((c) => `${topic}/${partition}` in c.offsets).at(-1)?.offsets[`${topic}/${partition}`];
                  return offset === undefined ? [] : [{ partition, offset }];
                }),
              })),
            }),
          ),
      },
      consume: {
        subscribe: (request: { partitions: number[]; startOffsets: Record<number, number> }) => {
          const partition = request.partitions[0]!;
          const records = options.partitions[partition] ?? [];
          let next = Number(request.startOffsets[partition] ?? 0);
          const call = new Readable({
            objectMode: true,
            read() {
              // Everything from the asked offset in one response; after that the stream stays open and quiet.
              if (next >= records.length) return;
              const batch = encodeRecordBatch(records.slice(next), { baseOffset: next });
              this.push({ partition, fetchOffset: next, nextOffset: records.length, records: batch });
              next = records.length;
            },
          }) as Readable & { cancel(): void };
          call.cancel = () => call.destroy();
          return call;
        },
      },
    },
  } as unknown as StrataClient;
  return {
    client,
    clock,
    commits,
    created,
    heartbeats,
    /** Whether heartbeats are answered from now on (unanswered for the session timeout, 60 s, the member lets its partitions go). */
    answerHeartbeats: (answering: boolean) => {
      isAnswering = answering;
      if (answering) for (const answer of heldAnswers.splice(0)) answer();
    },
    appends,
    /** The member's assignment from the next heartbeat answer on. */
    assign: (partitions: number[]) => void (assigned = partitions),
    /** The last offset committed for partition `partition` of 't', if any. */
    committed: (partition: number) => commits.filter((c) => `t/${partition}` in c.offsets).at(-1)?.offsets[`t/${partition}`],
  };
}
