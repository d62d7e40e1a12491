import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  DataDirLockedError,
  InvalidArgumentError,
  InvalidConfigError,
  InvalidTopicNameError,
  LogClosedError,
  OffsetOutOfRangeError,
  PartitionNotFoundError,
  ShuttingDownError,
  StorageFailedError,
  TopicAlreadyExistsError,
  TopicNotFoundError,
} from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/logger.js';
import { CLEAN_SHUTDOWN_FILE_NAME, LOCK_FILE_NAME, LogManager } from '../../src/storage/log-manager.js';
import { makeBatch } from '../helpers/batches.js';
import { capturingLogger, type LogLine } from '../helpers/capturing-logger.js';
import { eventually } from '../helpers/eventually.js';
import { FaultyFileSystem, ioError } from '../helpers/faulty-file-system.js';
import { KillableFileSystem } from '../helpers/killable-file-system.js';
import { exists, START_MS, useLogManagerFixture } from '../helpers/log-manager-fixture.js';



describe('LogManager', () => {
  const fixture = useLogManagerFixture('strata-log-manager-');
  const { open, append, values, topicEntries } = fixture;

  describe('topics', () => {
    it('creates, lists, describes and deletes topics', async () => {
      const manager = await open();
      expect(manager.listTopics()).toEqual([]);
      const created = await manager.createTopic('orders', 3, { 'retention.ms': '60000' });
      await manager.createTopic('b-topic', 1);
      await manager.createTopic('A.topic', 2);
      expect(manager.listTopics()).toEqual(['A.topic', 'b-topic', 'orders']);

      expect(created).toEqual(manager.describeTopic('orders'));
      expect(created.name).toBe('orders');
      expect(created.partitionCount).toBe(3);
      expect(created.configOverrides).toEqual({ 'retention.ms': '60000' });
      expect(created.config.retentionMs).toBe(60_000);
      expect(created.config.segmentBytes).toBe(1024 * 1024 * 1024);
      expect(created.partitions).toEqual(
        [0, 1, 2].map((partition) => ({
          partition,
          status: 'online',
          logStartOffset: 0,
          logEndOffset: 0,
          highWatermark: 0,
          sizeBytes: 0,
          segmentCount: 1,
        })),
      );

      // On disk: topic.json and one directory per partition, under the topic's own name.
      expect(await topicEntries()).toEqual(['A.topic', 'b-topic', 'orders']);
      expect((await readdir(join(fixture.dataDir, 'orders'))).sort()).toEqual(['0', '1', '2', 'topic.json']);
      const metadata = JSON.parse(await readFile(join(fixture.dataDir, 'orders', 'topic.json'), 'utf8')) as Record<string, unknown>;
      expect(metadata).toMatchObject({ version: 1, name: 'orders', partitionCount: 3, config: { 'retention.ms': '60000' }, createdAtMs: START_MS });

      await manager.deleteTopic('b-topic');
      expect(manager.listTopics()).toEqual(['A.topic', 'orders']);
      expect(await topicEntries()).toEqual(['A.topic', 'orders']);
      expect(() => manager.describeTopic('b-topic')).toThrow(TopicNotFoundError);
    });

    it('describes per partition log start, log end, size and segment count as data arrives', async () => {
      const manager = await open();
      await manager.createTopic('t', 2, { 'segment.bytes': '1024' });
      const batches = Array.from({ length: 12 }, (_, i) => makeBatch(`m${i}`, 2, { timestampMs: START_MS, valueBytes: 100 }));
      let expectedBytes = 0;
      for (const batch of batches) {
        expectedBytes += batch.length;
        await manager.partition('t', 1).append(batch);
      }
      const [p0, p1] = manager.describeTopic('t').partitions;
      expect(p0).toMatchObject({ partition: 0, logStartOffset: 0, logEndOffset: 0, sizeBytes: 0, segmentCount: 1 });
      expect(p1).toMatchObject({ partition: 1, status: 'online', logStartOffset: 0, logEndOffset: 24, highWatermark: 24, sizeBytes: expectedBytes });
      // 12 batches of ~300 bytes in 1 KiB segments: three per segment.
      const logFiles = (await readdir(join(fixture.dataDir, 't', '1'))).filter((name) => name.endsWith('.log'));
      expect(p1!.segmentCount).toBe(logFiles.length);
      expect(p1!.segmentCount).toBeGreaterThanOrEqual(Math.ceil(expectedBytes / 1024));
    });

    it('refuses bad names, partition counts and configs with typed errors and creates nothing', async () => {
      const manager = await open();
      for (const name of ['', '.', '..', 'a/b', '../escape', 'a b', 'x'.repeat(250), 'ünïcode', '@lock', 'a~creating-1']) {
        await expect(manager.createTopic(name, 1), JSON.stringify(name)).rejects.toBeInstanceOf(InvalidTopicNameError);
      }
      for (const count of [0, -1, 10_001, 1.5, NaN]) {
        await expect(manager.createTopic('t', count), String(count)).rejects.toBeInstanceOf(InvalidArgumentError);
      }
      const badConfigs: Array<Record<string, string>> = [{ 'no.such.key': '1' }, { 'retention.ms': 'soon' }, { 'segment.bytes': '10' }, { constructor: '1' }];
      for (const config of badConfigs) {
        await expect(manager.createTopic('t', 1, config), JSON.stringify(config)).rejects.toBeInstanceOf(InvalidConfigError);
      }
      expect(manager.listTopics()).toEqual([]);
      expect(await topicEntries()).toEqual([]);
      expect(await exists(join(fixture.dataDir, '..', 'escape'))).toBe(false);
      // The manager still works after all those refusals.
      await manager.createTopic('t', 1);
      expect(manager.listTopics()).toEqual(['t']);
    });

    it('refuses a duplicate topic with TopicAlreadyExistsError and keeps the original', async () => {
      const manager = await open();
      await manager.createTopic('dup', 2, { 'retention.ms': '1000' });
      await append(manager, 'dup', 0, 'kept', 3);
      await expect(manager.createTopic('dup', 2)).rejects.toBeInstanceOf(TopicAlreadyExistsError);
      await expect(manager.createTopic('dup', 5, { 'retention.ms': '5' })).rejects.toThrow(/'dup' already exists/);
      const description = manager.describeTopic('dup');
      expect(description.partitionCount).toBe(2);
      expect(description.configOverrides).toEqual({ 'retention.ms': '1000' });
      expect(await values(manager, 'dup', 0)).toEqual(['kept#0', 'kept#1', 'kept#2']);
      expect(await topicEntries()).toEqual(['dup']);
    });

    it('answers TopicNotFoundError for an unknown topic and PartitionNotFoundError for a bad partition', async () => {
      const manager = await open();
      await manager.createTopic('three', 3);
      expect(() => manager.describeTopic('nope')).toThrow(TopicNotFoundError);
      expect(() => manager.partition('nope', 0)).toThrow(TopicNotFoundError);
      await expect(manager.deleteTopic('nope')).rejects.toBeInstanceOf(TopicNotFoundError);
      await expect(manager.createPartitions('nope', 4)).rejects.toBeInstanceOf(TopicNotFoundError);
      for (const partition of [3, 4, -1, 1.5, NaN, 10_000]) {
        let caught: unknown;
        try {
          manager.partition('three', partition);
        } catch (error) {
          caught = error;
        }
        expect(caught, String(partition)).toBeInstanceOf(PartitionNotFoundError);
        expect((caught as PartitionNotFoundError).partitionCount).toBe(3);
        expect((caught as PartitionNotFoundError).code).toBe('PARTITION_NOT_FOUND');
      }
      expect(manager.partition('three', 2).partition).toBe(2);
      expect(manager.partition('three', 2).topic).toBe('three');
    });

    it('deleteTopic removes the directory and closes its partitions; the name can be created again, empty', async () => {
      const manager = await open();
      await manager.createTopic('gone', 2);
      await append(manager, 'gone', 1, 'old', 5);
      const oldPartition = manager.partition('gone', 1);
      await manager.deleteTopic('gone');
      expect(manager.listTopics()).toEqual([]);
      expect(await exists(join(fixture.dataDir, 'gone'))).toBe(false);
      expect(await topicEntries()).toEqual([]);
      await expect(oldPartition.read(0, 100)).rejects.toBeInstanceOf(LogClosedError);
      await expect(manager.deleteTopic('gone')).rejects.toBeInstanceOf(TopicNotFoundError);

      const again = await manager.createTopic('gone', 3);
      expect(again.partitionCount).toBe(3);
      expect(again.partitions.every((p) => p.logEndOffset === 0 && p.sizeBytes === 0)).toBe(true);
      expect(await values(manager, 'gone', 1)).toEqual([]);
      expect((await append(manager, 'gone', 1, 'new')).baseOffset).toBe(0);

      // And the deletion holds across a restart.
      await manager.close();
      const reopened = await open();
      expect(reopened.listTopics()).toEqual(['gone']);
      expect(await values(reopened, 'gone', 1)).toEqual(['new#0']);
    });
  });

  describe('createPartitions', () => {
    it('grows a topic, keeps the data of the old partitions, and survives a reopen', async () => {
      const manager = await open();
      await manager.createTopic('grow', 2, { 'segment.bytes': '2048' });
      await append(manager, 'grow', 0, 'p0', 3);
      await append(manager, 'grow', 1, 'p1', 2);
      const grown = await manager.createPartitions('grow', 5);
      expect(grown.partitionCount).toBe(5);
      expect(grown.partitions.map((p) => p.logEndOffset)).toEqual([3, 2, 0, 0, 0]);
      expect(grown.config.segmentBytes).toBe(2048);
      expect(await values(manager, 'grow', 0)).toEqual(['p0#0', 'p0#1', 'p0#2']);
      expect(await values(manager, 'grow', 1)).toEqual(['p1#0', 'p1#1']);
      await append(manager, 'grow', 4, 'p4', 1);
      expect(() => manager.partition('grow', 5)).toThrow(PartitionNotFoundError);

      const metadata = JSON.parse(await readFile(join(fixture.dataDir, 'grow', 'topic.json'), 'utf8')) as { partitionCount: number };
      expect(metadata.partitionCount).toBe(5);

      await manager.close();
      const reopened = await open();
      const description = reopened.describeTopic('grow');
      expect(description.partitionCount).toBe(5);
      expect(description.configOverrides).toEqual({ 'segment.bytes': '2048' });
      expect(description.partitions.map((p) => p.logEndOffset)).toEqual([3, 2, 0, 0, 1]);
      expect(await values(reopened, 'grow', 0)).toEqual(['p0#0', 'p0#1', 'p0#2']);
      expect(await values(reopened, 'grow', 4)).toEqual(['p4#0']);
    });

    it('refuses to shrink, to stay equal, or to pass the limit, with InvalidArgumentError, changing nothing', async () => {
      const manager = await open();
      await manager.createTopic('fixed', 3);
      for (const count of [3, 2, 1, 0, 10_001, 3.5]) {
        await expect(manager.createPartitions('fixed', count), String(count)).rejects.toBeInstanceOf(InvalidArgumentError);
      }
      expect(manager.describeTopic('fixed').partitionCount).toBe(3);
      expect((await readdir(join(fixture.dataDir, 'fixed'))).sort()).toEqual(['0', '1', '2', 'topic.json']);
      // A refusal does not wedge the admin queue.
      expect((await manager.createPartitions('fixed', 4)).partitionCount).toBe(4);
    });
  });

  describe('restarts', () => {
    it('keeps topics, configs and data across close and reopen, and continues the offsets', async () => {
      const manager = await open();
      await manager.createTopic('keep', 2, { 'segment.bytes': '1024', 'retention.bytes': '100000' });
      for (let i = 0; i < 20; i++) await append(manager, 'keep', i % 2, `r${i}`, 2, 60);
      const before = manager.describeTopic('keep');
      await manager.close();

      const reopened = await open();
      const after = reopened.describeTopic('keep');
      expect(after).toEqual(before);
      expect(after.partitions[0]!.segmentCount).toBeGreaterThan(1);
      const expected0 = Array.from({ length: 10 }, (_, i) => [`r${2 * i}#0`, `r${2 * i}#1`]).flat();
      expect((await values(reopened, 'keep', 0)).map((v) => v.replace(/\.+$/, ''))).toEqual(expected0);
      expect((await append(reopened, 'keep', 0, 'next')).baseOffset).toBe(20);
    });

    it('writes @clean-shutdown on close and removes it at open; holds @lock while open', async () => {
      const marker = join(fixture.dataDir, CLEAN_SHUTDOWN_FILE_NAME);
      const lock = join(fixture.dataDir, LOCK_FILE_NAME);
      expect(CLEAN_SHUTDOWN_FILE_NAME).toBe('@clean-shutdown');
      expect(LOCK_FILE_NAME).toBe('@lock');
      const manager = await open();
      expect(await exists(marker)).toBe(false);
      expect((await readFile(lock, 'utf8')).trim()).toBe(String(process.pid));
      await manager.createTopic('t', 1);
      await manager.close();
      expect(await exists(marker)).toBe(true);
      expect(await exists(lock)).toBe(false);

      await open();
      expect(await exists(marker)).toBe(false);
      expect((await readFile(lock, 'utf8')).trim()).toBe(String(process.pid));
    });

    it('recovers acknowledged appends after a crash (no close, no marker)', async () => {
      const fs = new KillableFileSystem();
      const crashed = await LogManager.open({ dataDir: fixture.dataDir, logger: silentLogger, clock: fixture.clock, fs });
      await crashed.createTopic('c', 1, { 'segment.bytes': '1024' });
      for (let i = 0; i < 30; i++) await append(crashed, 'c', 0, `a${i}`, 1, 50);
      await fs.kill();
      // The dead manager can no longer touch the disk; closing it only cancels its timer.
      await crashed.close().catch(() => undefined);
      expect(await exists(join(fixture.dataDir, CLEAN_SHUTDOWN_FILE_NAME))).toBe(false);
      // The dead manager's lock names this process, so the restart (same pid) may take it over.
      const reopened = await open();
      const recovered = await values(reopened, 'c', 0);
      expect(recovered.map((v) => v.replace(/\.+$/, ''))).toEqual(Array.from({ length: 30 }, (_, i) => `a${i}#0`));
      expect((await append(reopened, 'c', 0, 'after')).baseOffset).toBe(30);
    });

    it('refuses a data directory locked by another live process, and takes over once it is dead', async () => {
      await mkdir(fixture.dataDir, { recursive: true });
      const child: ChildProcess = spawn('sleep', ['30'], { stdio: 'ignore' });
      const exited = once(child, 'exit');
      try {
        await once(child, 'spawn');
        expect(child.pid).toBeGreaterThan(0);
        await writeFile(join(fixture.dataDir, LOCK_FILE_NAME), `${child.pid}\n`);
        await expect(LogManager.open({ dataDir: fixture.dataDir, logger: silentLogger, clock: fixture.clock })).rejects.toBeInstanceOf(DataDirLockedError);
        await expect(LogManager.open({ dataDir: fixture.dataDir, logger: silentLogger, clock: fixture.clock })).rejects.toThrow(String(child.pid));
        // The refused open left the other process's lock alone.
        expect((await readFile(join(fixture.dataDir, LOCK_FILE_NAME), 'utf8')).trim()).toBe(String(child.pid));
      } finally {
        child.kill('SIGKILL');
        await exited;
      }
      // A stale lock of a dead process is taken over.
      const manager = await open();
      expect((await readFile(join(fixture.dataDir, LOCK_FILE_NAME), 'utf8')).trim()).toBe(String(process.pid));
      await manager.createTopic('after-lock', 1);
    });

    it('removes leftover ~creating- and ~deleting- directories at open, and keeps real topics', async () => {
      const first = await open();
      await first.createTopic('real', 1);
      await append(first, 'real', 0, 'x', 2);
      await first.close();
      // The names of this version (no topic name in them), and of earlier ones (<topic>~creating-...).
      const leftovers = ['~creating-123-0', '~deleting-55-12', 'half~creating-123-0', 'real~creating-999-4', 'old~deleting-55-1'];
      for (const leftover of leftovers) {
        await mkdir(join(fixture.dataDir, leftover, '0'), { recursive: true });
        await writeFile(join(fixture.dataDir, leftover, 'topic.json'), '{"version":1,"name":"half","partitionCount":1,"config":{}}');
        await writeFile(join(fixture.dataDir, leftover, '0', '00000000000000000000.log'), 'junk');
      }
      const manager = await open();
      expect(await topicEntries()).toEqual(['real']);
      expect(manager.listTopics()).toEqual(['real']);
      expect(await values(manager, 'real', 0)).toEqual(['x#0', 'x#1']);
    });

    it('after an fsync failure: the partition reports failed, close leaves no marker and no open file, and a restart recovers', async () => {
      const fs = new FaultyFileSystem();
      const manager = await open({ fs });
      await manager.createTopic('f', 2);
      await append(manager, 'f', 0, 'good', 2);
      fs.beforeDatasync = (path) => {
        if (path.endsWith('.log')) throw ioError('fdatasync');
      };
      await expect(append(manager, 'f', 0, 'lost')).rejects.toBeInstanceOf(StorageFailedError);
      fs.beforeDatasync = undefined;
      // A later fsync that would succeed must not turn the partition healthy again.
      await expect(append(manager, 'f', 0, 'after')).rejects.toBeInstanceOf(StorageFailedError);
      expect(manager.describeTopic('f').partitions.map((p) => p.status)).toEqual(['failed', 'online']);
      await append(manager, 'f', 1, 'other', 1);

      await manager.close();
      expect(await exists(join(fixture.dataDir, CLEAN_SHUTDOWN_FILE_NAME))).toBe(false);
      expect(fs.openHandleCount, 'file handles left open after close').toBe(0);

      const reopened = await open();
      expect(reopened.describeTopic('f').partitions.map((p) => p.status)).toEqual(['online', 'online']);
      // The acknowledged records are there; the unacknowledged one may or may not be (it was written).
      const recovered = await values(reopened, 'f', 0);
      expect(recovered.slice(0, 2)).toEqual(['good#0', 'good#1']);
      expect(recovered.slice(2).every((v) => v === 'lost#0')).toBe(true);
      expect(await values(reopened, 'f', 1)).toEqual(['other#0']);
    });

    it('refuses to open over an unreadable topic.json with InvalidConfigError, and releases the lock', async () => {
      const first = await open();
      await first.createTopic('ok', 1);
      await first.close();
      await mkdir(join(fixture.dataDir, 'broken'));
      await writeFile(join(fixture.dataDir, 'broken', 'topic.json'), '{"version":1,"name":"broken","partitionCount":0}');
      await expect(LogManager.open({ dataDir: fixture.dataDir, logger: silentLogger, clock: fixture.clock })).rejects.toBeInstanceOf(InvalidConfigError);
      expect(await exists(join(fixture.dataDir, LOCK_FILE_NAME))).toBe(false);
      await writeFile(join(fixture.dataDir, 'broken', 'topic.json'), 'not json');
      await expect(LogManager.open({ dataDir: fixture.dataDir, logger: silentLogger, clock: fixture.clock })).rejects.toThrow(/broken/);
    });

    it('serializes concurrent creates of one name: exactly one wins', async () => {
      const manager = await open();
      const results = await Promise.allSettled([manager.createTopic('race', 1), manager.createTopic('race', 2), manager.createTopic('race', 3)]);
      expect(results.filter((r) => r.status === 'fulfilled').length).toBe(1);
      for (const r of results.filter((r) => r.status === 'rejected')) {
        expect((r as PromiseRejectedResult).reason).toBeInstanceOf(TopicAlreadyExistsError);
      }
      expect(manager.describeTopic('race').partitionCount).toBe(1);
      expect(await topicEntries()).toEqual(['race']);
    });

    it('opens a data directory that does not exist yet', async () => {
      const manager = await open({ dataDir: join(fixture.dataDir, 'nested', 'deeper') });
      expect(manager.listTopics()).toEqual([]);
      expect(await exists(join(fixture.dataDir, 'nested', 'deeper', LOCK_FILE_NAME))).toBe(true);
    });

    it('refuses admin operations once closing, and close is idempotent', async () => {
      const manager = await open();
      await manager.createTopic('t', 1);
      const closing = manager.close();
      expect(manager.close()).toBe(closing);
      await expect(manager.createTopic('u', 1)).rejects.toBeInstanceOf(ShuttingDownError);
      await expect(manager.deleteTopic('t')).rejects.toBeInstanceOf(ShuttingDownError);
      await expect(manager.createPartitions('t', 2)).rejects.toBeInstanceOf(ShuttingDownError);
      await closing;
    });
  });

  describe('flush.ms', () => {
    /** Segment fdatasyncs that take `delayMs` of real time, counted, with the most that overlapped. */
    class SlowSyncs extends FaultyFileSystem {
      inFlight = 0;
      maxInFlight = 0;
      segmentSyncs = 0;
      /** While set, every segment fdatasync also waits for it (a stuck disk). */
      hold: Promise<void> | undefined;
      constructor(public delayMs: number) {
        super();
        this.aroundDatasync = async (path, datasync) => {
          if (!path.endsWith('.log')) return datasync();
          this.maxInFlight = Math.max(this.maxInFlight, ++this.inFlight);
          try {
            await new Promise((resolve) => setTimeout(resolve, this.delayMs));
            await this.hold;
            await datasync();
            this.segmentSyncs++;
          } finally {
            this.inFlight--;
          }
        };
      }
    }

    it("fsyncs every partition's appends on its timer, one partition at a time", async () => {
      const fs = new SlowSyncs(20);
      const manager = await open({ fs });
      await manager.createTopic('timed', 8, { flush: 'interval', 'flush.ms': '1000' });
      for (let partition = 0; partition < 8; partition++) await append(manager, 'timed', partition, `p${partition}`);
      const before = fs.segmentSyncs;
      fixture.clock.advance(1000);
      await eventually(() => fs.segmentSyncs >= before + 8, { what: 'all 8 partitions fsynced by the timer' });
      expect(fs.maxInFlight).toBe(1);
      // Nothing new was written: the next tick fsyncs nothing (a deliberate pause, in which none may start).
      fixture.clock.advance(1000);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(fs.segmentSyncs).toBe(before + 8);
    });


    it('fails a partition whose timer fsync fails, as a group-commit fsync would, and logs it once', async () => {
      const fs = new FaultyFileSystem();
      const lines: LogLine[] = [];
      const manager = await open({ fs, logger: capturingLogger(lines) });
      await manager.createTopic('timed', 2, { flush: 'interval', 'flush.ms': '1000' });
      await append(manager, 'timed', 0, 'a');
      await append(manager, 'timed', 1, 'b');
      fs.beforeDatasync = (path) => {
        if (path.includes('/timed/0/') && path.endsWith('.log')) throw ioError('fdatasync');
      };
      fixture.clock.advance(1000);
      await eventually(() => manager.partition('timed', 0).isFailed, { what: 'the timer fsync to fail the partition' });
      await expect(append(manager, 'timed', 0, 'c')).rejects.toBeInstanceOf(StorageFailedError);
      expect((await append(manager, 'timed', 1, 'd')).baseOffset).toBe(1);
      expect(lines.filter((l) => l.msg.startsWith('storage failure'))).toHaveLength(1);
    });

    it('warns when a timer fsync stays pending for 10 ticks (a stuck disk holds every partition)', async () => {
      const fs = new SlowSyncs(0);
      let release!: () => void;
      fs.hold = new Promise((resolve) => (release = resolve));
      const lines: LogLine[] = [];
      const manager = await open({ fs, logger: capturingLogger(lines) });
      await manager.createTopic('timed', 2, { flush: 'interval', 'flush.ms': '1000' });
      await append(manager, 'timed', 0, 'a');
      await append(manager, 'timed', 1, 'b');
      fixture.clock.advance(1000);
      await eventually(() => fs.inFlight === 1, { what: 'the first timer fsync, stuck on the disk' });
      // Ten more ticks while it is stuck (the timer runs them synchronously).
      for (let tick = 0; tick < 10; tick++) fixture.clock.advance(1000);
      expect(fs.maxInFlight).toBe(1);
      const late = lines.filter((l) => l.msg.startsWith('flush.ms fsync is late'));
      expect(late.map((l) => l.partition).sort()).toEqual(['timed/0', 'timed/1']);
      release();
    });

    it('closes cleanly while timer fsyncs run or wait their turn', async () => {
      const fs = new SlowSyncs(100);
      const manager = await open({ fs });
      await manager.createTopic('timed', 4, { flush: 'interval', 'flush.ms': '1000' });
      for (let partition = 0; partition < 4; partition++) await append(manager, 'timed', partition, `p${partition}`);
      fixture.clock.advance(1000);
      // The first timer fsync has started, and takes 100 ms: close() comes while it runs.
      await eventually(() => fs.inFlight === 1, { what: 'the first timer fsync to start' });
      // close()'s own fsyncs are quick: it must still wait for the slow one before closing files.
      fs.delayMs = 0;
      await manager.close();
      expect(fs.inFlight).toBe(0);
      const reopened = await open();
      for (let partition = 0; partition < 4; partition++) {
        expect(reopened.describeTopic('timed').partitions[partition]!.logEndOffset).toBe(1);
        expect((await values(reopened, 'timed', partition))[0]!.startsWith(`p${partition}`)).toBe(true);
      }
    });
  });

  describe('retention', () => {
    it('runRetention deletes expired closed segments of every topic, never the active one', async () => {
      const manager = await open();
      await manager.createTopic('short', 2, { 'segment.bytes': '1024', 'retention.ms': '60000' });
      await manager.createTopic('forever', 1, { 'segment.bytes': '1024', 'retention.ms': '-1' });
      for (let i = 0; i < 20; i++) {
        await append(manager, 'short', 0, `s${i}`, 1, 150);
        await append(manager, 'forever', 0, `f${i}`, 1, 150);
      }
      const segmentsBefore = manager.describeTopic('short').partitions[0]!.segmentCount;
      expect(segmentsBefore).toBeGreaterThan(2);

      fixture.clock.advance(59_000);
      await manager.runRetention();
      expect(manager.describeTopic('short').partitions[0]!.logStartOffset).toBe(0);

      fixture.clock.advance(2_000);
      await append(manager, 'short', 0, 'fresh', 1, 150);
      await manager.runRetention();
      const [short0, short1] = manager.describeTopic('short').partitions;
      // Every closed segment held only expired records; the active one (with 'fresh') stays.
      expect(short0!.segmentCount).toBe(1);
      expect(short0!.logStartOffset).toBeGreaterThan(0);
      expect(short0!.logEndOffset).toBe(21);
      expect(short1).toMatchObject({ logStartOffset: 0, logEndOffset: 0, segmentCount: 1 });
      await expect(manager.partition('short', 0).read(0, 100)).rejects.toBeInstanceOf(OffsetOutOfRangeError);
      const left = await values(manager, 'short', 0);
      expect(left.at(-1)!.startsWith('fresh#0')).toBe(true);
      expect(left.length).toBe(21 - short0!.logStartOffset);
      const forever = manager.describeTopic('forever').partitions[0]!;
      expect(forever.logStartOffset).toBe(0);
      expect(forever.segmentCount).toBeGreaterThan(2);

      // The new log start survives a restart.
      await manager.close();
      const reopened = await open();
      expect(reopened.describeTopic('short').partitions[0]!.logStartOffset).toBe(short0!.logStartOffset);
    });

    it('runs retention by itself every retentionCheckIntervalMs of the injected clock', async () => {
      const manager = await open({ retentionCheckIntervalMs: 10_000 });
      await manager.createTopic('timed', 1, { 'segment.bytes': '1024', 'retention.bytes': '0' });
      for (let i = 0; i < 10; i++) await append(manager, 'timed', 0, `t${i}`, 1, 150);
      expect(manager.describeTopic('timed').partitions[0]!.segmentCount).toBeGreaterThan(1);
      fixture.clock.advance(9_999);
      // Deliberate: a moment in which retention, not due yet, must not run.
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(manager.describeTopic('timed').partitions[0]!.logStartOffset).toBe(0);
      fixture.clock.advance(1);
      await eventually(() => manager.describeTopic('timed').partitions[0]!.segmentCount === 1, { what: 'retention to delete the closed segments' });
      expect(manager.describeTopic('timed').partitions[0]!.segmentCount).toBe(1);
      expect(manager.describeTopic('timed').partitions[0]!.logStartOffset).toBeGreaterThan(0);
    });
  });
});
