import { join } from 'node:path';
import { DataDirLockedError, StorageFailedError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { FileSystemPort } from './file-system.js';
import { describeIoError, isOutOfSpaceError } from './write-state.js';

/**
 * Data directory layout. Names outside the topic-name alphabet ('@', '~') cannot clash with a topic.
 *   <data>/@lock                       pid of the process that owns the directory
 *   <data>/@clean-shutdown             present only after a clean close; removed at open
 *   <data>/<topic>/topic.json          see topic-metadata.ts
 *   <data>/<topic>/<partition>/        segments, indexes and recovery-point (see partition-log.ts)
 *   <data>/~creating-<pid>-<n>/        a creation a crash interrupted: removed at open
 *   <data>/~deleting-<pid>-<n>/        a deletion in progress: removed at open
 * The staging names do not embed the topic name: a topic name may be 249 bytes, and with a suffix it
 * would pass the 255-byte limit of a file name (ENAMETOOLONG).
 */
export const LOCK_FILE_NAME = '@lock';
export const CLEAN_SHUTDOWN_FILE_NAME = '@clean-shutdown';

const CREATING_MARK = '~creating-';
const DELETING_MARK = '~deleting-';

let stagingSequence = 0;

/** A fresh name for a topic being built before it is renamed into place (unique in this process). */
export function creatingDirectoryName(): string {
  return `${CREATING_MARK}${process.pid}-${stagingSequence++}`;
}

/** A fresh name a topic directory is renamed to before it is removed. */
export function deletingDirectoryName(): string {
  return `${DELETING_MARK}${process.pid}-${stagingSequence++}`;
}

/**
 * True for what an interrupted create or delete leaves behind. Matches anywhere in the name, so the
 * `<topic>~creating-<pid>-<n>` names of earlier versions are recognised (and removed) too.
 */
export function isLeftoverDirectoryName(name: string): boolean {
  return name.includes(CREATING_MARK) || name.includes(DELETING_MARK);
}

/** Takes the data directory for this process; DataDirLockedError if another live process holds it. */
export async function lockDataDirectory(fs: FileSystemPort, dataDir: string): Promise<void> {
  const path = join(dataDir, LOCK_FILE_NAME);
  if (await fs.exists(path)) {
    const pid = Number((await fs.readFile(path)).toString('utf8').trim());
    // A lock of a dead process (or of this one, restarted in a test) is stale: take it over.
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isProcessAlive(pid)) {
      throw new DataDirLockedError(`data directory ${dataDir} is in use by process ${pid}`);
    }
  }
  try {
    await fs.writeFileAtomic(path, `${process.pid}\n`);
  } catch (error) {
    // Without its lock the directory could be opened twice: refuse to start, in one line.
    if (!isOutOfSpaceError(error)) throw error;
    throw new StorageFailedError(`cannot take the lock of data directory ${dataDir}: ${describeIoError(error, path)}; free some space and start again`, { cause: error });
  }
}

export async function unlockDataDirectory(fs: FileSystemPort, dataDir: string): Promise<void> {
  const path = join(dataDir, LOCK_FILE_NAME);
  if (await fs.exists(path)) await fs.unlink(path);
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** What NodeFileSystem.writeFileAtomic puts in the name of its temporary file. */
const TEMPORARY_FILE_MARK = '.tmp-';

/**
 * Removes what an interrupted writeFileAtomic left in `directory` (of @lock, @clean-shutdown,
 * topic.json: a crash between its write and its rename). Directories are left alone (a topic's name
 * may contain the mark); partition directories are cleaned by openSegments.
 */
export async function removeTemporaryFiles(fs: FileSystemPort, directory: string, logger: Logger): Promise<void> {
  for (const name of await fs.readdir(directory)) {
    if (!name.includes(TEMPORARY_FILE_MARK) || isLeftoverDirectoryName(name)) continue;
    const path = join(directory, name);
    if (await fs.isDirectory(path)) continue;
    logger.warn({ path }, 'removing a temporary file left by an interrupted write');
    await fs.unlink(path);
  }
}
