import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MIN_SEGMENT_BYTES, TopicAdmin, topicConfigEntries } from '../../src/broker/topic-admin.js';
import { InternalTopicError, InvalidConfigError, InvalidTopicNameError, PartitionLimitReachedError, TopicNotFoundError } from '../../src/core/errors.js';
import { OFFSETS_TOPIC } from '../../src/core/internal-topics.js';
import { silentLogger } from '../../src/core/logger.js';
import { encodeRecordBatch } from '../../src/format/record-batch-codec.js';
import { LogManager } from '../../src/storage/log-manager.js';
import { DEFAULT_TOPIC_CONFIG, TOPIC_CONFIG_KEYS } from '../../src/storage/topic-config.js';
import { rejection } from '../helpers/rejection.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const LARGEST_BATCH_BYTES = 4 * 1024 * 1024;

/** Topic admin's policies without gRPC, over a real log manager in a temp dir. */
describe('TopicAdmin', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let logs: LogManager;
  let deleted: string[];
  let admin: TopicAdmin;
  beforeEach(async () => {
    dir = await makeTempDir();
    logs = await LogManager.open({ dataDir: dir.path, logger: silentLogger, maxPartitions: 20 });
    await logs.createTopic(OFFSETS_TOPIC, 8);
    deleted = [];
    admin = new TopicAdmin(logs, { largestBatchBytes: LARGEST_BATCH_BYTES, onTopicDeleted: async (topic) => void deleted.push(topic) });
  });
  afterEach(async () => {
    await logs.close();
    await dir.remove();
  });

  describe('createTopic', () => {
    it('refuses a max.message.bytes no request can carry, and segments below 1 MiB, creating nothing', async () => {
      const tooLarge = await rejection(admin.createTopic('t', 1, { 'max.message.bytes': String(LARGEST_BATCH_BYTES + 1) }));
      expect(tooLarge).toBeInstanceOf(InvalidConfigError);
      expect(tooLarge.message).toBe(`max.message.bytes ${LARGEST_BATCH_BYTES + 1} is larger than the largest batch this server receives (${LARGEST_BATCH_BYTES}): raise the server's maxRequestBytes first`);
      const tiny = await rejection(admin.createTopic('t', 1, { 'segment.bytes': String(MIN_SEGMENT_BYTES - 1) }));
      expect(tiny).toBeInstanceOf(InvalidConfigError);
      expect(tiny.message).toBe(`segment.bytes ${MIN_SEGMENT_BYTES - 1} is below the server's minimum of ${MIN_SEGMENT_BYTES} (1 MiB): every segment keeps a file open`);
      expect(logs.listTopics()).toEqual([OFFSETS_TOPIC]);
    });

    it('checks config values before its own policies and the storage rules (name, partition cap) after them', async () => {
      // A value the storage engine refuses wins over the policies, whatever else is wrong.
      expect((await rejection(admin.createTopic('bad name', 1, { 'segment.bytes': 'x' }))).message).toMatch(/^segment.bytes must be an integer/);
      expect(await rejection(admin.createTopic('bad name', 1, { 'segment.bytes': '1024' }))).toBeInstanceOf(InvalidConfigError);
      expect(await rejection(admin.createTopic('bad name', 1, {}))).toBeInstanceOf(InvalidTopicNameError);
      // 8 partitions of the offsets topic count against the server's 20.
      expect(await rejection(admin.createTopic('wide', 13, {}))).toBeInstanceOf(PartitionLimitReachedError);
      expect(logs.listTopics()).toEqual([OFFSETS_TOPIC]);
    });

    it('creates a topic at exactly the limits, and describes it with its effective config', async () => {
      const description = await admin.createTopic('t', 2, { 'segment.bytes': String(MIN_SEGMENT_BYTES), 'max.message.bytes': String(LARGEST_BATCH_BYTES) });
      expect(description).toMatchObject({ name: 't', partitionCount: 2, configOverrides: { 'segment.bytes': String(MIN_SEGMENT_BYTES) } });
      expect(topicConfigEntries(description.config)).toMatchObject({ 'segment.bytes': String(MIN_SEGMENT_BYTES), 'max.message.bytes': String(LARGEST_BATCH_BYTES), flush: 'always' });
      expect(admin.describeTopic('t').partitionCount).toBe(2);
    });
  });

  it('gives every config key in the effective config, as a string', () => {
    const entries = topicConfigEntries(DEFAULT_TOPIC_CONFIG);
    expect(Object.keys(entries).sort()).toEqual(Object.keys(TOPIC_CONFIG_KEYS).sort());
    expect(entries['retention.bytes']).toBe('-1');
  });

  it('deletes a topic, then tells the port (the offset store forgets its offsets); a failed delete tells nothing', async () => {
    await admin.createTopic('t', 1, {});
    await admin.deleteTopic('t');
    expect(logs.listTopics()).toEqual([OFFSETS_TOPIC]);
    expect(deleted).toEqual(['t']);
    expect(await rejection(admin.deleteTopic('t'))).toBeInstanceOf(TopicNotFoundError);
    expect(deleted).toEqual(['t']);
  });

  it('refuses to delete or grow the internal offsets topic, and does not list it; it is described on request', async () => {
    expect(await rejection(admin.deleteTopic(OFFSETS_TOPIC))).toBeInstanceOf(InternalTopicError);
    expect(await rejection(admin.createPartitions(OFFSETS_TOPIC, 9))).toBeInstanceOf(InternalTopicError);
    expect(deleted).toEqual([]);
    expect(logs.partitionCount(OFFSETS_TOPIC)).toBe(8);
    await admin.createTopic('t', 1, {});
    expect(admin.listTopics()).toEqual([{ name: 't', partitionCount: 1 }]);
    expect(admin.describeTopic(OFFSETS_TOPIC).partitionCount).toBe(8);
  });

  it('refuses to create, delete or grow a topic named like an internal one (__ first), and does not list one the server made', async () => {
    const refused = await rejection(admin.createTopic('__mine', 1, {}));
    expect(refused).toBeInstanceOf(InternalTopicError);
    expect(refused.message).toBe("'__mine' is an internal topic name (names starting with __ are the server's): clients may not create it");
    expect(await rejection(admin.createTopic(OFFSETS_TOPIC, 8, {}))).toBeInstanceOf(InternalTopicError);
    // A bad config value is still the first thing said.
    expect(await rejection(admin.createTopic('__mine', 1, { 'segment.bytes': '1024' }))).toBeInstanceOf(InvalidConfigError);
    await admin.createTopic('_mine', 1, {});
    await logs.createTopic('__server_side', 1);
    expect(admin.listTopics()).toEqual([{ name: '_mine', partitionCount: 1 }]);
    expect(await rejection(admin.deleteTopic('__server_side'))).toBeInstanceOf(InternalTopicError);
    expect(await rejection(admin.createPartitions('__server_side', 2))).toBeInstanceOf(InternalTopicError);
    expect(admin.describeTopic('__server_side').partitionCount).toBe(1);
  });

  describe('alterTopicConfig', () => {
    it('answers the topic after the change and, per key named, its effective value and override before and after', async () => {
      await admin.createTopic('t', 2, { 'retention.ms': '60000', flush: 'interval' });
      const { topic, changes } = await admin.alterTopicConfig('t', { set: { 'retention.bytes': '1048576', 'retention.ms': '60000' }, delete: ['flush', 'segment.ms'] });
      expect(topic.configOverrides).toEqual({ 'retention.ms': '60000', 'retention.bytes': '1048576' });
      expect(changes).toEqual([
        { key: 'flush', oldValue: 'interval', newValue: 'always', wasOverride: true, isOverride: false },
        { key: 'retention.bytes', oldValue: '-1', newValue: '1048576', wasOverride: false, isOverride: true },
        { key: 'retention.ms', oldValue: '60000', newValue: '60000', wasOverride: true, isOverride: true },
        { key: 'segment.ms', oldValue: String(DEFAULT_TOPIC_CONFIG.segmentMs), newValue: String(DEFAULT_TOPIC_CONFIG.segmentMs), wasOverride: false, isOverride: false },
      ]);
      expect(logs.partition('t', 1).config.flushPolicy).toBe('always');
    });

    it('applies the creation policies to the result, and refuses internal topics, changing nothing', async () => {
      await admin.createTopic('t', 1, { 'retention.ms': '60000' });
      const tooLarge = await rejection(admin.alterTopicConfig('t', { set: { 'max.message.bytes': String(LARGEST_BATCH_BYTES + 1) }, delete: [] }));
      expect(tooLarge).toBeInstanceOf(InvalidConfigError);
      expect(tooLarge.message).toMatch(/raise the server's maxRequestBytes first/);
      expect(await rejection(admin.alterTopicConfig('t', { set: { 'segment.bytes': String(MIN_SEGMENT_BYTES - 1) }, delete: [] }))).toBeInstanceOf(InvalidConfigError);
      const internal = await rejection(admin.alterTopicConfig(OFFSETS_TOPIC, { set: { 'retention.ms': '1' }, delete: [] }));
      expect(internal).toBeInstanceOf(InternalTopicError);
      expect(internal.message).toMatch(/clients may not alter the config of it/);
      await logs.createTopic('__server_side', 1, { 'segment.bytes': '1024' });
      expect(await rejection(admin.alterTopicConfig('__server_side', { set: { 'retention.ms': '1' }, delete: [] }))).toBeInstanceOf(InternalTopicError);
      expect(await rejection(admin.alterTopicConfig('__nosuch', { set: { 'retention.ms': '1' }, delete: [] }))).toBeInstanceOf(InternalTopicError);
      expect(await rejection(admin.alterTopicConfig('nosuch', { set: { 'retention.ms': '1' }, delete: [] }))).toBeInstanceOf(TopicNotFoundError);
      expect(admin.describeTopic('t').configOverrides).toEqual({ 'retention.ms': '60000' });
      expect(admin.describeTopic(OFFSETS_TOPIC).config.retentionMs).not.toBe(1);
      expect(admin.describeTopic('__server_side').configOverrides).toEqual({ 'segment.bytes': '1024' });
    });

    it('with validateOnly answers what would change and changes nothing', async () => {
      await admin.createTopic('t', 1, {});
      const { topic, changes } = await admin.alterTopicConfig('t', { set: { 'retention.ms': '1000' }, delete: [] }, { validateOnly: true });
      expect(topic.config.retentionMs).toBe(1000);
      expect(changes).toEqual([{ key: 'retention.ms', oldValue: String(DEFAULT_TOPIC_CONFIG.retentionMs), newValue: '1000', wasOverride: false, isOverride: true }]);
      expect(admin.describeTopic('t').configOverrides).toEqual({});
    });
  });

  it('grows a topic', async () => {
    await admin.createTopic('t', 1, {});
    expect((await admin.createPartitions('t', 3)).partitionCount).toBe(3);
    expect(admin.listTopics()).toEqual([{ name: 't', partitionCount: 3 }]);
  });

  it('looks up offsets: earliest, latest, an offset as given, and a timestamp (the high watermark, not found, past the last record)', async () => {
    await admin.createTopic('t', 2, {});
    await logs.partition('t', 0).append(encodeRecordBatch([10_000, 20_000, 30_000].map((timestampMs) => ({ value: 'v', timestampMs }))));
    expect(await admin.listOffsets('t', [0, 1], { point: 'earliest' })).toEqual([{ partition: 0, offset: 0, found: true }, { partition: 1, offset: 0, found: true }]);
    expect(await admin.listOffsets('t', [0, 1], { point: 'latest' })).toEqual([{ partition: 0, offset: 3, found: true }, { partition: 1, offset: 0, found: true }]);
    expect(await admin.listOffsets('t', [0], { offset: 2 })).toEqual([{ partition: 0, offset: 2, found: true }]);
    expect(await admin.listOffsets('t', [0], { timestampMs: 15_000 })).toEqual([{ partition: 0, offset: 1, found: true }]);
    expect(await admin.listOffsets('t', [0, 1], { timestampMs: 31_000 })).toEqual([{ partition: 0, offset: 3, found: false }, { partition: 1, offset: 0, found: false }]);
  });
});
