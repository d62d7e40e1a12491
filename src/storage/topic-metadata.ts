import { join } from 'node:path';
import { InvalidConfigError } from '../core/errors.js';
import type { FileSystemPort } from './file-system.js';
import { resolveTopicConfig } from './topic-config.js';
import { validatePartitionCount, validateTopicName } from './topic-name.js';

/**
 * `<data>/<topic>/topic.json`: what a topic is, written atomically (temporary file, fsync, rename,
 * fsync of the directory). Holds only the configuration overrides, so that defaults stay defaults.
 *   { "version": 1, "name": "orders", "partitionCount": 8,
 *     "config": { "retention.ms": "60000" }, "createdAtMs": 1764460800000 }
 */
export const TOPIC_METADATA_FILE_NAME = 'topic.json';
export const TOPIC_METADATA_VERSION = 1;

export interface TopicMetadata {
  name: string;
  partitionCount: number;
  configOverrides: Record<string, string>;
  createdAtMs: number;
}

export function writeTopicMetadata(fs: FileSystemPort, topicDirectory: string, metadata: TopicMetadata): Promise<void> {
  const json = {
    version: TOPIC_METADATA_VERSION,
    name: metadata.name,
    partitionCount: metadata.partitionCount,
    config: metadata.configOverrides,
    createdAtMs: metadata.createdAtMs,
  };
  return fs.writeFileAtomic(join(topicDirectory, TOPIC_METADATA_FILE_NAME), JSON.stringify(json, null, 2) + '\n');
}

/**
 * Replaces a topic.json whose content is `previous` by `next`. If the write fails, the file is read
 * back: a failure after the rename (the directory's fsync) can leave `next` there, which is put back
 * to `previous` so that a change the caller is told failed does not come back at the next start.
 * `onUndoFailed` hears when that is not possible (the file's content is then unknown).
 */
export async function replaceTopicMetadata(
  fs: FileSystemPort,
  topicDirectory: string,
  previous: TopicMetadata,
  next: TopicMetadata,
  onUndoFailed: (error: unknown) => void,
): Promise<void> {
  try {
    await writeTopicMetadata(fs, topicDirectory, next);
  } catch (error) {
    try {
      const onDisk = await readTopicMetadata(fs, topicDirectory);
      if (JSON.stringify(onDisk.configOverrides) !== JSON.stringify(previous.configOverrides) || onDisk.partitionCount !== previous.partitionCount) {
        await writeTopicMetadata(fs, topicDirectory, previous);
      }
    } catch (undoError) {
      onUndoFailed(undoError);
    }
    throw error;
  }
}

/** Reads and checks a topic.json; throws InvalidConfigError naming the file if anything is off. */
export async function readTopicMetadata(fs: FileSystemPort, topicDirectory: string): Promise<TopicMetadata> {
  const path = join(topicDirectory, TOPIC_METADATA_FILE_NAME);
  try {
    const json = JSON.parse((await fs.readFile(path)).toString('utf8')) as Record<string, unknown>;
    if (json.version !== TOPIC_METADATA_VERSION) throw new Error(`unsupported version ${String(json.version)}`);
    validateTopicName(json.name);
    validatePartitionCount(json.partitionCount);
    const configOverrides = (json.config ?? {}) as Record<string, string>;
    resolveTopicConfig(configOverrides);
    const createdAtMs = Number(json.createdAtMs ?? 0);
    return { name: json.name, partitionCount: json.partitionCount, configOverrides, createdAtMs };
  } catch (error) {
    throw new InvalidConfigError(`cannot read ${path}: ${(error as Error).message}`, { cause: error });
  }
}
