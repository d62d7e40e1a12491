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
