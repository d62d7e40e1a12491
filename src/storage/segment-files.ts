import { join } from 'node:path';

/** Segment files are named by their 20-digit zero-padded base offset, so names sort as offsets do. */
export const LOG_FILE_SUFFIX = '.log';
export const OFFSET_INDEX_FILE_SUFFIX = '.index';
export const TIME_INDEX_FILE_SUFFIX = '.timeindex';
export const OFFSET_DIGITS = 20;

export interface SegmentPaths {
  log: string;
  offsetIndex: string;
  timeIndex: string;
}

export function segmentBaseName(baseOffset: number): string {
  return String(baseOffset).padStart(OFFSET_DIGITS, '0');
}

export function segmentPaths(directory: string, baseOffset: number): SegmentPaths {
  const base = join(directory, segmentBaseName(baseOffset));
  return {
    log: base + LOG_FILE_SUFFIX,
    offsetIndex: base + OFFSET_INDEX_FILE_SUFFIX,
    timeIndex: base + TIME_INDEX_FILE_SUFFIX,
  };
}

const SEGMENT_FILE_PATTERN = /^(\d{20})\.(log|index|timeindex)$/;

/** The base offset and kind of a segment file name, or undefined for any other file. */
export function parseSegmentFileName(
  name: string,
): { baseOffset: number; kind: 'log' | 'index' | 'timeindex' } | undefined {
  const match = SEGMENT_FILE_PATTERN.exec(name);
  if (!match) return undefined;
  const baseOffset = Number(match[1]);
  if (!Number.isSafeInteger(baseOffset)) return undefined;
  return { baseOffset, kind: match[2] as 'log' | 'index' | 'timeindex' };
}
