import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, InvalidConfigError, StrataError, TopicNotFoundError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import { LogManager } from '../../src/storage/log-manager.js';
import { resolveTopicConfig } from '../../src/storage/topic-config.js';
import { FaultyFileSystem, ioError } from '../helpers/faulty-file-system.js';
import { KillableFileSystem } from '../helpers/killable-file-system.js';
import { useLogManagerFixture } from '../helpers/log-manager-fixture.js';
import { rejection } from '../helpers/rejection.js';

/** LogManager.alterTopicConfig: durable, atomic under crashes, applied to every partition, serialized with the other admin operations. */
describe('LogManager.alterTopicConfig', () => {
  const fixture = useLogManagerFixture('strata-log-manager-alter-');
  const { open, append } = fixture;
  const topicJson = (topic: string) => readFile(join(fixture.dataDir, topic, 'topic.json'), 'utf8');
  const overridesOnDisk = async (topic: string) => (JSON.parse(await topicJson(topic)) as { config: Record<string, string> }).config;

  it('rewrites topic.json before answering, applies the change to every partition, and a reopen loads it', async () => {
    const manager = await open();
    await manager.createTopic('a', 3, { 'retention.ms': '60000', flush: 'interval' });
    const { previous, topic } = await manager.alterTopicConfig('a', { set: { 'retention.bytes': '1048576', 'max.message.bytes': '4096' }, delete: ['retention.ms'] });
    const expected = resolveTopicConfig({ flush: 'interval', 'retention.bytes': '1048576', 'max.message.bytes': '4096' });
    expect(previous).toEqual({ config: resolveTopicConfig({ 'retention.ms': '60000', flush: 'interval' }), configOverrides: { 'retention.ms': '60000', flush: 'interval' } });
    expect(topic.config).toEqual(expected);
    expect(topic.configOverrides).toEqual({ flush: 'interval', 'retention.bytes': '1048576', 'max.message.bytes': '4096' });
    expect(manager.describeTopic('a')).toEqual(topic);
    expect(await overridesOnDisk('a')).toEqual(topic.configOverrides);
    for (let p = 0; p < 3; p++) expect(manager.partition('a', p).config).toEqual(expected);

    await manager.close();
    const reopened = await open();
    expect(reopened.describeTopic('a').configOverrides).toEqual(topic.configOverrides);
    expect(reopened.partition('a', 2).config).toEqual(expected);
  });

  it('with validateOnly answers the config it would have and changes nothing, on disk or in memory', async () => {
    const manager = await open();
    await manager.createTopic('v', 2, { 'retention.ms': '60000' });
    const before = await topicJson('v');
    const configBefore = manager.partition('v', 0).config;
    const { topic } = await manager.alterTopicConfig('v', { set: { flush: 'never' }, delete: [] }, { validateOnly: true });
    expect(topic.config.flushPolicy).toBe('never');
    expect(topic.configOverrides).toEqual({ 'retention.ms': '60000', flush: 'never' });
    expect(await topicJson('v')).toBe(before);
    expect(manager.describeTopic('v').configOverrides).toEqual({ 'retention.ms': '60000' });
    expect(manager.partition('v', 0).config).toBe(configBefore);
    // A validate-only of a bad change is refused as the change itself would be.
    await expect(manager.alterTopicConfig('v', { set: { flush: 'sometimes' }, delete: [] }, { validateOnly: true })).rejects.toBeInstanceOf(InvalidConfigError);
  });

  it('refuses bad input with a typed error and changes nothing', async () => {
    const manager = await open();
    await manager.createTopic('b', 2, { 'retention.ms': '60000' });
    const before = await topicJson('b');
    const configBefore = manager.partition('b', 1).config;
    const cases: Array<[string, Parameters<LogManager['alterTopicConfig']>[1], new (...args: never[]) => StrataError]> = [
      ['b', { set: { 'no.such.key': '1' }, delete: [] }, InvalidConfigError],
      ['b', { set: {}, delete: ['no.such.key'] }, InvalidConfigError],
      ['b', { set: { 'retention.ms': 'soon' }, delete: [] }, InvalidConfigError],
      ['b', { set: { 'retention.ms': '1', flush: 'bad' }, delete: [] }, InvalidConfigError],
      ['b', { set: {}, delete: [] }, InvalidArgumentError],
      ['b', { set: { flush: 'never' }, delete: ['flush'] }, InvalidArgumentError],
      ['nosuch', { set: { flush: 'never' }, delete: [] }, TopicNotFoundError],
    ];
    for (const [name, change, errorClass] of cases) {
      expect(await rejection(manager.alterTopicConfig(name, change)), JSON.stringify(change)).toBeInstanceOf(errorClass);
    }
    // A policy check of the caller's (TopicAdmin's) refuses after validation, before anything is written.
    const refusal = new InvalidConfigError('refused by policy');
    await expect(manager.alterTopicConfig('b', { set: { 'retention.ms': '1' }, delete: [] }, { check: () => { throw refusal; } })).rejects.toBe(refusal);
    expect(await topicJson('b')).toBe(before);
    expect(manager.describeTopic('b').configOverrides).toEqual({ 'retention.ms': '60000' });
    expect(manager.partition('b', 1).config).toBe(configBefore);
  });

  it('gives partitions added later the new config, whichever of the two admin operations comes first', async () => {
    const manager = await open();
    await manager.createTopic('g', 1);
    await manager.alterTopicConfig('g', { set: { 'retention.ms': '1000' }, delete: [] });
    await manager.createPartitions('g', 2);
    expect(manager.partition('g', 1).config.retentionMs).toBe(1000);
    // Started together: the admin operations run one at a time, in order, either way round.
    await Promise.all([manager.alterTopicConfig('g', { set: { 'retention.ms': '2000' }, delete: [] }), manager.createPartitions('g', 3)]);
    await Promise.all([manager.createPartitions('g', 4), manager.alterTopicConfig('g', { set: { 'retention.ms': '3000' }, delete: [] })]);
    expect([0, 1, 2, 3].map((p) => manager.partition('g', p).config.retentionMs)).toEqual([3000, 3000, 3000, 3000]);
    const onDisk = JSON.parse(await topicJson('g')) as { partitionCount: number; config: Record<string, string> };
    expect(onDisk).toMatchObject({ partitionCount: 4, config: { 'retention.ms': '3000' } });
  });

  it('answers TOPIC_NOT_FOUND for an alter that follows a delete of its topic, and writes nothing', async () => {
    const manager = await open();
    await manager.createTopic('d', 2);
    const deleted = manager.deleteTopic('d');
    const altered = rejection(manager.alterTopicConfig('d', { set: { flush: 'never' }, delete: [] }));
    await deleted;
    expect(await altered).toBeInstanceOf(TopicNotFoundError);
    expect(await fixture.topicEntries()).toEqual([]);
  });

  it('takes appends racing the change: every acknowledged one is in the log, and those after it follow the new flush policy', async () => {
    const manager = await open();
    await manager.createTopic('r', 2);
    const racing = Array.from({ length: 100 }, (_, i) => append(manager, 'r', i % 2, `x${i}`));
    await manager.alterTopicConfig('r', { set: { flush: 'interval' }, delete: [] });
    const results = await Promise.all(racing);
    for (const p of [0, 1]) {
      const offsets = results.filter((_, i) => i % 2 === p).map((r) => r.baseOffset);
      expect([...offsets].sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i));
      expect((await fixture.values(manager, 'r', p)).length).toBe(50);
    }
    expect((await append(manager, 'r', 0, 'after')).durability).toBe('written');
  });

  it('lets the next retention run use a lowered retention.bytes, also one that races the change', async () => {
    const manager = await open();
    await manager.createTopic('s', 1, { 'segment.bytes': '1024' });
    for (let i = 0; i < 30; i++) await append(manager, 's', 0, `s${i}`, 1, 100);
    await manager.runRetention();
    expect(manager.partition('s', 0).logStartOffset).toBe(0);
    const sizeBefore = manager.partition('s', 0).sizeBytes;
    // Retention runs outside the admin chain: started together, it reads whichever config is in place.
    await Promise.all([manager.runRetention(), manager.alterTopicConfig('s', { set: { 'retention.bytes': '1024' }, delete: [] }), append(manager, 's', 0, 'racing')]);
    await manager.runRetention();
    const log = manager.partition('s', 0);
    expect(log.logStartOffset).toBeGreaterThan(0);
    expect(log.sizeBytes).toBeLessThan(sizeBefore);
    // What is left reads back whole, from the new log start to the racing append.
    const values = await fixture.values(manager, 's', 0);
    expect(values.at(-1)).toBe('racing#0');
    expect(values.length).toBe(log.logEndOffset - log.logStartOffset);
  });

  describe('under faults', () => {
    it('a topic.json write that fails leaves the old config, on disk and in memory', async () => {
      const fs = new FaultyFileSystem();
      const manager = await open({ fs });
      await manager.createTopic('f', 1, { 'retention.ms': '60000' });
      const before = await topicJson('f');
      fs.failOperation = (operation) => {
        if (operation === 'writeFileAtomic') throw ioError('write');
      };
      await expect(manager.alterTopicConfig('f', { set: { flush: 'never' }, delete: [] })).rejects.toThrow(/EIO/);
      fs.failOperation = undefined;
      expect(await topicJson('f')).toBe(before);
      expect(manager.partition('f', 0).config.flushPolicy).toBe('always');
      expect(manager.describeTopic('f').configOverrides).toEqual({ 'retention.ms': '60000' });
    });

    it('a failure after the rename (the directory fsync) puts the old topic.json back, so the refused change never comes back', async () => {
      class FailAfterRename extends FaultyFileSystem {
        failNextAfterWrite = false;
        override async writeFileAtomic(path: string, data: Buffer | string): Promise<void> {
          await super.writeFileAtomic(path, data);
          if (this.failNextAfterWrite) {
            this.failNextAfterWrite = false;
            throw ioError('directory fsync');
          }
        }
      }
      const fs = new FailAfterRename();
      const manager = await open({ fs });
      await manager.createTopic('f', 1, { 'retention.ms': '60000' });
      const before = await topicJson('f');
      fs.failNextAfterWrite = true;
      await expect(manager.alterTopicConfig('f', { set: { flush: 'never' }, delete: [] })).rejects.toThrow(/EIO/);
      expect(await topicJson('f')).toBe(before);
      expect(manager.partition('f', 0).config.flushPolicy).toBe('always');
      await manager.close();
      expect((await open()).describeTopic('f').configOverrides).toEqual({ 'retention.ms': '60000' });
    });

    it('a SIGKILL at any file operation of the change leaves the old config or the new one, and the new one once it was answered', async () => {
      // Deleting flush=interval switches the partitions to `always`: fsyncs follow the topic.json write.
      const oldOverrides = { 'retention.ms': '60000', flush: 'interval' };
      const newOverrides = { 'retention.ms': '120000', 'max.message.bytes': '2048' };
      const outcomes = new Set<string>();
      for (let operation = 1; ; operation++) {
        let isKillReached = false;
        for (const when of ['before', 'after'] as const) {
          const name = `k${operation}${when}`;
          const setUp = await open();
          await setUp.createTopic(name, 2, oldOverrides);
          await append(setUp, name, 1, 'unsynced');
          await setUp.close();
          const fs = new KillableFileSystem();
          const crashed = await LogManager.open({ dataDir: fixture.dataDir, logger: silentLogger, clock: fixture.clock, fs });
          fs.killAt(operation, { when });
          const answer = await crashed.alterTopicConfig(name, { set: { 'retention.ms': '120000', 'max.message.bytes': '2048' }, delete: ['flush'] }).then(
            () => 'answered',
            () => 'failed',
          );
          isKillReached = fs.killed;
          await fs.kill();
          await crashed.close().catch(() => undefined);
          const reopened = await open();
          const overrides = reopened.describeTopic(name).configOverrides;
          const outcome = JSON.stringify(overrides) === JSON.stringify(oldOverrides) ? 'old' : JSON.stringify(overrides) === JSON.stringify(newOverrides) ? 'new' : `other: ${JSON.stringify(overrides)}`;
          expect(outcome, `kill ${when} operation ${operation}`).toMatch(/^(old|new)$/);
          if (answer === 'answered') expect(outcome).toBe('new');
          expect(reopened.partition(name, 1).config).toEqual(resolveTopicConfig(outcome === 'new' ? newOverrides : oldOverrides));
          // No temporary file of the interrupted write is left in the topic's directory.
          expect((await readdir(join(fixture.dataDir, name))).filter((entry) => entry.includes('.tmp-'))).toEqual([]);
          outcomes.add(`${when}:${outcome}:${answer}`);
          await reopened.close();
        }
        if (!isKillReached) break;
        expect(operation, 'the change takes a handful of file operations').toBeLessThan(20);
      }
      // Operations: topic.json's atomic write, its directory fsync (inside it), the fsync the switch to
      // flush=always asks for. A kill before the write keeps the old config; one after the rename, the
      // new (the caller, dead, was told nothing); a kill after the answer, the new.
      expect(outcomes).toContain('before:old:failed');
      expect(outcomes).toContain('after:new:failed');
      expect(outcomes).toContain('after:new:answered');
    });

    it('a temporary topic.json that a kill left before its rename is removed at the next start, which loads the old config', async () => {
      const manager = await open();
      await manager.createTopic('t', 1, { 'retention.ms': '60000' });
      await manager.close();
      // What writeFileAtomic leaves when the process dies between its fsync and its rename.
      const json = JSON.parse(await topicJson('t')) as Record<string, unknown>;
      await writeFile(join(fixture.dataDir, 't', 'topic.json.tmp-999-0'), JSON.stringify({ ...json, config: { 'retention.ms': '1' } }));
      const reopened = await open();
      expect(reopened.describeTopic('t').configOverrides).toEqual({ 'retention.ms': '60000' });
      expect((await readdir(join(fixture.dataDir, 't'))).filter((entry) => entry.includes('.tmp-'))).toEqual([]);
    });
  });
});
