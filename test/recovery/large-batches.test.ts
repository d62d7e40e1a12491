import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeAll, makeBatch } from '../helpers/batches.js';
import { FaultyFileSystem } from '../helpers/faulty-file-system.js';
import { openLog, readAllBatches } from '../helpers/open-log.js';
import { useTempDir } from '../helpers/temp-dir.js';

const MiB = 1024 * 1024;
/** Batches over the 1 MiB a recovery or read walk takes in one chunk, the first at the start of the file. */
const CONFIG = { 'max.message.bytes': String(8 * MiB), flush: 'always' };
const VALUE_BYTES = [3 * MiB, 100, 2 * MiB + 17, 200];

describe('batches larger than a read chunk', () => {
  const root = useTempDir();

  for (const ending of ['a crash', 'a clean close'] as const) {
    it(`are all kept and read whole after ${ending}`, async () => {
      const directory = join(root.path, ending.replace(/ /g, '-'));
      const fs = new FaultyFileSystem();
      const log = await openLog(directory, { fs, config: CONFIG });
      for (const [i, valueBytes] of VALUE_BYTES.entries()) await log.append(makeBatch(`b${i}`, 1, { valueBytes }));
      if (ending === 'a crash') await fs.crash();
      else await log.close();

      const reopened = await openLog(directory, { config: CONFIG, isCleanShutdown: ending === 'a clean close' });
      try {
        expect(reopened.logEndOffset).toBe(VALUE_BYTES.length);
        // A read of 64 KiB still returns each whole batch (at least one per read).
        const records = decodeAll(await readAllBatches(reopened, 0, 64 * 1024));
        expect(records.map((r) => [r.offset, r.value.length])).toEqual(VALUE_BYTES.map((bytes, i) => [i, Math.max(bytes, `b${i}#0`.length)]));
      } finally {
        await reopened.close();
      }
    }, 30_000);
  }
});
