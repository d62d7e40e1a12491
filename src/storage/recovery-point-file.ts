import { join } from 'node:path';
import type { FileSystemPort } from './file-system.js';

/**
 * `<partition dir>/recovery-point`: one decimal offset and a newline. Every segment whose base offset
 * is below it was fsynced and had its index files written, so recovery after a crash scans only the
 * segments at or after it. Written atomically (temporary file, fsync, rename, fsync of the directory).
 */
export const RECOVERY_POINT_FILE_NAME = 'recovery-point';

export async function readRecoveryPoint(fs: FileSystemPort, directory: string): Promise<number> {
  const path = join(directory, RECOVERY_POINT_FILE_NAME);
  if (!(await fs.exists(path))) return 0;
  const text = (await fs.readFile(path)).toString('utf8').trim();
  const offset = Number(text);
  // A garbled checkpoint only costs a longer scan: fall back to scanning everything.
  return /^\d+$/.test(text) && Number.isSafeInteger(offset) ? offset : 0;
}

export function writeRecoveryPoint(fs: FileSystemPort, directory: string, offset: number): Promise<void> {
  return fs.writeFileAtomic(join(directory, RECOVERY_POINT_FILE_NAME), `${offset}\n`);
}
