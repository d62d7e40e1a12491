import { EventEmitter } from 'node:events';
import { Readable } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { systemClock } from '../../src/core/clock.js';
import { FencedMemberEpochError, type StrataError } from '../../src/core/errors.js';
import { GroupConsumer } from '../../src/client/group-consumer.js';
import type { CommitFailure, GroupConsumerLogger } from '../../src/client/group-consumer-options.js';
import type { StrataClient } from '../../src/client/strata-client.js';
import { encodeRecordBatch } from '../../src/format/record-batch-codec.js';
import { eventually } from '../helpers/eventually.js';

type HeartbeatStream = EventEmitter & { write: (request: { memberId: string; memberEpoch: number }) => boolean; end: () => void };

/**
 * A client of a group with one member: the join gets t/0 (3 records, then nothing more), later
 * heartbeats get `assignment()`; every commit is refused as a stale member epoch would be.
 */
function fakeClient(assignment: () => Array<{ topic: string; partitions: number[] }>) {
  const commits: unknown[] = [];
  const refusal = () => {
    const metadata = new grpc.Metadata();
    metadata.set('strata-error-code', 'FENCED_MEMBER_EPOCH');
    metadata.set('strata-retriable', 'false');
    return Object.assign(new Error('9 FAILED_PRECONDITION: FENCED_MEMBER_EPOCH: member epoch 1 is stale'), { code: grpc.status.FAILED_PRECONDITION, details: 'FENCED_MEMBER_EPOCH: member epoch 1 is stale', metadata });
  };
  const client = {
    callTimeoutMs: 5_000,
    clock: systemClock,
    stubs: {
      groups: {
        groupHeartbeat() {
          const stream: HeartbeatStream = Object.assign(new EventEmitter(), {
            write: (request: { memberId: string; memberEpoch: number }) => {
              if (request.memberEpoch < 0) return true;
              const isJoin = request.memberEpoch === 0;
              const answer = { memberId: 'm1', memberEpoch: 1, heartbeatIntervalMs: 20, sessionTimeoutMs: 10_000, assignment: isJoin ? [{ topic: 't', partitions: [0] }] : assignment() };
              setImmediate(() => stream.emit('data', { failure: null, offsetsEpoch: 0, ...answer }));
              return true;
            },
            end: () => undefined,
          });
          return stream;
        },
        commitOffsets: (request: unknown, _options: unknown, callback: (error: Error) => void) => {
          commits.push(request);
          setImmediate(() => callback(refusal()));
        },
        fetchOffsets: (request: { topics: string[] }, _options: unknown, callback: (error: null, response: object) => void) =>
          setImmediate(() => callback(null, { topics: request.topics.map((topic) => ({ topic, partitions: [] })) })),
      },
      consume: {
        subscribe() {
          let isSent = false;
          const call = new Readable({
            objectMode: true,
            read() {
              if (isSent) return;
              isSent = true;
              this.push({ partition: 0, fetchOffset: 0, nextOffset: 3, records: encodeRecordBatch([{ value: 'a' }, { value: 'b' }, { value: 'c' }], { baseOffset: 0 }) });
            },
          }) as Readable & { cancel(): void };
          call.cancel = () => call.destroy();
          return call;
        },
      },
    },
  } as unknown as StrataClient;
  return { client, commits };
}

const silent: GroupConsumerLogger = { warn: () => undefined };

/** Takes two records from the consumer: the first is processed once the second is asked for. */
async function processFirstRecord(consumer: GroupConsumer): Promise<void> {
  const iterator = consumer[Symbol.asyncIterator]();
  expect((await iterator.next()).value).toMatchObject({ offset: 0 });
  expect((await iterator.next()).value).toMatchObject({ offset: 1 });
}

