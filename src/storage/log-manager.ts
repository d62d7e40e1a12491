import { join } from 'node:path';
import { systemClock, type Clock } from '../core/clock.js';
import { isInternalTopic } from '../core/internal-topics.js';
import {
  DataLossError,
  InvalidArgumentError,
  PartitionLimitReachedError,
  PartitionNotFoundError,
  ShuttingDownError,
  TopicAlreadyExistsError,
  TopicNotFoundError,
  asStorageError,
} from '../core/errors.js';
import { MAX_PARTITIONS_PER_SERVER } from '../core/limits.js';
import { silentLogger, type Logger } from '../core/logger.js';
import { CLEAN_SHUTDOWN_FILE_NAME, isLeftoverDirectoryName, lockDataDirectory, removeTemporaryFiles, unlockDataDirectory } from './data-directory.js';
import type { FileSystemPort } from './file-system.js';
import { NodeFileSystem } from './node-file-system.js';
import { observeFileSystem, type StorageObserver } from './storage-observer.js';
import { IntervalFlusher } from './interval-flusher.js';
import { NO_CONSUMPTION_PROGRESS, type ConsumptionProgress } from './consumption-progress.js';
import { closeEverySlot, closeSlots } from './close-slots.js';
import { PartitionLog } from './partition-log.js';
import { DEFAULT_RETENTION_CHECK_INTERVAL_MS, RetentionRunner } from './retention-runner.js';
import { UnconsumedRemovals, type UnconsumedRemovalCount } from './unconsumed-removals.js';
import { resolveTopicConfig, type TopicConfig } from './topic-config.js';
import { planTopicConfigChange, type TopicConfigChange } from './topic-config-change.js';
import { describePartition, noteDataLoss, type PartitionSlot, type TopicDescription } from './topic-description.js';
import { readTopicMetadata, replaceTopicMetadata, writeTopicMetadata, type TopicMetadata } from './topic-metadata.js';
import { TopicDirectories } from './topic-directories.js';
import { validatePartitionCount, validateTopicName } from './topic-name.js';
import { describeIoError, isOutOfSpaceError } from './write-state.js';

export { CLEAN_SHUTDOWN_FILE_NAME, LOCK_FILE_NAME } from './data-directory.js';
export type { PartitionDescription, TopicDescription } from './topic-description.js';
export type { TopicConfigChange } from './topic-config-change.js';
export { DEFAULT_RETENTION_CHECK_INTERVAL_MS } from './retention-runner.js';

/** What alterTopicConfig did (or with validateOnly, would do). */
export interface TopicConfigAlteration {
  previous: { config: TopicConfig; configOverrides: Record<string, string> };
  /** The topic after the change (with validateOnly: as it would be; its partitions as they are). */
  topic: TopicDescription;
}

export interface LogManagerOptions {
  dataDir: string;
  fs?: FileSystemPort;
  clock?: Clock;
  logger?: Logger;
  retentionCheckIntervalMs?: number;
  /** Partitions of every topic together, at most (MAX_PARTITIONS_PER_SERVER; tests set fewer). */
  maxPartitions?: number;
  /** Told of append and fsync latencies (the server's metrics); none when absent. */
  observer?: StorageObserver;
}

interface Topic {
  metadata: TopicMetadata;
  config: TopicConfig;
  partitions: PartitionSlot[];
}

/**
 * All topics of one data directory: opening (with recovery), creating, deleting and growing topics,
 * retention on a timer, and a clean close that leaves the marker which lets the next open skip
 * recovery. Admin operations run one at a time; appends and reads go straight to the PartitionLog.
 */
