import { join } from 'node:path';
import { DataLossError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { FileHandlePort, FileSystemPort } from './file-system.js';
import { readRecoveryPoint, writeRecoveryPoint } from './recovery-point-file.js';
import { Segment } from './segment.js';
import { parseSegmentFileName, segmentPaths } from './segment-files.js';
import { findValidBatchAfter, scanSegment, type SegmentDamage } from './segment-scan.js';
import { isOutOfSpaceError } from './write-state.js';

export interface OpenSegmentsOptions {
  fs: FileSystemPort;
  directory: string;
  topic: string;
  partition: number;
  indexIntervalBytes: number;
  /** True when the data directory holds the clean-shutdown marker. */
  isCleanShutdown: boolean;
  nowMs: number;
  logger: Logger;
  /**
   * Called when a write that opening may skip (an index file, the recovery point) fails for lack of
   * space; the partition opens all the same, and the write is left to a later roll, close or start.
   * Without it, the error is thrown.
   */
  onOutOfSpace?: (what: string, error: unknown) => void;
}

/**
 * Opens every segment of a partition directory, recovering after an unclean shutdown:
 * - segments below the recovery point (fsynced, indexes written at roll), and all of them after a
 *   clean shutdown, are opened from their indexes after structural checks and a walk over every
 *   batch header (what the CRC does not cover: see batch-header-check.ts; the CRCs are checked when a
 *   batch is first read); a missing or damaged index is rebuilt from the log; damage in such a segment
 *   is DataLossError, never a tail to cut, since it was fsynced whole;
 * - segments at or after it (or all of them, when no checkpoint survives) are scanned batch by batch:
 *   CRC, framing and contiguous offsets. A torn or corrupt tail (nothing valid after the damage) is
 *   truncated at the last valid batch and logged. Damage followed by valid batches, or a gap between
 *   segments, is never cut away: DataLossError names the offsets and the byte position.
 * Leftovers of interrupted work (orphan index files, temporary files) are removed.
 * Returns the segments in offset order; the last one is the active segment. Never returns none.
 */
export async function openSegments(options: OpenSegmentsOptions): Promise<Segment[]> {
  const { fs, directory, logger } = options;
  const log = logger.child({ topic: options.topic, partition: options.partition });
  await fs.mkdir(directory);
  const names = await fs.readdir(directory);
  const logBaseOffsets: number[] = [];
  const indexFiles: Array<{ name: string; baseOffset: number }> = [];
  for (const name of names) {
    if (name.includes('.tmp-')) {
      await fs.unlink(join(directory, name));
      continue;
    }
    const parsed = parseSegmentFileName(name);
    if (!parsed) continue;
    if (parsed.kind === 'log') logBaseOffsets.push(parsed.baseOffset);
    else indexFiles.push({ name, baseOffset: parsed.baseOffset });
  }
  logBaseOffsets.sort((a, b) => a - b);
  const logSet = new Set(logBaseOffsets);
  for (const orphan of indexFiles.filter((f) => !logSet.has(f.baseOffset))) {
    log.warn({ file: orphan.name }, 'removing an index file whose segment is gone');
    await fs.unlink(join(directory, orphan.name));
  }
  if (logBaseOffsets.length === 0) {
    const segment = await Segment.create(fs, directory, 0, options.indexIntervalBytes, options.nowMs);
    try {
      await fs.syncDirectory(directory);
    } catch (error) {
      // Out of descriptors (EMFILE) fails here first: the segment's own must not leak.
      await segment.close();
      throw error;
    }
    return [segment];
  }

  const recoveryPoint = options.isCleanShutdown ? Number.POSITIVE_INFINITY : await readRecoveryPoint(fs, directory);
  const segments: Segment[] = [];
  let opening: FileHandlePort | undefined;
  let isRecoveryPointBlocked = false;
  // What recovery did, for the one summary line per partition.
  let scannedSegmentCount = 0;
  let rebuiltIndexCount = 0;
  let truncatedBytes = 0;
  try {
    for (let i = 0; i < logBaseOffsets.length; i++) {
      const baseOffset = logBaseOffsets[i]!;
      const isLast = i === logBaseOffsets.length - 1;
      const paths = segmentPaths(directory, baseOffset);
      const file = await fs.open(paths.log, { create: false });
      // Closed by the catch below until a segment owns it (closing twice is harmless).
      opening = file;
      let segment: Segment | undefined;
      let damage: SegmentDamage | undefined;
      // Fsynced whole with its indexes (a clean shutdown, or below the recovery point): damage there
      // is never a torn write to cut away.
      const isTrusted = baseOffset < recoveryPoint;
      if (isTrusted) {
        const opened = await Segment.openWithIndexes(fs, directory, file, baseOffset, options.indexIntervalBytes, options.nowMs);
        if (opened instanceof Segment) segment = opened;
        else if (opened) damage = opened;
        else {
          log.warn({ segment: paths.log }, 'index missing or damaged: rebuilding it from the log');
          rebuiltIndexCount++;
        }
      }
      if (!segment) {
        if (!isTrusted) scannedSegmentCount++;
        const fileSizeBytes = await file.sizeBytes();
        const outcome = damage ? undefined : await scanSegment(file, baseOffset, fileSizeBytes, options.indexIntervalBytes);
        damage ??= outcome?.damage;
        if (damage) {
          const later = await findValidBatchAfter(file, damage.position, fileSizeBytes, damage.expectedOffset);
          const nextSegmentBase = logBaseOffsets[i + 1];
          const nextValidOffset = later?.baseOffset ?? nextSegmentBase;
          if (nextValidOffset !== undefined || isTrusted || !outcome) {
            await file.close();
            throw new DataLossError(options.topic, options.partition, damage.expectedOffset, nextValidOffset ?? damage.expectedOffset, paths.log, damage.position, damage.reason);
          }
          log.warn(
            {
              segment: paths.log,
              truncatedAtPosition: outcome.validSizeBytes,
              truncatedBytes: fileSizeBytes - outcome.validSizeBytes,
              logEndOffset: outcome.nextOffset,
              reason: damage.reason,
            },
            'recovery truncated a torn or corrupt tail after the last valid batch',
          );
          await file.truncate(outcome.validSizeBytes);
          truncatedBytes += fileSizeBytes - outcome.validSizeBytes;
        }
        // Recovery's result must be durable before the recovery point moves past it.
        await file.datasync();
        segment = Segment.fromScan(fs, directory, file, outcome!.indexer, outcome!.validSizeBytes, outcome!.nextOffset, options.nowMs);
        if (!isLast && !(await skipIfOutOfSpace(options, `index files of ${paths.log}`, () => segment!.persistIndexes()))) {
          // The recovery point must not pass a segment without index files (see recovery-point-file.ts).
          isRecoveryPointBlocked = true;
        }
      }
      const previous = segments[segments.length - 1];
      if (previous && previous.nextOffset !== segment.baseOffset) {
        await segment.close();
        throw new DataLossError(options.topic, options.partition, previous.nextOffset, segment.baseOffset, previous.paths.log, previous.sizeBytes);
      }
      segments.push(segment);
      opening = undefined;
    }
    if (!options.isCleanShutdown && !isRecoveryPointBlocked) {
      const recoveryPoint = segments[segments.length - 1]!.baseOffset;
      await skipIfOutOfSpace(options, `the recovery point of ${directory}`, () => writeRecoveryPoint(fs, directory, recoveryPoint));
    }
    if (!options.isCleanShutdown || rebuiltIndexCount > 0) {
      const last = segments[segments.length - 1]!;
      log.info(
        { isCleanShutdown: options.isCleanShutdown, recoveryPoint: options.isCleanShutdown ? null : recoveryPoint, segments: segments.length, scannedSegments: scannedSegmentCount, rebuiltIndexes: rebuiltIndexCount, truncatedBytes, logEndOffset: last.nextOffset },
        options.isCleanShutdown
          ? `partition opened: ${rebuiltIndexCount} missing or damaged indexes rebuilt from the log`
          : `partition recovered: ${scannedSegmentCount} of ${segments.length} segments scanned from the recovery point (offset ${recoveryPoint}) and their indexes rebuilt, ${rebuiltIndexCount} missing or damaged indexes rebuilt, ${truncatedBytes} bytes cut from a torn tail`,
      );
    }
  } catch (error) {
    await opening?.close().catch(() => undefined);
    await Promise.all(segments.map((s) => s.close()));
    if (error instanceof DataLossError) log.error({ err: error }, 'DATA LOSS: partition refuses service');
    throw error;
  }
  return segments;
}

/** Runs `write`; false (after telling onOutOfSpace) if it failed for lack of space and the caller may go on without it. */
async function skipIfOutOfSpace(options: OpenSegmentsOptions, what: string, write: () => Promise<void>): Promise<boolean> {
  try {
    await write();
    return true;
  } catch (error) {
    if (!options.onOutOfSpace || !isOutOfSpaceError(error)) throw error;
    options.onOutOfSpace(what, error);
    return false;
  }
}
