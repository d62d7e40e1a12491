import type { FileHandlePort, FileSystemPort } from '../../src/storage/file-system.js';
import { NodeFileSystem } from '../../src/storage/node-file-system.js';

/**
 * The real file system with faults on demand: fail the n-th fdatasync or write of matching files, or
 * an open, mkdir, rename or directory fsync (to run out of descriptors midway through an operation),
 * count fsyncs, and "crash" (drop every open handle without the clean-close steps), so that a test can
 * reopen the same directory as a restarted process would after SIGKILL.
 */
export class FaultyFileSystem extends NodeFileSystem {
  datasyncCount = 0;
  /** fdatasyncs that returned successfully (datasyncCount counts them as they start). */
  datasyncDoneCount = 0;
  writevCount = 0;
  /** Called before every datasync/writev; throw from it to inject a failure. */
  beforeDatasync: ((path: string, count: number) => void) | undefined;
  beforeWritev: ((path: string, count: number) => void) | undefined;
  /**
   * Runs every writev (after beforeWritev) in place of the real one, which it gets as `writev`: to
   * write only part of the bytes and then fail, as a write that fills the disk does.
   */
  aroundWritev: ((path: string, buffers: readonly Buffer[], position: number, writev: (buffers: readonly Buffer[], position: number) => Promise<void>) => Promise<void>) | undefined;
  /** Runs every datasync in place of the real one, which it gets as `datasync` (to delay, fail, count). */
  aroundDatasync: ((path: string, datasync: () => Promise<void>) => Promise<void>) | undefined;
  /** Runs every read in place of the real one, which it gets as `read` (to hold a reader at a chosen moment). */
  aroundRead: ((path: string, read: () => Promise<number>) => Promise<number>) | undefined;
  /**
   * Called before every open, mkdir, rename, writeFileAtomic, syncDirectory and removeTree (`path` is
   * the source of a rename); throw from it to fail that call, e.g. EMFILE on the n-th open.
   */
  failOperation: ((operation: FileOperation, path: string) => void) | undefined;
  private readonly openHandles = new Set<FileHandlePort>();

  override async open(path: string, options: { create: boolean }): Promise<FileHandlePort> {
    this.failOperation?.('open', path);
    const inner = await super.open(path, options);
    const handle: FileHandlePort = {
      path,
      read: (buffer, bufferOffset, length, position) => {
        const read = () => inner.read(buffer, bufferOffset, length, position);
        return this.aroundRead ? this.aroundRead(path, read) : read();
      },
      writev: async (buffers, position) => {
        this.writevCount++;
        this.beforeWritev?.(path, this.writevCount);
        if (this.aroundWritev) await this.aroundWritev(path, buffers, position, (b, p) => inner.writev(b, p));
        else await inner.writev(buffers, position);
      },
      datasync: async () => {
        this.datasyncCount++;
        this.beforeDatasync?.(path, this.datasyncCount);
        if (this.aroundDatasync) await this.aroundDatasync(path, () => inner.datasync());
        else await inner.datasync();
        this.datasyncDoneCount++;
      },
      truncate: (sizeBytes) => inner.truncate(sizeBytes),
      sizeBytes: () => inner.sizeBytes(),
      close: async () => {
        this.openHandles.delete(handle);
        await inner.close();
      },
    };
    this.openHandles.add(handle);
    return handle;
  }

  override async mkdir(path: string): Promise<void> {
    this.failOperation?.('mkdir', path);
    await super.mkdir(path);
  }

  override async rename(fromPath: string, toPath: string): Promise<void> {
    this.failOperation?.('rename', fromPath);
    await super.rename(fromPath, toPath);
  }

  override async writeFileAtomic(path: string, data: Buffer | string): Promise<void> {
    this.failOperation?.('writeFileAtomic', path);
    await super.writeFileAtomic(path, data);
  }

  override async syncDirectory(path: string): Promise<void> {
    this.failOperation?.('syncDirectory', path);
    await super.syncDirectory(path);
  }

  override async removeTree(path: string): Promise<void> {
    this.failOperation?.('removeTree', path);
    await super.removeTree(path);
  }

  /** Closes every handle behind the storage engine's back, as the kernel does when a process dies. */
  async crash(): Promise<void> {
    const handles = [...this.openHandles];
    this.openHandles.clear();
    await Promise.allSettled(handles.map((h) => h.close()));
  }

  get openHandleCount(): number {
    return this.openHandles.size;
  }
}

export type FileOperation = 'open' | 'mkdir' | 'rename' | 'writeFileAtomic' | 'syncDirectory' | 'removeTree';

export const ioError = (what: string): NodeJS.ErrnoException => Object.assign(new Error(`EIO: injected ${what} failure`), { code: 'EIO' });

export const noSpaceError = (): NodeJS.ErrnoException => Object.assign(new Error('ENOSPC: injected no space left on device, write'), { code: 'ENOSPC' });

/**
 * An aroundWritev that writes the first half of what it is given, then fails with ENOSPC: a write
 * that filled the disk midway, leaving torn bytes after the segment's end.
 */
export async function writeHalfThenFail(_path: string, buffers: readonly Buffer[], position: number, writev: (buffers: readonly Buffer[], position: number) => Promise<void>): Promise<void> {
  const all = Buffer.concat(buffers);
  await writev([all.subarray(0, Math.max(1, all.length >> 1))], position);
  throw noSpaceError();
}

export const tooManyOpenFilesError = (): NodeJS.ErrnoException =>
  Object.assign(new Error('EMFILE: injected too many open files'), { code: 'EMFILE' });

export type { FileSystemPort };

/**
 * A disk of limited room: writes take from `remainingBytes`; the write that does not fit writes what
 * does (torn bytes) and fails with ENOSPC, and so does any atomic file write (index files, the
 * recovery point) once nothing is left. Cut bytes are not given back (the disk stays as full).
 */
export class LimitedDisk {
  remainingBytes = Number.POSITIVE_INFINITY;
  /** Writes that wrote part of their bytes and failed. */
  tornWriteCount = 0;

  constructor(fs: FaultyFileSystem) {
    fs.aroundWritev = async (_path, buffers, position, writev) => {
      const all = Buffer.concat(buffers);
      if (all.length <= this.remainingBytes) {
        this.remainingBytes -= all.length;
        return writev(buffers, position);
      }
      const fitting = Math.max(0, this.remainingBytes);
      if (fitting > 0) {
        await writev([all.subarray(0, fitting)], position);
        this.tornWriteCount++;
      }
      this.remainingBytes = 0;
      throw noSpaceError();
    };
    fs.failOperation = (operation) => {
      if (operation === 'writeFileAtomic' && this.remainingBytes <= 0) throw noSpaceError();
    };
  }
}
