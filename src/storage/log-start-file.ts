import { join } from 'node:path';
import type { Logger } from '../core/logger.js';
import type { FileSystemPort } from './file-system.js';
import type { Segment } from './segment.js';

/**
 * `<partition dir>/log-start-offset`: one decimal offset and a newline, the partition's first readable
 * offset (inclusive) as the last purge set it (Kafka's log-start-offset checkpoint). It may lie inside
 * a segment; the log start is the larger of it and the first segment's base offset (retention deletes
 * whole segments and need not write it). Absent until the first purge. Written atomically (temporary
 * file, fsync, rename, fsync of the directory) before the purge answers, so it survives a SIGKILL.
 */
export const LOG_START_FILE_NAME = 'log-start-offset';

/** The stored log start offset, or undefined when there is none (or it is garbled: logged, and nothing is hidden). */
export async function readLogStartOffset(fs: FileSystemPort, directory: string, logger: Logger): Promise<number | undefined> {
  const path = join(directory, LOG_START_FILE_NAME);
  if (!(await fs.exists(path))) return undefined;
  const text = (await fs.readFile(path)).toString('utf8').trim();
  const offset = Number(text);
  if (/^\d+$/.test(text) && Number.isSafeInteger(offset)) return offset;
  // Written atomically, so this takes a damaged disk or a hand edit. Falling back to the first
  // segment shows purged records again rather than hide records nobody purged.
  logger.warn({ path, text: text.slice(0, 40) }, 'the log start offset file is garbled: ignored, the log starts at its first segment');
  return undefined;
}

export function writeLogStartOffset(fs: FileSystemPort, directory: string, offset: number): Promise<void> {
  return fs.writeFileAtomic(join(directory, LOG_START_FILE_NAME), `${offset}\n`);
}

/** How many of the oldest segments lie wholly below `logStartOffset` (never the active one, the last). */
export function countSegmentsBelow(segments: readonly Pick<Segment, 'nextOffset'>[], logStartOffset: number): number {
  let count = 0;
  while (count < segments.length - 1 && segments[count]!.nextOffset <= logStartOffset) count++;
  return count;
}

/**
 * The log start at open, from the recovered `segments` (oldest first, the last active): the stored
 * offset, clamped to the recovered log end. A stored offset past the end means records it counted
 * were lost with the page cache (written, never fsynced): the partition starts empty at its end, and
 * the file is rewritten, so that records appended from now on are not hidden by the stale offset
 * after a later crash. Closed segments wholly below it (a purge that stopped between writing the
 * file and deleting them) are deleted from `segments` and the disk. On failure every segment is closed.
 */
export async function recoverLogStart(fs: FileSystemPort, directory: string, segments: Segment[], logger: Logger): Promise<number> {
  try {
    const stored = await readLogStartOffset(fs, directory, logger);
    if (stored === undefined) return segments[0]!.baseOffset;
    const logEndOffset = segments[segments.length - 1]!.nextOffset;
    let logStartOffset = Math.max(stored, segments[0]!.baseOffset);
    if (logStartOffset > logEndOffset) {
      logger.warn(
        { storedLogStartOffset: stored, logEndOffset },
        'the stored log start offset is past the recovered log end (records lost with the page cache): clamped to the log end',
      );
      logStartOffset = logEndOffset;
      await writeLogStartOffset(fs, directory, logStartOffset);
    }
    for (const segment of segments.splice(0, countSegmentsBelow(segments, logStartOffset))) await segment.delete();
    return logStartOffset;
  } catch (error) {
    await Promise.allSettled(segments.map((s) => s.close()));
    throw error;
  }
}
