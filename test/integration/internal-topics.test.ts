import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { encodeRecordBatch } from '../../src/format/record-batch-codec.js';
import type { ProduceResponse__Output } from '../../src/generated/strata/v1/ProduceResponse.js';
import { useInProcessServer } from '../helpers/in-process-server.js';
import { rejection } from '../helpers/rejection.js';

/** Names starting with __ are the server's (core/internal-topics.ts), over the wire as in the domain. */
describe('internal topic names', () => {
  const fx = useInProcessServer();

  it('refuses a client topic whose name starts with __ with INTERNAL_TOPIC (INVALID_ARGUMENT); one underscore is a client topic', async () => {
    expect(await rejection(fx.client.admin.createTopic('__mine', { partitions: 1 }))).toMatchObject({ code: 'INTERNAL_TOPIC', grpcStatus: grpc.status.INVALID_ARGUMENT, retriable: false });
    await fx.client.admin.createTopic('_mine', { partitions: 1 });
    expect((await fx.client.admin.listTopics()).map((t) => t.name)).toEqual(['_mine']);
  });

  it('refuses a produce request to a __ topic alone, and the stream goes on', async () => {
    const call = fx.client.stubs.produce.produce();
    const responses: ProduceResponse__Output[] = [];
    const ended = new Promise<void>((resolve, reject) => {
      call.on('data', (response: ProduceResponse__Output) => responses.push(response));
      call.on('error', reject);
      call.on('end', resolve);
    });
    await fx.client.admin.createTopic('fine', { partitions: 1 });
    call.write({ requestId: 1, topic: '__queue_state', partition: 0, records: encodeRecordBatch([{ value: 'x' }]) });
    call.write({ requestId: 2, topic: 'fine', partition: 0, records: encodeRecordBatch([{ value: 'y' }]) });
    call.end();
    await ended;
    const byId = new Map(responses.map((r) => [Number(r.requestId), r]));
    expect(byId.get(1)!.failure).toMatchObject({ code: 'INTERNAL_TOPIC', grpcStatus: grpc.status.INVALID_ARGUMENT });
    expect(byId.get(2)!.failure).toBeFalsy();
    expect(byId.get(2)!.baseOffset).toBe(0);
  });
});
