import { describe, expect, it } from 'vitest';
import { readBatchHeader } from '../../src/format/record-batch.js';
import { Segment } from '../../src/storage/segment.js';
import { makeBatch } from '../helpers/batches.js';
import { FaultyFileSystem, ioError } from '../helpers/faulty-file-system.js';
import { useTempDir } from '../helpers/temp-dir.js';

describe('Segment.sync', () => {
  const dir = useTempDir({ each: true });

  it('remembers a failed fdatasync: a later one (which Linux lets succeed) never marks the lost bytes durable', async () => {
    const fs = new FaultyFileSystem();
    // Linux reports a writeback error to one fdatasync; the next one on the file returns 0.
    fs.beforeDatasync = (path, count) => {
      if (path.endsWith('.log') && count === 1) throw ioError('fdatasync');
    };
    const segment = await Segment.create(fs, dir.path, 0, 4096, Date.now());
    try {
      const batch = makeBatch('x', 1);
      await segment.append([batch], [{ sizeBytes: batch.length, baseOffset: 0, lastOffset: 0, maxTimestampMs: readBatchHeader(batch, 0).maxTimestampMs }]);
      await expect(segment.sync()).rejects.toThrow(/injected fdatasync failure/);
      // A roll's sync of the previous segment, say, in a writer that was still running.
      await expect(segment.sync()).rejects.toThrow(/injected fdatasync failure/);
      expect(segment.durableNextOffset).toBe(0);
      expect(segment.durableSizeBytes).toBe(0);
    } finally {
      await segment.close();
    }
  });
});