export class LogManager {
  private readonly topics = new Map<string, Topic>();
  /** Every partition's `flush.ms` fsyncs, one at a time (interval-flusher.ts says why). */
  private readonly intervalFlusher = new IntervalFlusher();
  private adminChain: Promise<unknown> = Promise.resolve();
  /** Retention on a timer, and the runs runRetention asks for (retention-runner.ts). */
  private readonly retention: RetentionRunner;
  private isClosing = false;
  private closed: Promise<void> | undefined;
  private readonly directories: TopicDirectories;
  /** Set by the composition root once groups are up (setConsumptionProgress); nobody reads anything before. */
  private consumption: ConsumptionProgress = NO_CONSUMPTION_PROGRESS;
  /** What every partition asks: always the current port. */
  private readonly consumptionView: ConsumptionProgress = { readersOf: (topic, partition) => this.consumption.readersOf(topic, partition) };
  /** Records removed before a group consumed them, counted and logged (never silent). */
  private readonly unconsumedRemovals: UnconsumedRemovals;

  private constructor(
    readonly dataDir: string,
    private readonly fs: FileSystemPort,
    private readonly clock: Clock,
    private readonly logger: Logger,
    retentionCheckIntervalMs: number,
    private readonly maxPartitions: number,
    private readonly observer: StorageObserver | undefined,
  ) {
    this.directories = new TopicDirectories(fs, dataDir, logger);
    this.unconsumedRemovals = new UnconsumedRemovals(logger, clock);
    this.retention = new RetentionRunner({
      clock,
      logger,
      retentionCheckIntervalMs,
      topics: this.topics,
      consumption: this.consumptionView,
      unconsumedRemovals: this.unconsumedRemovals,
      isClosing: () => this.isClosing,
    });
  }

  static async open(options: LogManagerOptions): Promise<LogManager> {
    const clock = options.clock ?? systemClock;
    const baseFs = options.fs ?? new NodeFileSystem();
    const fs = options.observer ? observeFileSystem(baseFs, options.observer, clock) : baseFs;
    const logger = options.logger ?? silentLogger;
    const manager = new LogManager(
      options.dataDir,
      fs,
      clock,
      logger,
      options.retentionCheckIntervalMs ?? DEFAULT_RETENTION_CHECK_INTERVAL_MS,
      options.maxPartitions ?? MAX_PARTITIONS_PER_SERVER,
      options.observer,
    );
    await fs.mkdir(options.dataDir);
    await lockDataDirectory(fs, options.dataDir);
    try {
      await manager.load();
    } catch (error) {
      await closeEverySlot(manager.topics.values(), logger);
      await unlockDataDirectory(fs, options.dataDir);
      throw error;
    }
    manager.retention.schedule();
    return manager;
  }

  /**
   * How far groups have consumed each partition (consumption-progress.ts): the composition root sets
   * it once the committed offsets and queue groups are loaded. Until then, retention.after.ack deletes
   * nothing and every record counts as unconsumed.
   */
  setConsumptionProgress(progress: ConsumptionProgress): void {
    this.consumption = progress;
  }

  /**
   * Records removed by time/size retention or drop-oldest before some group consumed them, per group,
   * topic and partition, since this process started (a metric's counter reads this).
   */
  unconsumedRemovedRecords(): UnconsumedRemovalCount[] {
    return this.unconsumedRemovals.totals();
  }

  /** The partition count of a topic, or undefined if there is no such topic. */
  partitionCount(topic: string): number | undefined {
    return this.topics.get(topic)?.partitions.length;
  }

  listTopics(): string[] {
    return [...this.topics.keys()].sort();
  }

  /** The open partition log; TopicNotFoundError, PartitionNotFoundError or the partition's DataLossError. */
  partition(topic: string, partition: number): PartitionLog {
    const slot = this.topicOrThrow(topic).partitions[partition];
    if (!Number.isInteger(partition) || slot === undefined) {
      throw new PartitionNotFoundError(topic, partition, this.topicOrThrow(topic).partitions.length);
    }
    if (slot instanceof DataLossError) throw slot;
    return slot;
  }

