import { cp, open, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataLossError } from '../../src/core/errors.js';
import {
  BASE_OFFSET_POSITION,
  BATCH_LENGTH_POSITION,
  CRC_POSITION,
  MAGIC_POSITION,
  PARTITION_LEADER_EPOCH_POSITION,
} from '../../src/format/record-batch-layout.js';
import { iterateBatches } from '../../src/format/record-batch-codec.js';
import type { PartitionLog } from '../../src/storage/partition-log.js';
import { decodeAll, makeBatch } from '../helpers/batches.js';
import { FaultyFileSystem } from '../helpers/faulty-file-system.js';
import { openLog } from '../helpers/open-log.js';
import { makeTempDir } from '../helpers/temp-dir.js';

/**
 * Damage to the batch header bytes the CRC-32C does not cover (baseOffset, batchLength,
 * partitionLeaderEpoch, magic: bytes 0-16), in an older segment and in the last one, after a clean
 * and after an unclean shutdown, is found at startup and on read: never records under wrong offsets,
 * never a read that ends early as if the log ended there.
 */

const CONFIG = { 'segment.bytes': '4096', 'index.interval.bytes': '256' };
const BATCH_COUNT = 120;
const RECORDS_PER_BATCH = 2;
const TOTAL_RECORDS = BATCH_COUNT * RECORDS_PER_BATCH;
/** Every header byte outside the CRC's range. */
const UNCOVERED_BYTES = Array.from({ length: CRC_POSITION }, (_, i) => i);
const FIELDS: Array<[string, number, number]> = [
  ['baseOffset', BASE_OFFSET_POSITION, 8],
  ['batchLength', BATCH_LENGTH_POSITION, 4],
  ['partitionLeaderEpoch', PARTITION_LEADER_EPOCH_POSITION, 4],
  ['magic', MAGIC_POSITION, 1],
];

type Shutdown = 'clean' | 'unclean';

interface Victim {
  /** Segment file name. */
  name: string;
  /** Byte position of the damaged batch in it. */
  position: number;
  baseOffset: number;
  isLastSegment: boolean;
  isLastBatch: boolean;
}

function fieldOf(byte: number): string {
  return FIELDS.find(([, start, length]) => byte >= start && byte < start + length)![0];
}

async function segmentNames(directory: string): Promise<string[]> {
  return (await readdir(directory)).filter((n) => n.endsWith('.log')).sort();
}

/** XORs `mask` into byte `at` of a file in place (a running log's open descriptor sees it). */
async function xorByte(path: string, at: number, mask: number): Promise<void> {
  const file = await open(path, 'r+');
  try {
    const byte = Buffer.alloc(1);
    await file.read(byte, 0, 1, at);
    byte[0]! ^= mask;
    await file.write(byte, 0, 1, at);
  } finally {
    await file.close();
  }
}

/** Reads from offset 0 towards the high watermark, keeping what was served and how the read ended. */
async function readFromStart(log: PartitionLog): Promise<{ offsets: number[]; error: unknown }> {
  const offsets: number[] = [];
  let offset = 0;
  try {
    while (offset < log.highWatermark) {
      const result = await log.read(offset, 2048);
      if (result.batches.length === 0) break;
      for (const record of decodeAll(result.batches)) if (record.offset >= offset) offsets.push(record.offset);
      offset = result.nextOffset;
    }
  } catch (error) {
    return { offsets, error };
  }
  return { offsets, error: undefined };
}

const range = (count: number): number[] => Array.from({ length: count }, (_, i) => i);

