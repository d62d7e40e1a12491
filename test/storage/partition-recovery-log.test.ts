import { cp, readdir, readFile, stat, truncate, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { iterateBatches } from '../../src/format/record-batch-codec.js';
import { makeBatch } from '../helpers/batches.js';
import { capturingLogger, type LogLine } from '../helpers/capturing-logger.js';
import { FaultyFileSystem } from '../helpers/faulty-file-system.js';
import { openLog } from '../helpers/open-log.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const CONFIG = { 'segment.bytes': '4096', 'index.interval.bytes': '256' };

describe('the summary line of what opening a partition did', () => {
  let root: { path: string; remove: () => Promise<void> };
  let pristine: string;
  let caseNumber = 0;
  beforeAll(async () => {
    root = await makeTempDir();
    pristine = join(root.path, 'pristine');
    // Several segments, left as a crash leaves them (no clean-shutdown marker).
    const fs = new FaultyFileSystem();
    const log = await openLog(pristine, { fs, config: CONFIG });
    for (let i = 0; i < 120; i++) await log.append(makeBatch(`b${i}`, 2, { valueBytes: 30 }));
    await fs.crash();
  });
  afterAll(async () => root.remove());

  const copyOfPristine = async () => {
    const directory = join(root.path, `case-${caseNumber++}`);
    await cp(pristine, directory, { recursive: true });
    return directory;
  };
  const summaries = (lines: LogLine[]) => lines.filter((l) => /^partition (recovered|opened)/.test(l.msg));
  const files = async (directory: string, suffix: string) => (await readdir(directory)).filter((n) => n.endsWith(suffix)).sort();

  it('after a crash: one info line per partition with the segments scanned, indexes rebuilt and bytes cut', async () => {
    const directory = await copyOfPristine();
    const segments = await files(directory, '.log');
    expect(segments.length).toBeGreaterThan(2);
    // Tear the last batch of the active segment 7 bytes short of its end.
    const active = join(directory, segments.at(-1)!);
    const data = await readFile(active);
    const lastStart = [...iterateBatches(data)].at(-1)!.position;
    await truncate(active, data.length - 7);
    const cutBytes = data.length - 7 - lastStart;
    // And lose the offset index of the first segment (below the recovery point: trusted, opened from its indexes).
    await unlink(join(directory, (await files(directory, '.index'))[0]!));

    const lines: LogLine[] = [];
    const log = await openLog(directory, { config: CONFIG, logger: capturingLogger(lines, 'info') });
    await log.close();
    expect((await stat(active)).size).toBe(lastStart);
    expect(summaries(lines)).toEqual([
      expect.objectContaining({
        level: 30,
        topic: 't',
        partition: 0,
        isCleanShutdown: false,
        segments: segments.length,
        scannedSegments: 1,
        rebuiltIndexes: 1,
        truncatedBytes: cutBytes,
        msg: `partition recovered: 1 of ${segments.length} segments scanned from the recovery point (offset ${Number(segments.at(-1)!.slice(0, 20))}) and their indexes rebuilt, 1 missing or damaged indexes rebuilt, ${cutBytes} bytes cut from a torn tail`,
      }),
    ]);
  });

  it('after a clean shutdown: nothing, unless an index had to be rebuilt', async () => {
    const directory = await copyOfPristine();
    await (await openLog(directory, { config: CONFIG })).close();
    let lines: LogLine[] = [];
    await (await openLog(directory, { config: CONFIG, isCleanShutdown: true, logger: capturingLogger(lines, 'info') })).close();
    expect(summaries(lines)).toEqual([]);

    await unlink(join(directory, (await files(directory, '.index'))[1]!));
    lines = [];
    await (await openLog(directory, { config: CONFIG, isCleanShutdown: true, logger: capturingLogger(lines, 'info') })).close();
    expect(summaries(lines)).toEqual([expect.objectContaining({ level: 30, rebuiltIndexes: 1, truncatedBytes: 0, msg: 'partition opened: 1 missing or damaged indexes rebuilt from the log' })]);
  });
});