  describeTopic(name: string): TopicDescription {
    const topic = this.topicOrThrow(name);
    return {
      name,
      partitionCount: topic.partitions.length,
      config: { ...topic.config },
      configOverrides: { ...topic.metadata.configOverrides },
      partitions: topic.partitions.map((slot, partition) => describePartition(slot, partition)),
    };
  }

  createTopic(name: string, partitionCount: number, configOverrides: Record<string, string> = {}): Promise<TopicDescription> {
    return this.admin(`creating topic ${name}`, async () => {
      validateTopicName(name);
      validatePartitionCount(partitionCount);
      const config = resolveTopicConfig(configOverrides);
      if (this.topics.has(name)) throw new TopicAlreadyExistsError(name);
      this.checkPartitionLimit(name, partitionCount);
      const metadata: TopicMetadata = { name, partitionCount, configOverrides: { ...configOverrides }, createdAtMs: this.clock.nowMs() };
      await this.directories.create(metadata);
      // A failure from here on (EMFILE opening the 1000th partition) must not leave a topic that the
      // caller was told failed but that the next start loads: openPartitions closes what it opened.
      let partitions: PartitionSlot[];
      try {
        await this.fs.syncDirectory(this.dataDir);
        partitions = await this.openPartitions(name, config, 0, partitionCount, true);
      } catch (error) {
        await this.directories.discard(name);
        throw error;
      }
      this.topics.set(name, { metadata, config, partitions });
      this.logger.info({ topic: name, partitionCount, config: configOverrides }, 'topic created');
      return this.describeTopic(name);
    });
  }

  deleteTopic(name: string): Promise<void> {
    return this.admin(`deleting topic ${name}`, async () => {
      const topic = this.topicOrThrow(name);
      // Out of the map first, so no new append or read finds a partition that is being closed.
      this.topics.delete(name);
      // A close that fails (its final fsync) must not stop the delete: the data is going anyway.
      const closes = await Promise.allSettled(topic.partitions.map((slot) => (slot instanceof PartitionLog ? slot.close() : undefined)));
      for (const close of closes) {
        if (close.status !== 'rejected') continue;
        // A full disk is expected here (the delete is often what frees it): one line, no stack.
        if (isOutOfSpaceError(close.reason)) this.logger.warn({ topic: name, reason: describeIoError(close.reason) }, 'disk full: a partition of a deleted topic closed without its index files (they go with it)');
        else this.logger.warn({ err: close.reason, topic: name }, 'a partition of a deleted topic failed to close');
      }
      // Until the directory's rename succeeds the topic exists, on disk and so in memory.
      await this.directories.delete(name, () => this.restoreTopic(name, topic));
      this.unconsumedRemovals.forgetTopic(name);
      this.logger.info({ topic: name }, 'topic deleted');
    });
  }

  /** Grows a topic to `partitionCount` partitions; shrinking is refused (it would move keys). */
  createPartitions(name: string, partitionCount: number): Promise<TopicDescription> {
    return this.admin(`adding partitions to ${name}`, async () => {
      const topic = this.topicOrThrow(name);
      validatePartitionCount(partitionCount);
      const currentCount = topic.partitions.length;
      if (partitionCount <= currentCount) {
        throw new InvalidArgumentError(`topic '${name}' has ${currentCount} partitions; the count can only grow`);
      }
      this.checkPartitionLimit(name, partitionCount - currentCount);
      const topicDirectory = join(this.dataDir, name);
      const metadata = { ...topic.metadata, partitionCount };
      let added: PartitionSlot[] = [];
      try {
        for (let p = currentCount; p < partitionCount; p++) await this.fs.mkdir(join(topicDirectory, String(p)));
        await this.fs.syncDirectory(topicDirectory);
        added = await this.openPartitions(name, topic.config, currentCount, partitionCount, true);
        // topic.json is the commit point: until it names them, the new directories are not part of the topic.
        await writeTopicMetadata(this.fs, topicDirectory, metadata);
      } catch (error) {
        await closeSlots(added);
        for (let p = currentCount; p < partitionCount; p++) await this.directories.removeQuietly(join(topicDirectory, String(p)));
        throw error;
      }
      topic.metadata = metadata;
      topic.partitions.push(...added);
      this.logger.info({ topic: name, from: currentCount, to: partitionCount }, 'partitions added');
      return this.describeTopic(name);
    });
  }

