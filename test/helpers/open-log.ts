import { ManualClock, type Clock } from '../../src/core/clock.js';
import { silentLogger, type Logger } from '../../src/core/logger.js';
import type { FileSystemPort } from '../../src/storage/file-system.js';
import { NodeFileSystem } from '../../src/storage/node-file-system.js';
import { PartitionLog } from '../../src/storage/partition-log.js';
import { resolveTopicConfig } from '../../src/storage/topic-config.js';

export interface OpenLogOptions {
  config?: Record<string, string>;
  fs?: FileSystemPort;
  clock?: Clock;
  isCleanShutdown?: boolean;
  logger?: Logger;
}

export function openLog(directory: string, options: OpenLogOptions = {}): Promise<PartitionLog> {
  return PartitionLog.open({
    fs: options.fs ?? new NodeFileSystem(),
    directory,
    topic: 't',
    partition: 0,
    config: resolveTopicConfig(options.config ?? {}),
    clock: options.clock ?? new ManualClock(1_700_000_000_000),
    logger: options.logger ?? silentLogger,
    isCleanShutdown: options.isCleanShutdown ?? false,
  });
}

/** Reads every record from `fromOffset` to the high watermark, following nextOffset. */
export async function readAllBatches(log: PartitionLog, fromOffset = log.logStartOffset, maxBytes = 64 * 1024): Promise<Buffer> {
  const parts: Buffer[] = [];
  let offset = fromOffset;
  for (let guard = 0; guard < 1_000_000 && offset < log.highWatermark; guard++) {
    const result = await log.read(offset, maxBytes);
    if (result.batches.length === 0) break;
    parts.push(result.batches);
    offset = result.nextOffset;
  }
  return Buffer.concat(parts);
}
