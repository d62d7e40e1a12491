/**
 * What a partition's write path can say about itself, for `topics describe` and for the errors that
 * producers get:
 * - `online`: takes writes.
 * - `read-only`: a write found the disk full (ENOSPC, or EDQUOT past a quota). What the failed write
 *   left was cut away; the partition serves reads, and the next append tries to write again (so it
 *   takes writes once space returns, without a restart).
 * - `failed`: an fsync (or any other write error) failed. Read-only until a restart, because a
 *   retried fsync can report success after the kernel dropped the data: only recovery at the next
 *   start tells what is really on disk.
 */
export type WriteStatus = 'online' | 'read-only' | 'failed';

export interface WriteState {
  status: WriteStatus;
  /** Why the partition is not online (absent when it is). */
  reason?: string;
  /** Since when (epoch ms) the partition is in this status (absent when online). */
  sinceMs?: number;
}

const OUT_OF_SPACE_CODES = new Set(['ENOSPC', 'EDQUOT']);

/** True for a write refused for lack of space: nothing about the bytes already on disk is in doubt. */
export function isOutOfSpaceError(error: unknown): boolean {
  return OUT_OF_SPACE_CODES.has((error as NodeJS.ErrnoException | undefined)?.code ?? '');
}

/**
 * An I/O error in one line, without a stack: "no space left on device (ENOSPC) writing <path>".
 * `path` names the file when the error does not (errors of a file handle carry no path).
 */
export function describeIoError(error: unknown, path?: string): string {
  const errno = error as NodeJS.ErrnoException | undefined;
  const where = errno?.path ?? path;
  const suffix = where ? ` writing ${where}` : '';
  if (errno?.code === 'ENOSPC') return `no space left on device (ENOSPC)${suffix}`;
  if (errno?.code === 'EDQUOT') return `disk quota exceeded (EDQUOT)${suffix}`;
  return error instanceof Error ? error.message : String(error);
}