  /**
   * Changes a topic's config overrides while it runs (planTopicConfigChange validates them, and
   * `check` adds the caller's policy on the resolved result). topic.json is rewritten atomically
   * before anything else changes: it is the commit point, so a crash leaves the old config or the
   * new one. Then every open partition applies it, and partitions added later open with it. With
   * `validateOnly`, nothing is written or applied.
   */
  alterTopicConfig(name: string, change: TopicConfigChange, options: { validateOnly?: boolean; check?: (config: TopicConfig) => void } = {}): Promise<TopicConfigAlteration> {
    return this.admin(`altering the config of topic ${name}`, async () => {
      const topic = this.topicOrThrow(name);
      const { overrides, config } = planTopicConfigChange(topic.metadata.configOverrides, change);
      options.check?.(config);
      const previous = { config: { ...topic.config }, configOverrides: { ...topic.metadata.configOverrides } };
      if (options.validateOnly) return { previous, topic: { ...this.describeTopic(name), config: { ...config }, configOverrides: { ...overrides } } };
      const metadata: TopicMetadata = { ...topic.metadata, configOverrides: overrides };
      await replaceTopicMetadata(this.fs, join(this.dataDir, name), topic.metadata, metadata, (error) =>
        this.logger.error({ err: error, topic: name }, 'a failed config change could not be undone in topic.json: the next start may load it'),
      );
      topic.metadata = metadata;
      topic.config = config;
      for (const slot of topic.partitions) if (slot instanceof PartitionLog) slot.applyConfig(config);
      this.logger.info({ topic: name, set: change.set, delete: change.delete, config: overrides }, 'topic config altered');
      return { previous, topic: this.describeTopic(name) };
    });
  }

  /**
   * Runs retention on every open partition now (the timer calls this too). Records it removes before
   * some group consumed them are counted, and logged at the end: one warning line per group.
   */
  runRetention(): Promise<void> {
    return this.retention.run();
  }

  /** Clean shutdown: no new appends, queued ones finish, everything is flushed, then the marker. */
  close(): Promise<void> {
    if (this.closed) return this.closed;
    this.isClosing = true;
    this.retention.cancel();
    this.unconsumedRemovals.close();
    this.closed = (async () => {
      await this.adminChain.catch(() => undefined);
      let isClean = await closeEverySlot(this.topics.values(), this.logger);
      if (isClean) {
        try {
          await this.fs.writeFileAtomic(join(this.dataDir, CLEAN_SHUTDOWN_FILE_NAME), `${this.clock.nowMs()}\n`);
        } catch (error) {
          // Without the marker the next start recovers every partition: slower, never wrong.
          if (!isOutOfSpaceError(error)) throw error;
          isClean = false;
          this.logger.warn({ reason: describeIoError(error, CLEAN_SHUTDOWN_FILE_NAME) }, 'disk full: no clean-shutdown marker, the next start recovers every partition');
        }
      }
      await unlockDataDirectory(this.fs, this.dataDir);
      this.logger.info({ dataDir: this.dataDir, isClean }, 'log manager closed');
    })();
    return this.closed;
  }

  private admin<T>(doing: string, operation: () => Promise<T>): Promise<T> {
    if (this.isClosing) return Promise.reject(new ShuttingDownError('the log manager is closing'));
    // A full disk or the descriptor limit is the caller's to know (STORAGE_FAILED, TOO_MANY_OPEN_FILES), not INTERNAL.
    const result = this.adminChain.then(operation).catch((error: unknown) => Promise.reject(asStorageError(error, doing)));
    this.adminChain = result.catch(() => undefined);
    return result;
  }

