import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/core/clock.js';
import { StorageFailedError } from '../../src/core/errors.js';
import { LogManager } from '../../src/storage/log-manager.js';
import type { StorageObserver } from '../../src/storage/storage-observer.js';
import { makeBatch } from '../helpers/batches.js';
import { FaultyFileSystem, ioError } from '../helpers/faulty-file-system.js';
import { START_MS } from '../helpers/log-manager-fixture.js';
import { rejection } from '../helpers/rejection.js';
import { useTempDir } from '../helpers/temp-dir.js';

/** Records what storage reports; each fdatasync takes `fsyncMs` of the manual clock. */
function recordingObserver(): StorageObserver & { appendMs: number[]; fsyncMs: number[] } {
  const appendMs: number[] = [];
  const fsyncMs: number[] = [];
  return { appendMs, fsyncMs, onAppendAcknowledged: (ms) => appendMs.push(ms), onFsync: (ms) => fsyncMs.push(ms) };
}

describe('StorageObserver (append and fsync latency for the metrics)', () => {
  const temp = useTempDir({ prefix: 'strata-observer-', each: true });

  async function open(fs: FaultyFileSystem, clock: ManualClock, observer: StorageObserver): Promise<LogManager> {
    return LogManager.open({ dataDir: temp.path, fs, clock, observer });
  }

  it('times every fdatasync of a log file and every acknowledged append, on the injected clock', async () => {
    const clock = new ManualClock(START_MS);
    const fs = new FaultyFileSystem();
    fs.aroundDatasync = async (_path, datasync) => {
      clock.advance(7);
      await datasync();
    };
    const observer = recordingObserver();
    const logs = await open(fs, clock, observer);
    try {
      await logs.createTopic('t', 1, { flush: 'always' });
      const syncsBefore = fs.datasyncDoneCount;
      await logs.partition('t', 0).append(makeBatch('a', 3), { ackLevel: 'durable' });
      await logs.partition('t', 0).append(makeBatch('b', 1), { ackLevel: 'written' });
      expect(observer.appendMs).toHaveLength(2);
      // The durable append waited for an fsync (7 ms of the clock); the written one for none.
      expect(observer.appendMs[0]).toBeGreaterThanOrEqual(7);
      expect(observer.fsyncMs.length).toBeGreaterThanOrEqual(fs.datasyncDoneCount - syncsBefore);
      expect(observer.fsyncMs.length).toBeGreaterThan(0);
      expect(new Set(observer.fsyncMs)).toEqual(new Set([7]));
    } finally {
      await logs.close();
    }
  });

  it('times a failed fdatasync too, and reports no acknowledgement for the append it failed', async () => {
    const clock = new ManualClock(START_MS);
    const fs = new FaultyFileSystem();
    const observer = recordingObserver();
    const logs = await open(fs, clock, observer);
    try {
      await logs.createTopic('t', 1, { flush: 'always' });
      const fsyncsBefore = observer.fsyncMs.length;
      fs.aroundDatasync = async () => {
        clock.advance(30);
        throw ioError('fdatasync');
      };
      expect(await rejection(logs.partition('t', 0).append(makeBatch('a', 1), { ackLevel: 'durable' }))).toBeInstanceOf(StorageFailedError);
      expect(observer.fsyncMs.slice(fsyncsBefore)).toContain(30);
      expect(observer.appendMs).toEqual([]);
    } finally {
      fs.aroundDatasync = undefined;
      await logs.close().catch(() => undefined);
    }
  });
});
