import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { StrataClientError } from '../../src/client/client-error.js';
import { encodeRecordBatch } from '../../src/format/record-batch-codec.js';
import { crc32c } from '@node-rs/crc32';
import { ATTRIBUTES_POSITION, CONTROL_FLAG, CRC_POSITION, MAGIC_POSITION, TRANSACTIONAL_FLAG } from '../../src/format/record-batch-layout.js';
import type { GroupHeartbeatResponse__Output } from '../../src/generated/strata/v1/GroupHeartbeatResponse.js';
import type { ProduceRequest } from '../../src/generated/strata/v1/ProduceRequest.js';
import type { ProduceResponse__Output } from '../../src/generated/strata/v1/ProduceResponse.js';
import { useInProcessServer } from '../helpers/in-process-server.js';
import { rejection } from '../helpers/rejection.js';
import { SeededRandom } from '../../src/core/seeded-random.js';

/** Validation answers with what is wrong: the code names the field's problem, whatever field it is. */
describe('wire validation', () => {
  const fixture = useInProcessServer();

  function produceRaw(requests: ProduceRequest[]): Promise<ProduceResponse__Output[]> {
    return new Promise((resolve, reject) => {
      const call = fixture.client.stubs.produce.produce();
      const responses: ProduceResponse__Output[] = [];
      call.on('data', (r: ProduceResponse__Output) => responses.push(r));
      call.on('error', reject);
      call.on('end', () => resolve(responses.sort((a, b) => Number(a.requestId) - Number(b.requestId))));
      for (const request of requests) call.write(request);
      call.end();
    });
  }

  /** A unary call of the raw stubs, as a promise that rejects with the typed client error. */
  function call<T>(invoke: (callback: (error: grpc.ServiceError | null, response?: T) => void) => void): Promise<T> {
    return new Promise((resolve, reject) => invoke((error, response) => (error ? reject(StrataClientError.fromServiceError(error)) : resolve(response!))));
  }

  it('answers garbage in a produce request with CORRUPT_BATCH, never BATCH_TOO_LARGE, and writes nothing', async () => {
    await fixture.client.admin.createTopic('garbage', { partitions: 1 });
    const random = new SeededRandom(14);
    const garbage = Array.from({ length: 40 }, (_, i) => {
      const bytes = Buffer.alloc(16 + i * 97);
      for (let j = 0; j < bytes.length; j++) bytes[j] = Math.floor(random.next() * 256);
      // A length field that reads as far more than the topic's 1 MiB limit: what tipped garbage into BATCH_TOO_LARGE.
      if (bytes.length >= 12) bytes.writeInt32BE(0x7000_0000 + i, 8);
      if (bytes.length > MAGIC_POSITION && bytes[MAGIC_POSITION] === 2) bytes[MAGIC_POSITION] = 0;
      return bytes;
    });
    const responses = await produceRaw(garbage.map((records, i) => ({ requestId: i + 1, topic: 'garbage', partition: 0, records })));
    expect(responses).toHaveLength(garbage.length);
    for (const response of responses) expect(response.failure, `request ${response.requestId}`).toMatchObject({ code: 'CORRUPT_BATCH', grpcStatus: grpc.status.INVALID_ARGUMENT, retriable: false });
    // A real oversized batch is still BATCH_TOO_LARGE.
    const [tooLarge] = await produceRaw([{ requestId: 1, topic: 'garbage', partition: 0, records: encodeRecordBatch([{ value: Buffer.alloc(1024 * 1024) }]) }]);
    expect(tooLarge!.failure).toMatchObject({ code: 'BATCH_TOO_LARGE', grpcStatus: grpc.status.RESOURCE_EXHAUSTED });
    expect((await fixture.client.admin.describeTopic('garbage')).partitions[0]!.logEndOffset).toBe(0);
  });

  it('refuses transactional and control batches with UNSUPPORTED_BATCH_TYPE, and the stream goes on', async () => {
    await fixture.client.admin.createTopic('types', { partitions: 1 });
    const withFlag = (flag: number) => {
      const batch = encodeRecordBatch([{ key: 'k', value: 'v' }], { producerId: 5, producerEpoch: 0, baseSequence: 0 });
      batch.writeInt16BE(batch.readInt16BE(ATTRIBUTES_POSITION) | flag, ATTRIBUTES_POSITION);
      batch.writeUInt32BE(crc32c(batch.subarray(ATTRIBUTES_POSITION)), CRC_POSITION);
      return batch;
    };
    const responses = await produceRaw([
      { requestId: 1, topic: 'types', partition: 0, records: withFlag(TRANSACTIONAL_FLAG) },
      { requestId: 2, topic: 'types', partition: 0, records: withFlag(CONTROL_FLAG) },
      { requestId: 3, topic: 'types', partition: 0, records: encodeRecordBatch([{ key: 'k', value: 'v' }]) },
    ]);
    expect(responses[0]!.failure).toMatchObject({ code: 'UNSUPPORTED_BATCH_TYPE', grpcStatus: grpc.status.INVALID_ARGUMENT, retriable: false });
    expect(responses[0]!.failure!.message).toMatch(/transactional/);
    expect(responses[1]!.failure).toMatchObject({ code: 'UNSUPPORTED_BATCH_TYPE', grpcStatus: grpc.status.INVALID_ARGUMENT });
    expect(responses[1]!.failure!.message).toMatch(/control/);
    expect(responses[2]).toMatchObject({ baseOffset: 0, failure: null });
  });

  describe('a negative offset is INVALID_ARGUMENT whichever field carries it', () => {
    const negative = { code: 'INVALID_ARGUMENT', grpcStatus: grpc.status.INVALID_ARGUMENT, retriable: false };

    it('Fetch offset (and one beyond 2^53), while an offset past the log end stays OFFSET_OUT_OF_RANGE', async () => {
      await fixture.client.admin.createTopic('offsets', { partitions: 1 });
      const fetch = (offset: number) => call((cb) => fixture.client.stubs.consume.fetch({ topic: 'offsets', partition: 0, offset, maxBytes: 1024 }, cb));
      const error = await rejection(fetch(-1));
      expect(error).toMatchObject(negative);
      expect(error.message).toMatch(/^offset must be a non-negative integer, got -1/);
      expect(await rejection(fetch(2 ** 60))).toMatchObject(negative);
      expect(await rejection(fetch(5))).toMatchObject({ code: 'OFFSET_OUT_OF_RANGE', grpcStatus: grpc.status.OUT_OF_RANGE });
    });

    it('Subscribe start and start_offsets', async () => {
      const subscribe = (request: object) =>
        new Promise((resolve, reject) => {
          const stream = fixture.client.stubs.consume.subscribe({ topic: 'offsets', ...request });
          stream.on('data', resolve);
          stream.on('error', (error) => reject(StrataClientError.fromServiceError(error)));
        });
      expect(await rejection(subscribe({ start: { offset: -1 } }))).toMatchObject(negative);
      const error = await rejection(subscribe({ startOffsets: { 0: -1 } }));
      expect(error).toMatchObject(negative);
      expect(error.message).toMatch(/start_offsets\[0\] must be a non-negative integer/);
    });

    it('ListOffsets and ResetOffsets', async () => {
      expect(await rejection(call((cb) => fixture.client.stubs.admin.listOffsets({ topic: 'offsets', position: { offset: -1 } }, cb)))).toMatchObject(negative);
      const reset = await rejection(call((cb) => fixture.client.stubs.admin.resetOffsets({ groupId: 'g', topic: 'offsets', to: { offset: -3 }, execute: true }, cb)));
      expect(reset).toMatchObject(negative);
      expect(reset.message).toMatch(/to\.offset must be a non-negative integer/);
      // shift_by is relative: a negative one goes back, clamped to the log.
      const shifted = await call<{ changes: { newOffset: number }[] }>((cb) => fixture.client.stubs.admin.resetOffsets({ groupId: 'g', topic: 'offsets', shiftBy: -3 }, cb));
      expect(shifted.changes[0]!.newOffset).toBe(0);
    });

    it('CommitOffsets, from a member that owns the partition', async () => {
      const heartbeat = fixture.client.stubs.groups.groupHeartbeat();
      const joined = await new Promise<GroupHeartbeatResponse__Output>((resolve, reject) => {
        heartbeat.on('data', (response: GroupHeartbeatResponse__Output) => {
          if (response.assignment.length > 0) resolve(response);
          // The first answer may come before the assignment: ask again rather than wait an interval.
          else heartbeat.write({ groupId: 'committer', memberId: response.memberId, memberEpoch: response.memberEpoch, topics: ['offsets'] });
        });
        heartbeat.on('error', reject);
        heartbeat.write({ groupId: 'committer', memberEpoch: 0, topics: ['offsets'] });
      });
      const commit = (offset: number) =>
        call((cb) =>
          fixture.client.stubs.groups.commitOffsets(
            { groupId: 'committer', memberId: joined.memberId, memberEpoch: joined.memberEpoch, offsetsEpoch: joined.offsetsEpoch, topics: [{ topic: 'offsets', partitions: [{ partition: 0, offset }] }] },
            cb,
          ),
        );
      expect(await rejection(commit(-1))).toMatchObject(negative);
      await commit(0);
      heartbeat.write({ groupId: 'committer', memberId: joined.memberId, memberEpoch: -1, topics: [] });
      heartbeat.end();
      heartbeat.on('error', () => undefined);
    });
  });
});