describe('GroupConsumer commit failures', () => {
  it('reports a refused commit on its timer to onCommitFailed, with the error and the offsets it would have written', async () => {
    const { client } = fakeClient(() => [{ topic: 't', partitions: [0] }]);
    const failures: Array<[StrataError, CommitFailure]> = [];
    const consumer = new GroupConsumer(client, { groupId: 'g', topics: ['t'], fromBeginning: true, autoCommitIntervalMs: 20, logger: silent, leaveTimeoutMs: 100, onCommitFailed: (error, failure) => void failures.push([error, failure]) });
    try {
      await processFirstRecord(consumer);
      const [error, failure] = await eventually(() => failures[0], { what: 'an interval commit failure' });
      expect(error).toBeInstanceOf(FencedMemberEpochError);
      expect(error).toMatchObject({ code: 'FENCED_MEMBER_EPOCH', retriable: false, grpcStatus: grpc.status.FAILED_PRECONDITION });
      expect(failure).toEqual({ trigger: 'interval', offsets: [{ topic: 't', partition: 0, offset: 1 }] });
    } finally {
      await consumer.close();
    }
  });

  it('reports the commit of a revocation and the one of close()', async () => {
    let isRevoked = false;
    const { client, commits } = fakeClient(() => (isRevoked ? [] : [{ topic: 't', partitions: [0] }]));
    const failures: CommitFailure[] = [];
    const revoked: unknown[] = [];
    const consumer = new GroupConsumer(client, { groupId: 'g', topics: ['t'], fromBeginning: true, autoCommitIntervalMs: 600_000, logger: silent, leaveTimeoutMs: 100, onRevoked: (ps) => void revoked.push(ps), onCommitFailed: (_error, failure) => void failures.push(failure) });
    try {
      await processFirstRecord(consumer);
      isRevoked = true;
      await eventually(() => revoked.length === 1, { what: 'the revocation' });
      // The revoked partition's offsets were tried, refused and reported, before onRevoked.
      expect(failures).toEqual([{ trigger: 'revocation', offsets: [{ topic: 't', partition: 0, offset: 1 }] }]);
      expect(commits.length).toBeGreaterThanOrEqual(1);
    } finally {
      await consumer.close();
    }
    // Nothing was owned any more at close(): nothing to commit, nothing reported.
    expect(failures).toHaveLength(1);

    const second = fakeClient(() => [{ topic: 't', partitions: [0] }]);
    const closeFailures: CommitFailure[] = [];
    const other = new GroupConsumer(second.client, { groupId: 'g', topics: ['t'], fromBeginning: true, autoCommitIntervalMs: 600_000, logger: silent, leaveTimeoutMs: 100, onCommitFailed: (_error, failure) => void closeFailures.push(failure) });
    await processFirstRecord(other);
    await other.close();
    expect(closeFailures).toEqual([{ trigger: 'close', offsets: [{ topic: 't', partition: 0, offset: 1 }] }]);
  });

  it('warns through its logger when no onCommitFailed is given, and survives a throwing one', async () => {
    const warnings: string[] = [];
    const logger: GroupConsumerLogger = { warn: (_fields, message) => void warnings.push(message) };
    const { client } = fakeClient(() => [{ topic: 't', partitions: [0] }]);
    const consumer = new GroupConsumer(client, { groupId: 'g', topics: ['t'], fromBeginning: true, autoCommitIntervalMs: 600_000, logger, leaveTimeoutMs: 100 });
    await processFirstRecord(consumer);
    await consumer.close();
    expect(warnings).toContainEqual(expect.stringMatching(/a close commit failed \(member epoch 1 is stale\)/));

    const throwing = fakeClient(() => [{ topic: 't', partitions: [0] }]);
    const thrown: string[] = [];
    const other = new GroupConsumer(throwing.client, {
      groupId: 'g',
      topics: ['t'],
      fromBeginning: true,
      autoCommitIntervalMs: 600_000,
      logger: { warn: (_fields, message) => void thrown.push(message) },
      leaveTimeoutMs: 100,
      onCommitFailed: () => {
        throw new Error('hook bug');
      },
    });
    await processFirstRecord(other);
    await other.close();
    expect(thrown).toContain('group consumer: onCommitFailed threw');
  });

  it('still rejects commit() itself, the caller being there to hear it', async () => {
    const failures: CommitFailure[] = [];
    const { client } = fakeClient(() => [{ topic: 't', partitions: [0] }]);
    const consumer = new GroupConsumer(client, { groupId: 'g', topics: ['t'], fromBeginning: true, autoCommitIntervalMs: 600_000, logger: silent, leaveTimeoutMs: 100, onCommitFailed: (_error, failure) => void failures.push(failure) });
    try {
      await processFirstRecord(consumer);
      await expect(consumer.commit()).rejects.toBeInstanceOf(FencedMemberEpochError);
      expect(failures).toEqual([]);
    } finally {
      await consumer.close();
    }
  });
});
