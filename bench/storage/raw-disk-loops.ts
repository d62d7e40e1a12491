import * as fs from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { IoStats } from './counting-file-system.js';

/** Acknowledged batches over a measurement of section 3, by a plain-fs loop or by Strata. */
export interface AckRate {
  acks: number;
  ms: number;
  latenciesMs: number[];
  /** Strata only. */
  io?: IoStats;
}

export const acksPerSecond = (r: AckRate): number => r.acks / (r.ms / 1000);

/** Baseline: one loop, write one batch then fdatasync, until the time is up (the ideal loop with groups of one). */
export function groupCommitBaseline(directory: string, template: Buffer, durationMs: number): AckRate {
  return groupCommitIdeal(directory, template, 1, durationMs);
}

/** Writes every byte of `buffers` at the file cursor with writev(2), finishing a short write. */
function writeAllSync(fd: number, buffers: Buffer[]): void {
  let pending = buffers;
  let remaining = 0;
  for (const buffer of buffers) remaining += buffer.length;
  while (remaining > 0) {
    let written = fs.writevSync(fd, pending);
    remaining -= written;
    if (remaining === 0) break;
    const rest: Buffer[] = [];
    for (const buffer of pending) {
      if (written >= buffer.length) written -= buffer.length;
      else {
        rest.push(written > 0 ? buffer.subarray(written) : buffer);
        written = 0;
      }
    }
    pending = rest;
  }
}

/**
 * Reference, not a target: the best a group commit could do with `groupSize` batches per fdatasync and
 * no overhead at all: one loop, writev of `groupSize` fresh copies of the batch, fdatasync, repeat.
 * Each acknowledged batch is counted once its group's fdatasync returns.
 */
export function groupCommitIdeal(directory: string, template: Buffer, groupSize: number, durationMs: number): AckRate {
  const file = path.join(directory, `write-${groupSize}-fdatasync.dat`);
  const fd = fs.openSync(file, 'w');
  const latenciesMs: number[] = [];
  let acks = 0;
  const start = performance.now();
  const deadline = start + durationMs;
  let now = start;
  while (now < deadline) {
    const buffers: Buffer[] = [];
    for (let i = 0; i < groupSize; i++) buffers.push(Buffer.from(template));
    writeAllSync(fd, buffers);
    fs.fdatasyncSync(fd);
    acks += groupSize;
    const after = performance.now();
    latenciesMs.push(after - now);
    now = after;
  }
  const ms = performance.now() - start;
  fs.closeSync(fd);
  fs.rmSync(directory, { recursive: true, force: true });
  return { acks, ms, latenciesMs };
}

/** The disk ceiling: appending write + fdatasync of large chunks (see the comment of bench/storage-bench.ts). */
export interface Ceiling {
  bytes: number;
  ms: number;
  syncs: number;
  /** Time spent in fdatasyncSync alone. */
  datasyncMs: number;
}

/**
 * One loop: writeSync of `chunkBytes` (one buffer, filled with copies of the batch, reused: no copy in
 * the loop) then fdatasyncSync, appending to a fresh file, until the time is up.
 */
export function diskCeiling(directory: string, chunkBytes: number, template: Buffer, durationMs: number): Ceiling {
  const file = path.join(directory, 'ceiling.dat');
  const fd = fs.openSync(file, 'w');
  const chunk = Buffer.alloc(chunkBytes, template);
  let syncs = 0;
  let datasyncMs = 0;
  const start = performance.now();
  const deadline = start + durationMs;
  while (performance.now() < deadline) {
    let written = 0;
    while (written < chunk.length) written += fs.writeSync(fd, chunk, written, chunk.length - written);
    const beforeSync = performance.now();
    fs.fdatasyncSync(fd);
    datasyncMs += performance.now() - beforeSync;
    syncs++;
  }
  const ms = performance.now() - start;
  fs.closeSync(fd);
  fs.rmSync(directory, { recursive: true, force: true });
  return { bytes: syncs * chunkBytes, ms, syncs, datasyncMs };
}

export const ceilingBytesPerSecond = (c: Ceiling): number => c.bytes / (c.ms / 1000);
/** The same bytes over the fdatasync time alone: the bound if writes overlapped the fdatasyncs entirely. */
export const ceilingSyncBytesPerSecond = (c: Ceiling): number => c.bytes / (c.datasyncMs / 1000);
/** The best of the chunk sizes of one repetition. */
export const bestCeiling = (ceilings: Ceiling[]): number => Math.max(...ceilings.map(ceilingBytesPerSecond));
