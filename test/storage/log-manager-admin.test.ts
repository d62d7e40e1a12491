import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/logger.js';
import { PartitionLimitReachedError, TopicNotFoundError } from '../../src/core/errors.js';
import { MAX_PARTITIONS, MAX_PARTITIONS_PER_SERVER, MAX_TOPIC_NAME_LENGTH } from '../../src/core/limits.js';
import { OFFSETS_TOPIC, OFFSETS_TOPIC_PARTITIONS } from '../../src/groups/offset-store.js';
import { CLEAN_SHUTDOWN_FILE_NAME, LOCK_FILE_NAME, LogManager } from '../../src/storage/log-manager.js';
import { FaultyFileSystem, ioError, tooManyOpenFilesError, type FileOperation } from '../helpers/faulty-file-system.js';
import { exists, useLogManagerFixture } from '../helpers/log-manager-fixture.js';

/** The longest file name Linux (ext4, xfs, tmpfs) accepts, in bytes. */
const MAX_FILE_NAME_BYTES = 255;


/** Admin operations at the edges: the longest names, and failures midway through a create or delete. */
describe('LogManager admin operations', () => {
  const fixture = useLogManagerFixture('strata-log-manager-admin-');
  const { open, append, values, topicEntries } = fixture;

  describe('the longest topic names', () => {
    it(`creates, appends to, deletes, re-creates and reopens a topic of ${MAX_TOPIC_NAME_LENGTH} characters`, async () => {
      const name = 'n'.repeat(MAX_TOPIC_NAME_LENGTH);
      expect(name.length + '~creating-'.length).toBeGreaterThan(MAX_FILE_NAME_BYTES);
      const manager = await open();
      await manager.createTopic(name, 2);
      await append(manager, name, 1, 'first');
      await manager.deleteTopic(name);
      expect(manager.listTopics()).toEqual([]);
      expect(await topicEntries()).toEqual([]);

      await manager.createTopic(name, 2);
      await append(manager, name, 1, 'second');
      await manager.close();
      const reopened = await open();
      expect(reopened.listTopics()).toEqual([name]);
      expect(await values(reopened, name, 1)).toEqual(['second#0']);
      await reopened.deleteTopic(name);
      expect(await topicEntries()).toEqual([]);
    });

    it('deletes long names however many creates and deletes came before (the staging counter grows)', async () => {
      const manager = await open();
      for (let round = 0; round < 12; round++) {
        for (const length of [239, 240, MAX_TOPIC_NAME_LENGTH]) {
          const name = String(round % 10).repeat(length);
          await manager.createTopic(name, 1);
          await append(manager, name, 0, `r${round}`);
          await manager.deleteTopic(name);
          expect(() => manager.describeTopic(name)).toThrow(TopicNotFoundError);
        }
      }
      expect(manager.listTopics()).toEqual([]);
      expect(await topicEntries()).toEqual([]);
    });
  });

  describe('a delete that fails', () => {
    it('keeps serving the topic, with its data, when the rename that deletes it fails; a later delete works', async () => {
      const fs = new FaultyFileSystem();
      const manager = await open({ fs });
      await manager.createTopic('stays', 2);
      await append(manager, 'stays', 0, 'a');
      fs.failOperation = (operation, path) => {
        if (operation === 'rename' && path === join(fixture.dataDir, 'stays')) throw ioError('rename');
      };
      await expect(manager.deleteTopic('stays')).rejects.toThrow(/EIO/);
      fs.failOperation = undefined;

      expect(manager.listTopics()).toEqual(['stays']);
      expect(await topicEntries()).toEqual(['stays']);
      expect(await values(manager, 'stays', 0)).toEqual(['a#0']);
      expect((await append(manager, 'stays', 0, 'b')).baseOffset).toBe(1);
      expect(manager.describeTopic('stays').partitions.map((p) => p.status)).toEqual(['online', 'online']);
      // Only the topic's own partitions hold files: the reopened ones, not the closed ones too.
      expect(fs.openHandleCount).toBe(2);

      await manager.deleteTopic('stays');
      expect(manager.listTopics()).toEqual([]);
      expect(await topicEntries()).toEqual([]);
      expect(fs.openHandleCount).toBe(0);
      await manager.close();
      expect((await open()).listTopics()).toEqual([]);
    });

    it('deletes a topic whose partition fails its final fsync on close (the data is going anyway)', async () => {
      const fs = new FaultyFileSystem();
      const manager = await open({ fs });
      await manager.createTopic('doomed', 2, { flush: 'interval', 'flush.ms': '60000' });
      await append(manager, 'doomed', 0, 'unsynced');
      fs.beforeDatasync = (path) => {
        if (path.includes('/doomed/')) throw ioError('fdatasync');
      };
      await manager.deleteTopic('doomed');
      expect(manager.listTopics()).toEqual([]);
      expect(await topicEntries()).toEqual([]);
      expect(fs.openHandleCount).toBe(0);
      await manager.close();
      expect((await open()).listTopics()).toEqual([]);
    });
  });

  describe('a create or grow that fails midway leaves nothing behind', () => {
    /** Fails the `n`-th call of `operation` under `pathPart` with EMFILE, as a server out of descriptors would. */
    function failNth(fs: FaultyFileSystem, operation: FileOperation, pathPart: string, n: number): void {
      let seen = 0;
      fs.failOperation = (op, path) => {
        if (op === operation && path.includes(pathPart) && ++seen === n) throw tooManyOpenFilesError();
      };
    }

    /** The manager and the disk hold exactly `topics`, with no leftover and no extra open file; also after a reopen. */
    async function expectOnly(manager: LogManager, fs: FaultyFileSystem, topics: string[], openHandles: number): Promise<void> {
      expect(manager.listTopics()).toEqual(topics);
      expect(await topicEntries()).toEqual(topics);
      expect(fs.openHandleCount, 'open file handles').toBe(openHandles);
      await manager.close();
      expect(fs.openHandleCount).toBe(0);
      const reopened = await open();
      expect(reopened.listTopics()).toEqual(topics);
      expect(await topicEntries()).toEqual(topics);
    }

    it('a create whose n-th partition fails to open (EMFILE): no topic in memory or on disk, no file left open, also after a reopen', async () => {
      const fs = new FaultyFileSystem();
      const manager = await open({ fs });
      await manager.createTopic('first', 3);
      failNth(fs, 'open', '/second/', 5);
      await expect(manager.createTopic('second', 10)).rejects.toThrow(/EMFILE/);
      fs.failOperation = undefined;
      await expectOnly(manager, fs, ['first'], 3);
    });

    it("a create that fails at a new partition's directory fsync (EMFILE) closes that partition's segment too", async () => {
      const fs = new FaultyFileSystem();
      const manager = await open({ fs });
      await manager.createTopic('first', 1);
      failNth(fs, 'syncDirectory', '/second/4', 1);
      await expect(manager.createTopic('second', 8)).rejects.toThrow(/EMFILE/);
      fs.failOperation = undefined;
      await expectOnly(manager, fs, ['first'], 1);
    });

    it('a create that fails while it builds its staging directory leaves no ~creating- directory', async () => {
      const fs = new FaultyFileSystem();
      const manager = await open({ fs });
      failNth(fs, 'mkdir', '~creating-', 4);
      await expect(manager.createTopic('staged', 8)).rejects.toThrow(/EMFILE/);
      fs.failOperation = undefined;
      expect(await topicEntries()).toEqual([]);
      // The name is free: the same create succeeds now.
      expect((await manager.createTopic('staged', 8)).partitionCount).toBe(8);
      await expectOnly(manager, fs, ['staged'], 8);
    });

    it('a grow whose n-th new partition fails to open keeps the old count, on disk and in memory, and can be retried', async () => {
      const fs = new FaultyFileSystem();
      const manager = await open({ fs });
      await manager.createTopic('grow', 2);
      await append(manager, 'grow', 1, 'kept');
      failNth(fs, 'open', '/grow/', 3);
      await expect(manager.createPartitions('grow', 6)).rejects.toThrow(/EMFILE/);
      fs.failOperation = undefined;
      expect(manager.describeTopic('grow').partitionCount).toBe(2);
      expect((await readdir(join(fixture.dataDir, 'grow'))).sort()).toEqual(['0', '1', 'topic.json']);
      expect(fs.openHandleCount).toBe(2);

      // A failed topic.json write, after every new partition opened, undoes the grow as well.
      failNth(fs, 'writeFileAtomic', '/grow/topic.json', 1);
      await expect(manager.createPartitions('grow', 6)).rejects.toThrow(/EMFILE/);
      fs.failOperation = undefined;
      expect(manager.describeTopic('grow').partitionCount).toBe(2);
      expect((await readdir(join(fixture.dataDir, 'grow'))).sort()).toEqual(['0', '1', 'topic.json']);
      expect(fs.openHandleCount).toBe(2);

      expect((await manager.createPartitions('grow', 6)).partitionCount).toBe(6);
      await manager.close();
      const reopened = await open();
      expect(reopened.describeTopic('grow').partitionCount).toBe(6);
      expect(await values(reopened, 'grow', 1)).toEqual(['kept#0']);
    });
  });

  describe('an open that fails', () => {
    /** A topic with data in both partitions, left as a crash leaves it (no clean-shutdown marker). */
    async function crashWithData(): Promise<void> {
      const fs = new FaultyFileSystem();
      const manager = await LogManager.open({ dataDir: fixture.dataDir, logger: silentLogger, clock: fixture.clock, fs });
      await manager.createTopic('r', 2);
      await append(manager, 'r', 0, 'a');
      await append(manager, 'r', 1, 'b');
      await fs.crash();
    }

    it('leaves no file open when recovery fails to fsync a segment or to write a recovery point', async () => {
      await crashWithData();
      const failingSync = new FaultyFileSystem();
      failingSync.beforeDatasync = (path) => {
        if (path.includes('/r/1/')) throw ioError('fdatasync');
      };
      await expect(LogManager.open({ dataDir: fixture.dataDir, logger: silentLogger, clock: fixture.clock, fs: failingSync })).rejects.toThrow(/EIO/);
      expect(failingSync.openHandleCount, 'open file handles').toBe(0);

      const failingWrite = new FaultyFileSystem();
      failingWrite.failOperation = (operation, path) => {
        if (operation === 'writeFileAtomic' && path.includes('/r/1/')) throw ioError('write');
      };
      await expect(LogManager.open({ dataDir: fixture.dataDir, logger: silentLogger, clock: fixture.clock, fs: failingWrite })).rejects.toThrow(/EIO/);
      expect(failingWrite.openHandleCount, 'open file handles').toBe(0);

      const manager = await open();
      expect(await values(manager, 'r', 1)).toEqual(['b#0']);
    });
  });

  describe('the partition limit of a server', () => {
    it('refuses a create or grow past maxPartitions with PartitionLimitReachedError, counting every topic, changing nothing', async () => {
      const manager = await open({ maxPartitions: 20 });
      await manager.createTopic(OFFSETS_TOPIC, 8);
      await manager.createTopic('a', 4);
      await manager.createTopic('b', 4);
      const refused = manager.createTopic('c', 5);
      await expect(refused).rejects.toBeInstanceOf(PartitionLimitReachedError);
      await expect(refused).rejects.toMatchObject({ code: 'PARTITION_LIMIT_REACHED', retriable: false });
      await expect(refused).rejects.toThrow(/would make 21 on this server, more than its limit of 20 \(it has 16\)/);
      await expect(manager.createPartitions('a', 9)).rejects.toBeInstanceOf(PartitionLimitReachedError);
      expect(manager.listTopics()).toEqual([OFFSETS_TOPIC, 'a', 'b']);
      expect(await topicEntries()).toEqual([OFFSETS_TOPIC, 'a', 'b']);
      expect(manager.describeTopic('a').partitionCount).toBe(4);

      // Up to the limit exactly; a deleted topic's partitions are free again.
      await manager.createTopic('c', 4);
      await expect(manager.createTopic('d', 1)).rejects.toBeInstanceOf(PartitionLimitReachedError);
      await manager.deleteTopic('b');
      expect((await manager.createPartitions('a', 8)).partitionCount).toBe(8);
    });

    it(`is MAX_PARTITIONS_PER_SERVER (${MAX_PARTITIONS_PER_SERVER}) unless set: a topic of MAX_PARTITIONS does not fit beside ${OFFSETS_TOPIC}`, async () => {
      const manager = await open();
      await manager.createTopic(OFFSETS_TOPIC, OFFSETS_TOPIC_PARTITIONS);
      await expect(manager.createTopic('huge', MAX_PARTITIONS)).rejects.toThrow(new RegExp(`limit of ${MAX_PARTITIONS_PER_SERVER} `));
      await manager.createTopic('small', 2);
      await expect(manager.createPartitions('small', MAX_PARTITIONS)).rejects.toBeInstanceOf(PartitionLimitReachedError);
      expect(manager.listTopics()).toEqual([OFFSETS_TOPIC, 'small']);
    });
  });

  describe('a close that fails', () => {
    it('closes every partition when one fails its final fsync, leaves no marker, releases the lock, and the next open recovers', async () => {
      const fs = new FaultyFileSystem();
      const manager = await open({ fs });
      await manager.createTopic('a', 1, { flush: 'interval', 'flush.ms': '60000' });
      await manager.createTopic('b', 1);
      await append(manager, 'a', 0, 'unsynced');
      await append(manager, 'b', 0, 'synced');
      fs.beforeDatasync = (path) => {
        if (path.includes('/a/0/')) throw ioError('fdatasync');
      };
      await manager.close();
      expect(fs.openHandleCount, 'file handles left open after close').toBe(0);
      expect(await exists(join(fixture.dataDir, CLEAN_SHUTDOWN_FILE_NAME))).toBe(false);
      expect(await exists(join(fixture.dataDir, LOCK_FILE_NAME))).toBe(false);
      const reopened = await open();
      expect(await values(reopened, 'b', 0)).toEqual(['synced#0']);
      expect(reopened.describeTopic('a').partitions[0]!.status).toBe('online');
    });
  });
});
