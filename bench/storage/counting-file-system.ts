import * as fs from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { systemClock } from '../../src/core/clock.js';
import { silentLogger } from '../../src/core/logger.js';
import type { FileHandlePort } from '../../src/storage/file-system.js';
import { NodeFileSystem } from '../../src/storage/node-file-system.js';
import { PartitionLog } from '../../src/storage/partition-log.js';
import { resolveTopicConfig, type FlushPolicy } from '../../src/storage/topic-config.js';

/** What the log asked of the file system during one measurement (writev and fdatasync calls). */
export interface IoStats {
  writevCalls: number;
  writevBytes: number;
  writevMs: number;
  datasyncCalls: number;
  datasyncMs: number;
  datasyncMaxMs: number;
}

export const newIoStats = (): IoStats => ({ writevCalls: 0, writevBytes: 0, writevMs: 0, datasyncCalls: 0, datasyncMs: 0, datasyncMaxMs: 0 });

/**
 * The real NodeFileSystem, with the writev and datasync calls of the files it opens counted and timed
 * (two performance.now() calls per writev or fdatasync, i.e. per group, not per batch).
 */
export class CountingFileSystem extends NodeFileSystem {
  constructor(private readonly stats: IoStats) {
    super();
  }

  override async open(path: string, options: { create: boolean }): Promise<FileHandlePort> {
    const handle = await super.open(path, options);
    const stats = this.stats;
    const writev = handle.writev.bind(handle);
    const datasync = handle.datasync.bind(handle);
    handle.writev = async (buffers, position) => {
      const start = performance.now();
      await writev(buffers, position);
      stats.writevMs += performance.now() - start;
      stats.writevCalls++;
      for (const buffer of buffers) stats.writevBytes += buffer.length;
    };
    handle.datasync = async () => {
      const start = performance.now();
      await datasync();
      const ms = performance.now() - start;
      stats.datasyncCalls++;
      stats.datasyncMs += ms;
      stats.datasyncMaxMs = Math.max(stats.datasyncMaxMs, ms);
    };
    return handle;
  }
}

let directorySequence = 0;
export function freshDirectory(root: string, label: string): string {
  const directory = path.join(root, `${String(directorySequence++).padStart(2, '0')}-${label}`);
  fs.mkdirSync(directory, { recursive: true });
  return directory;
}

export function openLog(directory: string, flush: FlushPolicy, io: IoStats = newIoStats(), isCleanShutdown = false): Promise<PartitionLog> {
  return PartitionLog.open({
    fs: new CountingFileSystem(io),
    directory,
    topic: 'bench',
    partition: 0,
    config: resolveTopicConfig({ flush }),
    clock: systemClock,
    logger: silentLogger,
    isCleanShutdown,
  });
}

export async function closeAndRemove(log: PartitionLog, directory: string): Promise<void> {
  await log.close();
  fs.rmSync(directory, { recursive: true, force: true });
}
