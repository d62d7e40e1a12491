/**
 * The storage engine reaches files only through this port, so tests can substitute an implementation
 * that fails an fsync, tears a write or forgets unsynced data, deterministically. Positions are byte
 * locations; every read and write names its position explicitly (pread/pwrite), so a reader never
 * depends on a shared file cursor and can run beside the writer.
 */
export interface FileHandlePort {
  readonly path: string;
  /** Reads up to `length` bytes at `position` into `buffer` at `bufferOffset`; returns bytes read. */
  read(buffer: Buffer, bufferOffset: number, length: number, position: number): Promise<number>;
  /** Writes every buffer, in order, starting at `position`; resolves only once all bytes are written. */
  writev(buffers: readonly Buffer[], position: number): Promise<void>;
  /** fdatasync: resolves once written data (and the size needed to read it) is on stable storage. */
  datasync(): Promise<void>;
  truncate(sizeBytes: number): Promise<void>;
  sizeBytes(): Promise<number>;
  close(): Promise<void>;
}

export interface FileSystemPort {
  /** Opens for reading and writing; with `create`, creates the file if missing. */
  open(path: string, options: { create: boolean }): Promise<FileHandlePort>;
  readFile(path: string): Promise<Buffer>;
  /** Writes a whole file through a temporary name: fsync, rename, fsync of the directory. */
  writeFileAtomic(path: string, data: Buffer | string): Promise<void>;
  mkdir(path: string): Promise<void>;
  /** Names in a directory, sorted; an empty list for a missing directory. */
  readdir(path: string): Promise<string[]>;
  exists(path: string): Promise<boolean>;
  isDirectory(path: string): Promise<boolean>;
  unlink(path: string): Promise<void>;
  rename(fromPath: string, toPath: string): Promise<void>;
  removeTree(path: string): Promise<void>;
  /** fsync of a directory, so that creations, renames and deletions in it survive a crash. */
  syncDirectory(path: string): Promise<void>;
}
