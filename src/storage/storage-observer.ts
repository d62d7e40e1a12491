import type { Clock } from '../core/clock.js';
import type { FileHandlePort, FileSystemPort } from './file-system.js';

/**
 * What the storage engine reports of its own timing, for the server's metrics (storage does not know
 * how they are exported). Called on the write path: an implementation must be cheap and must not
 * throw. Durations are monotonic milliseconds (Clock.monotonicMs), fractions included.
 */
export interface StorageObserver {
  /** An append was acknowledged at its ack level (written, or durable), `durationMs` after it was queued. */
  onAppendAcknowledged(durationMs: number): void;
  /** One fdatasync of a log file (a segment's group commit, a roll, a recovery cut) took `durationMs`. */
  onFsync(durationMs: number): void;
}

/**
 * `fs` with every file handle's datasync() timed for `observer`, failed ones too (a slow failing disk
 * is what the fsync histogram is for). Everything else is passed through untouched.
 */
export function observeFileSystem(fs: FileSystemPort, observer: StorageObserver, clock: Clock): FileSystemPort {
  return {
    open: async (path, options) => observeHandle(await fs.open(path, options), observer, clock),
    readFile: (path) => fs.readFile(path),
    writeFileAtomic: (path, data) => fs.writeFileAtomic(path, data),
    mkdir: (path) => fs.mkdir(path),
    readdir: (path) => fs.readdir(path),
    exists: (path) => fs.exists(path),
    isDirectory: (path) => fs.isDirectory(path),
    unlink: (path) => fs.unlink(path),
    rename: (fromPath, toPath) => fs.rename(fromPath, toPath),
    removeTree: (path) => fs.removeTree(path),
    syncDirectory: (path) => fs.syncDirectory(path),
  };
}

function observeHandle(handle: FileHandlePort, observer: StorageObserver, clock: Clock): FileHandlePort {
  return {
    path: handle.path,
    read: (buffer, bufferOffset, length, position) => handle.read(buffer, bufferOffset, length, position),
    writev: (buffers, position) => handle.writev(buffers, position),
    async datasync() {
      const startedMs = clock.monotonicMs();
      try {
        await handle.datasync();
      } finally {
        observer.onFsync(clock.monotonicMs() - startedMs);
      }
    },
    truncate: (sizeBytes) => handle.truncate(sizeBytes),
    sizeBytes: () => handle.sizeBytes(),
    close: () => handle.close(),
  };
}
