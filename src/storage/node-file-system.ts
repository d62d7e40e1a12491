import { constants as fsConstants } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { dirname } from 'node:path';
import type { FileHandlePort, FileSystemPort } from './file-system.js';

class NodeFileHandle implements FileHandlePort {
  constructor(
    readonly path: string,
    private readonly handle: fsp.FileHandle,
  ) {}

  async read(buffer: Buffer, bufferOffset: number, length: number, position: number): Promise<number> {
    let total = 0;
    // A short read happens only at the end of the file; loop in case the kernel splits a large one.
    while (total < length) {
      const { bytesRead } = await this.handle.read(buffer, bufferOffset + total, length - total, position + total);
      if (bytesRead === 0) break;
      total += bytesRead;
    }
    return total;
  }

  async writev(buffers: readonly Buffer[], position: number): Promise<void> {
    let expectedBytes = 0;
    for (const b of buffers) expectedBytes += b.length;
    let pending = buffers as Buffer[];
    let at = position;
    // FileHandle.writev may write fewer bytes than asked (a full disk, a signal); finish or throw.
    while (expectedBytes > 0) {
      const { bytesWritten } = await this.handle.writev(pending, at);
      if (bytesWritten <= 0) throw new Error(`writev of ${this.path} wrote nothing at ${at}`);
      expectedBytes -= bytesWritten;
      at += bytesWritten;
      if (expectedBytes > 0) pending = dropPrefix(pending, bytesWritten);
    }
  }

  datasync(): Promise<void> {
    return this.handle.datasync();
  }

  truncate(sizeBytes: number): Promise<void> {
    return this.handle.truncate(sizeBytes);
  }

  async sizeBytes(): Promise<number> {
    return (await this.handle.stat()).size;
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}

function dropPrefix(buffers: Buffer[], byteCount: number): Buffer[] {
  const rest: Buffer[] = [];
  let toDrop = byteCount;
  for (const b of buffers) {
    if (toDrop >= b.length) {
      toDrop -= b.length;
      continue;
    }
    rest.push(toDrop > 0 ? b.subarray(toDrop) : b);
    toDrop = 0;
  }
  return rest;
}

let temporarySequence = 0;

/** The real file system, through node:fs/promises. */
export class NodeFileSystem implements FileSystemPort {
  async open(path: string, options: { create: boolean }): Promise<FileHandlePort> {
    const flags = options.create ? fsConstants.O_RDWR | fsConstants.O_CREAT : fsConstants.O_RDWR;
    return new NodeFileHandle(path, await fsp.open(path, flags, 0o644));
  }

  readFile(path: string): Promise<Buffer> {
    return fsp.readFile(path);
  }

  async writeFileAtomic(path: string, data: Buffer | string): Promise<void> {
    const temporaryPath = `${path}.tmp-${process.pid}-${temporarySequence++}`;
    try {
      const handle = await fsp.open(temporaryPath, 'w', 0o644);
      try {
        await handle.writeFile(data);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await fsp.rename(temporaryPath, path);
    } catch (error) {
      // A full disk fails the write: leave no temporary file behind (it would hold space, and pile up).
      await fsp.rm(temporaryPath, { force: true }).catch(() => undefined);
      throw error;
    }
    await this.syncDirectory(dirname(path));
  }

  async mkdir(path: string): Promise<void> {
    await fsp.mkdir(path, { recursive: true });
  }

  async readdir(path: string): Promise<string[]> {
    try {
      return (await fsp.readdir(path)).sort();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
  }

  async exists(path: string): Promise<boolean> {
    try {
      await fsp.access(path);
      return true;
    } catch {
      return false;
    }
  }

  async isDirectory(path: string): Promise<boolean> {
    try {
      return (await fsp.stat(path)).isDirectory();
    } catch {
      return false;
    }
  }

  unlink(path: string): Promise<void> {
    return fsp.unlink(path);
  }

  rename(fromPath: string, toPath: string): Promise<void> {
    return fsp.rename(fromPath, toPath);
  }

  removeTree(path: string): Promise<void> {
    return fsp.rm(path, { recursive: true, force: true });
  }

  async syncDirectory(path: string): Promise<void> {
    const handle = await fsp.open(path, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
}
