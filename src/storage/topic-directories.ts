import { join } from 'node:path';
import type { Logger } from '../core/logger.js';
import { creatingDirectoryName, deletingDirectoryName } from './data-directory.js';
import type { FileSystemPort } from './file-system.js';
import { writeTopicMetadata, type TopicMetadata } from './topic-metadata.js';

/**
 * The topic directories of one data directory, as the LogManager's admin operations change them:
 * a topic is built under a staging name and renamed into place (all or nothing across a crash), and
 * taken out by a rename before it is removed, so a crash never leaves half a topic under its name
 * (data-directory.ts draws the layout and names). Cleanup after a failure logs what it cannot undo
 * and lets the original error stand. The LogManager runs one admin operation at a time.
 */
export class TopicDirectories {
  constructor(
    private readonly fs: FileSystemPort,
    private readonly dataDir: string,
    private readonly logger: Logger,
  ) {}

  /** Builds the whole topic under a temporary name, then renames it into place: a crash leaves all or nothing. */
  async create(metadata: TopicMetadata): Promise<void> {
    const staging = join(this.dataDir, creatingDirectoryName());
    try {
      await this.fs.mkdir(staging);
      for (let p = 0; p < metadata.partitionCount; p++) await this.fs.mkdir(join(staging, String(p)));
      await writeTopicMetadata(this.fs, staging, metadata);
      await this.fs.rename(staging, join(this.dataDir, metadata.name));
    } catch (error) {
      await this.removeQuietly(staging);
      throw error;
    }
  }

  /** Undoes a create whose directory is already in place: renamed away first, so a crash cannot leave half a topic. */
  async discard(name: string): Promise<void> {
    const doomed = join(this.dataDir, deletingDirectoryName());
    try {
      await this.fs.rename(join(this.dataDir, name), doomed);
    } catch (error) {
      this.logger.error({ err: error, topic: name }, 'could not remove the directory of a topic whose creation failed: the next start loads it');
      return;
    }
    try {
      // Before the removal: a crash must not bring back, under the topic's name, a half-removed directory.
      await this.fs.syncDirectory(this.dataDir);
    } catch (error) {
      this.logger.error({ err: error, path: doomed }, 'left for the next start to remove');
      return;
    }
    await this.removeQuietly(doomed);
  }

  /**
   * Deletes a topic's directory. The rename is the deletion: until it succeeds the topic exists (and
   * its error is thrown); after it, the directory is removed.
   */
  async delete(name: string, onRenameFailed: () => Promise<void>): Promise<void> {
    const doomed = join(this.dataDir, deletingDirectoryName());
    try {
      await this.fs.rename(join(this.dataDir, name), doomed);
    } catch (error) {
      await onRenameFailed();
      throw error;
    }
    await this.fs.syncDirectory(this.dataDir);
    await this.fs.removeTree(doomed);
  }

  /** Cleanup after a failure: a removal that fails too is logged, and the original error stands. */
  async removeQuietly(path: string): Promise<void> {
    try {
      await this.fs.removeTree(path);
    } catch (error) {
      this.logger.error({ err: error, path }, 'could not remove what a failed operation left');
    }
  }
}