describe('damage to batch header bytes outside the CRC', () => {
  let root: { path: string; remove: () => Promise<void> };
  const pristine: Record<Shutdown, string> = { clean: '', unclean: '' };
  let caseNumber = 0;

  beforeAll(async () => {
    root = await makeTempDir();
    for (const shutdown of ['clean', 'unclean'] as const) {
      const directory = join(root.path, `pristine-${shutdown}`);
      const fs = new FaultyFileSystem();
      const log = await openLog(directory, { fs, config: CONFIG });
      for (let i = 0; i < BATCH_COUNT; i++) await log.append(makeBatch(`b${i}`, RECORDS_PER_BATCH, { valueBytes: 30 }));
      if (shutdown === 'clean') await log.close();
      else await fs.crash();
      pristine[shutdown] = directory;
    }
    expect((await segmentNames(pristine.clean)).length).toBeGreaterThanOrEqual(4);
  });
  afterAll(async () => {
    await root.remove();
  });

  async function copyOf(shutdown: Shutdown): Promise<string> {
    const directory = join(root.path, `case-${caseNumber++}`);
    await cp(pristine[shutdown], directory, { recursive: true });
    return directory;
  }

  /** The batch `batchIndex` (negative: from the end) of segment `segmentIndex` (negative: from the end). */
  async function victim(shutdown: Shutdown, segmentIndex: number, batchIndex: number): Promise<Victim> {
    const names = await segmentNames(pristine[shutdown]);
    const name = names.at(segmentIndex)!;
    const data = await readFile(join(pristine[shutdown], name));
    const batches = [...iterateBatches(data)];
    const chosen = batches.at(batchIndex)!;
    return {
      name,
      position: chosen.position,
      baseOffset: chosen.header.baseOffset,
      isLastSegment: name === names.at(-1),
      isLastBatch: chosen === batches.at(-1),
    };
  }

  const isTornTailCase = (shutdown: Shutdown, v: Victim): boolean => shutdown === 'unclean' && v.isLastSegment && v.isLastBatch;

  /**
   * Startup on a copy with the damage: DATA_LOSS naming the file and the damaged batch (or, for a
   * damaged length, where that length said the next batch starts). The one exception is the last batch
   * of an unclean log, which recovery cuts as a torn tail: then every other record is there, in order.
   */
  async function expectFoundAtStartup(shutdown: Shutdown, v: Victim, damage: ReadonlyArray<{ byte: number; mask: number }>, label: string): Promise<void> {
    const directory = await copyOf(shutdown);
    for (const { byte, mask } of damage) await xorByte(join(directory, v.name), v.position + byte, mask);
    const outcome = await openLog(directory, { config: CONFIG, isCleanShutdown: shutdown === 'clean' }).then(
      async (log) => {
        try {
          return { logEndOffset: log.logEndOffset, offsets: decodeAll(await readAll(log)).map((r) => r.offset) };
        } finally {
          await log.close();
        }
      },
      (error: unknown) => error,
    );
    if (isTornTailCase(shutdown, v)) {
      if (outcome instanceof DataLossError) return;
      expect(outcome, label).not.toBeInstanceOf(Error);
      const { logEndOffset, offsets } = outcome as { logEndOffset: number; offsets: number[] };
      expect(logEndOffset, label).toBe(TOTAL_RECORDS - RECORDS_PER_BATCH);
      expect(offsets, label).toEqual(range(TOTAL_RECORDS - RECORDS_PER_BATCH));
      return;
    }
    expect(outcome, label).toBeInstanceOf(DataLossError);
    const error = outcome as DataLossError;
    expect(error.code).toBe('DATA_LOSS');
    expect(error.segmentPath, label).toBe(join(directory, v.name));
    expect(error.message, label).toContain(`byte ${error.position} of ${join(directory, v.name)}`);
    if (damage.length === 1 && fieldOf(damage[0]!.byte) !== 'batchLength') {
      expect(error.position, label).toBe(v.position);
      expect(error.firstBadOffset, label).toBe(v.baseOffset);
    } else {
      expect(error.position, label).toBeGreaterThanOrEqual(v.position);
      expect([v.baseOffset, v.baseOffset + RECORDS_PER_BATCH], label).toContain(error.firstBadOffset);
    }
  }

  /**
   * A log opened on sound files, damaged while it runs: a read from offset 0 serves every offset below
   * the damaged batch, in order, then fails with DATA_LOSS; a read of the damaged batch fails too.
   */
  async function expectFoundOnRead(shutdown: Shutdown, v: Victim, damage: ReadonlyArray<{ byte: number; mask: number }>, label: string): Promise<void> {
    const directory = await copyOf(shutdown);
    const log = await openLog(directory, { config: CONFIG, isCleanShutdown: shutdown === 'clean' });
    try {
      const end = log.highWatermark;
      expect(end).toBe(TOTAL_RECORDS);
      for (const { byte, mask } of damage) await xorByte(join(directory, v.name), v.position + byte, mask);
      const { offsets, error } = await readFromStart(log);
      expect(offsets, label).toEqual(range(v.baseOffset));
      expect(error, label).toBeInstanceOf(DataLossError);
      expect((error as DataLossError).segmentPath, label).toBe(join(directory, v.name));
      await expect(log.read(v.baseOffset, 1), label).rejects.toBeInstanceOf(DataLossError);
      // Past the damage: served as stored (reached from an index entry beyond it), or DATA_LOSS.
      const tail = await log.read(end - 1, 1).then((r) => decodeAll(r.batches), (e: unknown) => e);
      if (!(tail instanceof DataLossError)) expect((tail as Array<{ offset: number }>).map((r) => r.offset), label).toContain(end - 1);
    } finally {
      await log.close();
    }
  }

  async function readAll(log: PartitionLog): Promise<Buffer> {
    const parts: Buffer[] = [];
    for (let offset = 0; offset < log.highWatermark; ) {
      const result = await log.read(offset, 64 * 1024);
      if (result.batches.length === 0) break;
      parts.push(result.batches);
      offset = result.nextOffset;
    }
    return Buffer.concat(parts);
  }

  const PLACES: Array<[string, number, number]> = [
    ['an older segment, in the middle', 1, 3],
    ['an older segment, its last batch', 1, -1],
    ['the last segment, in the middle', -1, 2],
    ['the last segment, its last batch', -1, -1],
  ];

  for (const shutdown of ['clean', 'unclean'] as const) {
    for (const [place, segmentIndex, batchIndex] of PLACES) {
      it(`finds every flipped header byte outside the CRC at startup: ${place}, after an ${shutdown} shutdown`, async () => {
        const v = await victim(shutdown, segmentIndex, batchIndex);
        expect(v.isLastBatch).toBe(batchIndex === -1);
        expect(v.isLastSegment).toBe(segmentIndex === -1);
        for (const byte of UNCOVERED_BYTES) {
          for (const mask of [0x01, 0x80]) {
            await expectFoundAtStartup(shutdown, v, [{ byte, mask }], `${fieldOf(byte)} byte ${byte} ^ 0x${mask.toString(16)}`);
          }
        }
      });

      it(`finds every flipped header byte outside the CRC on read: ${place}, after an ${shutdown} shutdown`, async () => {
        const v = await victim(shutdown, segmentIndex, batchIndex);
        for (const byte of UNCOVERED_BYTES) {
          for (const mask of [0x01, 0x80]) {
            await expectFoundOnRead(shutdown, v, [{ byte, mask }], `${fieldOf(byte)} byte ${byte} ^ 0x${mask.toString(16)}`);
          }
        }
      });
    }
  }

  it('never serves wrong offsets or ends a read early, whatever header damage (property)', async () => {
    const segmentCount = (await segmentNames(pristine.clean)).length;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<Shutdown>('clean', 'unclean'),
        fc.integer({ min: 0, max: segmentCount - 1 }),
        fc.integer({ min: 0, max: 1000 }),
        fc.array(fc.record({ byte: fc.integer({ min: 0, max: CRC_POSITION - 1 }), mask: fc.integer({ min: 1, max: 255 }) }), { minLength: 1, maxLength: 3 }),
        async (shutdown, segmentIndex, batchPick, damage) => {
          // Several damages on one byte may cancel out: keep the first of each byte.
          const distinct = damage.filter((d, i) => damage.findIndex((e) => e.byte === d.byte) === i);
          const names = await segmentNames(pristine[shutdown]);
          const data = await readFile(join(pristine[shutdown], names[segmentIndex]!));
          const batchCount = [...iterateBatches(data)].length;
          const v = await victim(shutdown, segmentIndex, batchPick % batchCount);
          const label = `${shutdown} ${v.name} batch ${batchPick % batchCount} ${JSON.stringify(distinct)}`;
          await expectFoundAtStartup(shutdown, v, distinct, label);
          await expectFoundOnRead(shutdown, v, distinct, label);
        },
      ),
      { numRuns: 60 },
    );
  });
});
