import type { Clock } from '../core/clock.js';
import type { PartitionLog } from '../storage/partition-log.js';

/**
 * Resolves once the log's high watermark moves past `offset`, the log closes, `timeoutMs` passes
 * (undefined: no timeout) or `signal` aborts; never rejects. This is how a caught-up reader waits:
 * one listener on the log, no polling.
 */
export function waitForData(log: PartitionLog, offset: number, clock: Clock, timeoutMs: number | undefined, signal: AbortSignal | undefined): Promise<void> {
  if (log.highWatermark > offset || log.isClosed || signal?.aborted || (timeoutMs !== undefined && timeoutMs <= 0)) {
    return Promise.resolve();
  }
  return new Promise<void>((resolve) => {
    const finish = () => {
      unsubscribe();
      timer?.cancel();
      signal?.removeEventListener('abort', finish);
      resolve();
    };
    const unsubscribe = log.onHighWatermark((highWatermark) => {
      if (highWatermark > offset || log.isClosed) finish();
    });
    const timer = timeoutMs === undefined ? undefined : clock.setTimeout(finish, timeoutMs);
    signal?.addEventListener('abort', finish, { once: true });
  });
}