  /**
   * Refuses `added` more partitions past the server's limit (each holds file descriptors: see
   * limits.ts). The server's own internal topics (a few partitions, created at startup; clients may
   * not create them) are not refused: a server whose client topics took every partition would
   * otherwise not start once a new version adds one. Their partitions still count against clients.
   */
  private checkPartitionLimit(topic: string, added: number): void {
    if (isInternalTopic(topic)) return;
    let count = 0;
    for (const t of this.topics.values()) count += t.partitions.length;
    if (count + added > this.maxPartitions) {
      throw new PartitionLimitReachedError(
        `adding ${added} partitions to topic '${topic}' would make ${count + added} on this server, more than its limit of ${this.maxPartitions} (it has ${count})`,
      );
    }
  }

  private topicOrThrow(name: string): Topic {
    const topic = this.topics.get(name);
    if (!topic) throw new TopicNotFoundError(name);
    return topic;
  }

  /** After a failed delete: reopens the closed partitions (recovering them, to be safe) and serves the topic again. */
  private async restoreTopic(name: string, topic: Topic): Promise<void> {
    try {
      topic.partitions = await this.openPartitions(name, topic.config, 0, topic.partitions.length, false);
      this.topics.set(name, topic);
    } catch (error) {
      // Its directory is still there: the next start serves it again.
      this.logger.error({ err: error, topic: name }, 'a topic whose deletion failed could not be reopened');
    }
  }

  private async load(): Promise<void> {
    const markerPath = join(this.dataDir, CLEAN_SHUTDOWN_FILE_NAME);
    const isCleanShutdown = await this.fs.exists(markerPath);
    await removeTemporaryFiles(this.fs, this.dataDir, this.logger);
    for (const name of await this.fs.readdir(this.dataDir)) {
      const path = join(this.dataDir, name);
      if (isLeftoverDirectoryName(name)) {
        this.logger.warn({ path }, 'removing a topic directory left by an interrupted create or delete');
        await this.fs.removeTree(path);
        continue;
      }
      if (name.startsWith('@') || !(await this.fs.isDirectory(path))) continue;
      await removeTemporaryFiles(this.fs, path, this.logger);
      const metadata = await readTopicMetadata(this.fs, path);
      const config = resolveTopicConfig(metadata.configOverrides);
      const partitions = await this.openPartitions(metadata.name, config, 0, metadata.partitionCount, isCleanShutdown);
      this.topics.set(metadata.name, { metadata, config, partitions });
    }
    // The marker vouches for the state at the last close only: remove it before anything changes.
    if (isCleanShutdown) {
      await this.fs.unlink(markerPath);
      await this.fs.syncDirectory(this.dataDir);
    }
    this.logger.info({ dataDir: this.dataDir, topics: this.topics.size, isCleanShutdown }, 'logs opened');
  }

  private async openPartitions(topic: string, config: TopicConfig, fromPartition: number, toPartition: number, isCleanShutdown: boolean): Promise<PartitionSlot[]> {
    const slots: PartitionSlot[] = [];
    for (let partition = fromPartition; partition < toPartition; partition++) {
      try {
        slots.push(
          await PartitionLog.open({
            fs: this.fs,
            directory: join(this.dataDir, topic, String(partition)),
            topic,
            partition,
            config,
            clock: this.clock,
            logger: this.logger,
            isCleanShutdown,
            intervalFlusher: this.intervalFlusher,
            consumption: this.consumptionView,
            unconsumedRemovals: this.unconsumedRemovals,
            ...(this.observer ? { observer: this.observer } : {}),
          }),
        );
      } catch (error) {
        if (!(error instanceof DataLossError)) {
          await closeSlots(slots);
          throw error;
        }
        slots.push(noteDataLoss(error, this.clock.nowMs()));
      }
    }
    return slots;
  }
}
