import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { call } from '../../src/client/admin.js';
import { BatchTooLargeError, InternalTopicError, InvalidArgumentError, InvalidConfigError, TopicNotFoundError } from '../../src/core/errors.js';
import { OFFSETS_TOPIC } from '../../src/core/internal-topics.js';
import { useInProcessServer } from '../helpers/in-process-server.js';
import { rejection } from '../helpers/rejection.js';

/** AlterTopicConfig over gRPC, through the client's Admin: the change is live, durable, and bad input changes nothing. */
describe('AlterTopicConfig over gRPC', () => {
  const harness = useInProcessServer();

  it('changes a running topic: describe follows, appends follow, and a restart keeps it', async () => {
    const { admin } = harness.client;
    await admin.createTopic('live', { partitions: 2, config: { flush: 'interval', 'retention.ms': '60000' } });
    const producer = harness.client.producer({ lingerMs: 0 });
    try {
      expect((await producer.send('live', { value: 'x'.repeat(2000), partition: 0 })).durability).toBe('written');

      const result = await admin.alterTopicConfig('live', { set: { 'max.message.bytes': 1024, 'retention.bytes': '1048576' }, delete: ['flush'] });
      expect(result.changes).toEqual([
        { key: 'flush', oldValue: 'interval', newValue: 'always', wasOverride: true, isOverride: false },
        { key: 'max.message.bytes', oldValue: String(1024 * 1024), newValue: '1024', wasOverride: false, isOverride: true },
        { key: 'retention.bytes', oldValue: '-1', newValue: '1048576', wasOverride: false, isOverride: true },
      ]);
      const described = await admin.describeTopic('live');
      expect(described.configOverrides).toEqual({ 'retention.ms': '60000', 'max.message.bytes': '1024', 'retention.bytes': '1048576' });
      expect(described.config).toMatchObject({ flush: 'always', 'max.message.bytes': '1024', 'retention.bytes': '1048576', 'retention.ms': '60000' });
      expect(result.topic).toEqual(described);

      // flush=always now: acknowledged durable without a restart.
      expect((await producer.send('live', { value: 'small', partition: 1 })).durability).toBe('durable');
      // This producer still knows the old max.message.bytes: the server refuses the batch that passed before.
      expect(await rejection(producer.send('live', { value: 'x'.repeat(2000), partition: 0 }))).toMatchObject({ code: 'BATCH_TOO_LARGE' });
    } finally {
      await producer.close().catch(() => undefined);
    }
    // A new producer learns the limit and refuses the record itself.
    const fresh = harness.client.producer({ lingerMs: 0 });
    try {
      expect(await rejection(fresh.send('live', { value: 'x'.repeat(2000), partition: 0 }))).toBeInstanceOf(BatchTooLargeError);
    } finally {
      await fresh.close().catch(() => undefined);
    }

    await harness.restart();
    const afterRestart = await harness.client.admin.describeTopic('live');
    expect(afterRestart.configOverrides).toEqual({ 'retention.ms': '60000', 'max.message.bytes': '1024', 'retention.bytes': '1048576' });
  });

  it('with validateOnly answers the would-be config and changes nothing', async () => {
    const { admin } = harness.client;
    await admin.createTopic('dry', { partitions: 1 });
    const { topic, changes } = await admin.alterTopicConfig('dry', { set: { 'retention.ms': '1000' }, validateOnly: true });
    expect(topic.config['retention.ms']).toBe('1000');
    expect(changes).toHaveLength(1);
    expect((await admin.describeTopic('dry')).configOverrides).toEqual({});
  });

  it('refuses bad input with typed errors (the right gRPC status and code) and changes nothing', async () => {
    const { admin } = harness.client;
    await admin.createTopic('kept', { partitions: 1, config: { 'retention.ms': '60000' } });
    const before = await admin.describeTopic('kept');
    const unknownKey = await rejection(admin.alterTopicConfig('kept', { set: { 'retention.mss': '1' } }));
    expect(unknownKey).toBeInstanceOf(InvalidConfigError);
    expect(unknownKey).toMatchObject({ code: 'INVALID_CONFIG', grpcStatus: grpc.status.INVALID_ARGUMENT });
    expect(unknownKey.message).toMatch(/unknown topic config 'retention.mss'/);
    expect(await rejection(admin.alterTopicConfig('kept', { delete: ['retention.mss'] }))).toBeInstanceOf(InvalidConfigError);
    const badValue = await rejection(admin.alterTopicConfig('kept', { set: { 'retention.ms': '-5' } }));
    expect(badValue).toBeInstanceOf(InvalidConfigError);
    expect(badValue.message).toMatch(/retention.ms must be an integer/);
    const tinySegments = await rejection(admin.alterTopicConfig('kept', { set: { 'segment.bytes': '1024' } }));
    expect(tinySegments.message).toMatch(/below the server's minimum/);
    const internal = await rejection(admin.alterTopicConfig(OFFSETS_TOPIC, { set: { 'retention.ms': '1' } }));
    expect(internal).toBeInstanceOf(InternalTopicError);
    expect(internal).toMatchObject({ code: 'INTERNAL_TOPIC' });
    const missing = await rejection(admin.alterTopicConfig('nosuch', { set: { 'retention.ms': '1' } }));
    expect(missing).toBeInstanceOf(TopicNotFoundError);
    expect(missing).toMatchObject({ code: 'TOPIC_NOT_FOUND', grpcStatus: grpc.status.NOT_FOUND });
    const empty = await rejection(admin.alterTopicConfig('kept', {}));
    expect(empty).toBeInstanceOf(InvalidArgumentError);
    expect(empty).toMatchObject({ code: 'INVALID_ARGUMENT', grpcStatus: grpc.status.INVALID_ARGUMENT });
    // The bare request a client in another language may send: no fields at all.
    const stub = harness.client.stubs.admin;
    expect(await rejection(call(stub.alterTopicConfig.bind(stub), { topic: 'kept' }))).toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(await admin.describeTopic('kept')).toEqual(before);
    expect((await admin.describeTopic(OFFSETS_TOPIC)).config['retention.ms']).not.toBe('1');
  });
});
