import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BASE_OFFSET_POSITION,
  BATCH_HEADER_BYTES,
  BATCH_LENGTH_POSITION,
  LOG_OVERHEAD_BYTES,
  MAGIC_POSITION,
  MAGIC_V2,
  PARTITION_LEADER_EPOCH_POSITION,
  RECORD_COUNT_POSITION,
} from '../../src/format/record-batch-layout.js';
import { BatchWalker, type WalkStep } from '../../src/storage/batch-walker.js';
import type { FileHandlePort } from '../../src/storage/file-system.js';

/** A read-only file of `data` (the walker only reads). */
function memoryFile(data: Buffer): FileHandlePort {
  return {
    path: 'memory',
    read: async (buffer, bufferOffset, length, position) => data.copy(buffer, bufferOffset, position, Math.min(data.length, position + length)),
    writev: () => Promise.reject(new Error('read only')),
    datasync: () => Promise.resolve(),
    truncate: () => Promise.reject(new Error('read only')),
    sizeBytes: async () => data.length,
    close: () => Promise.resolve(),
  };
}

/** Frames of the given sizes, one record each from offset 0: the walker reads only the header. */
function frames(sizes: readonly number[]): Buffer {
  const data = Buffer.alloc(sizes.reduce((a, b) => a + b, 0));
  let position = 0;
  for (const [i, size] of sizes.entries()) {
    data.writeInt32BE(i, position + BASE_OFFSET_POSITION + 4);
    data.writeInt32BE(size - LOG_OVERHEAD_BYTES, position + BATCH_LENGTH_POSITION);
    data.writeInt32BE(-1, position + PARTITION_LEADER_EPOCH_POSITION);
    data.writeInt8(MAGIC_V2, position + MAGIC_POSITION);
    data.writeInt32BE(1, position + RECORD_COUNT_POSITION);
    position += size;
  }
  return data;
}

const START = { position: 0, offset: 0 };

async function walk(walker: BatchWalker): Promise<WalkStep[]> {
  const steps: WalkStep[] = [];
  for (let guard = 0; guard < 10_000; guard++) {
    const step = await walker.next();
    steps.push(step);
    if (step.kind !== 'batch') return steps;
  }
  throw new Error('walk did not end');
}

describe('BatchWalker', () => {
  it('walks batches larger than its chunk wherever their length field falls (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: BATCH_HEADER_BYTES, max: 40_000 }), { minLength: 1, maxLength: 12 }),
        fc.integer({ min: BATCH_HEADER_BYTES, max: 20_000 }),
        async (sizes, chunkBytes) => {
          const data = frames(sizes);
          const steps = await walk(new BatchWalker(memoryFile(data), START, data.length, chunkBytes));
          expect(steps.at(-1)).toEqual({ kind: 'end', position: data.length });
          const batches = steps.filter((s): s is Extract<WalkStep, { kind: 'batch' }> => s.kind === 'batch');
          expect(batches.map((b) => b.sizeBytes)).toEqual(sizes);
          expect(batches.map((b) => b.baseOffset)).toEqual(sizes.map((_, i) => i));
          for (const b of batches) expect(b.chunk.length - b.at).toBeGreaterThanOrEqual(b.sizeBytes);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('says a batch cut off by the end is broken, not whole', async () => {
    const data = frames([100, 5_000]).subarray(0, 100 + 3_000);
    const steps = await walk(new BatchWalker(memoryFile(data), START, data.length, 1_000));
    expect(steps.map((s) => s.kind)).toEqual(['batch', 'broken']);
    expect(steps[1]).toMatchObject({ position: 100, reason: expect.stringMatching(/cut off/) });
  });
});
