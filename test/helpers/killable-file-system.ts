import type { FileHandlePort } from '../../src/storage/file-system.js';
import { FaultyFileSystem } from './faulty-file-system.js';

/** What every operation of a killed "process" gets: it never reaches the disk. */
export class ProcessKilledError extends Error {
  readonly code = 'EKILLED';
  constructor(what: string) {
    super(`simulated SIGKILL: ${what} after the process died`);
  }
}

export type KillMode =
  /** The chosen operation never happens. */
  | { when: 'before' }
  /** The chosen operation completes, but the process dies before it sees the result. */
  | { when: 'after' }
  /** A writev at the chosen point writes only its first `keepBytes(total)` bytes (a torn write). */
  | { when: 'torn'; keepBytes: (totalBytes: number) => number };

/**
 * A FaultyFileSystem for one simulated process life: `kill()` is SIGKILL. It drops every open handle
 * (FaultyFileSystem.crash) and from then on every operation of this instance fails without touching
 * the disk, so the dead process's leftover async work (a write loop, a roll in progress) cannot reach
 * files the next process owns. `killAt(n)` kills at the n-th file operation from now, before or after
 * it runs, or in the middle of a writev, deterministically. Use a fresh instance for the restarted
 * process. Writes that completed stay in the page cache, as after a real process crash (not a power
 * loss): unsynced data survives.
 */
export class KillableFileSystem extends FaultyFileSystem {
  /** File operations (whole-file calls and handle calls) since construction. */
  operationCount = 0;
  /**
   * Awaited before every operation (`what` is e.g. 'datasync /path/x.log'): a test can hold an
   * operation back to force an interleaving, or throw to fail it.
   */
  beforeOperation: ((what: string) => Promise<void> | void) | undefined;
  private isKilled = false;
  private killPoint: { operation: number; mode: KillMode } | undefined;
  private killing: Promise<void> | undefined;

  get killed(): boolean {
    return this.isKilled;
  }

  /** Kills now; resolves once every handle is closed. */
  kill(): Promise<void> {
    this.isKilled = true;
    this.killPoint = undefined;
    this.killing ??= this.crash();
    return this.killing;
  }

  /** Arms a kill at the `afterOperations`-th operation from now (1 = the next one). */
  killAt(afterOperations: number, mode: KillMode): void {
    this.killPoint = { operation: this.operationCount + afterOperations, mode };
  }

  /** Cancels an armed kill that was not reached. */
  disarm(): void {
    this.killPoint = undefined;
  }

  /** Whether the kill has been armed but not reached. */
  get isKillArmed(): boolean {
    return this.killPoint !== undefined;
  }

  override async open(path: string, options: { create: boolean }): Promise<FileHandlePort> {
    const inner = await this.guard(`open ${path}`, () => super.open(path, options));
    if (this.isKilled) {
      // Opened while the process was dying: the kernel would have closed it too.
      await inner.close().catch(() => undefined);
      throw new ProcessKilledError(`open ${path}`);
    }
    return {
      path,
      read: (buffer, bufferOffset, length, position) => this.guard(`read ${path}`, () => inner.read(buffer, bufferOffset, length, position)),
      writev: (buffers, position) => this.guard(`writev ${path}`, () => inner.writev(buffers, position), (keep) => inner.writev(prefix(buffers, keep), position)),
      datasync: () => this.guard(`datasync ${path}`, () => inner.datasync()),
      truncate: (sizeBytes) => this.guard(`truncate ${path}`, () => inner.truncate(sizeBytes)),
      sizeBytes: () => this.guard(`stat ${path}`, () => inner.sizeBytes()),
      close: () => (this.isKilled ? Promise.resolve() : inner.close()),
    };
  }

  override readFile(path: string): Promise<Buffer> {
    return this.guard(`readFile ${path}`, () => super.readFile(path));
  }
  override writeFileAtomic(path: string, data: Buffer | string): Promise<void> {
    return this.guard(`writeFileAtomic ${path}`, () => super.writeFileAtomic(path, data));
  }
  override mkdir(path: string): Promise<void> {
    return this.guard(`mkdir ${path}`, () => super.mkdir(path));
  }
  override readdir(path: string): Promise<string[]> {
    return this.guard(`readdir ${path}`, () => super.readdir(path));
  }
  override exists(path: string): Promise<boolean> {
    return this.guard(`exists ${path}`, () => super.exists(path));
  }
  override isDirectory(path: string): Promise<boolean> {
    return this.guard(`isDirectory ${path}`, () => super.isDirectory(path));
  }
  override unlink(path: string): Promise<void> {
    return this.guard(`unlink ${path}`, () => super.unlink(path));
  }
  override rename(fromPath: string, toPath: string): Promise<void> {
    return this.guard(`rename ${fromPath}`, () => super.rename(fromPath, toPath));
  }
  override removeTree(path: string): Promise<void> {
    return this.guard(`removeTree ${path}`, () => super.removeTree(path));
  }
  override syncDirectory(path: string): Promise<void> {
    return this.guard(`syncDirectory ${path}`, () => super.syncDirectory(path));
  }

  private async guard<T>(what: string, run: () => Promise<T>, runTorn?: (keepBytes: (total: number) => number) => Promise<void>): Promise<T> {
    if (this.isKilled) throw new ProcessKilledError(what);
    if (this.beforeOperation) {
      await this.beforeOperation(what);
      if (this.isKilled) throw new ProcessKilledError(what);
    }
    this.operationCount++;
    const point = this.killPoint;
    if (!point || this.operationCount < point.operation) return run();
    const { mode } = point;
    if (mode.when === 'after') {
      const result = await run();
      await this.kill();
      void result;
    } else if (mode.when === 'torn' && runTorn) {
      await runTorn(mode.keepBytes);
      await this.kill();
    } else {
      await this.kill();
    }
    throw new ProcessKilledError(what);
  }
}

/** The first `keepBytes(total)` bytes of a list of buffers. */
function prefix(buffers: readonly Buffer[], keepBytes: (total: number) => number): Buffer[] {
  let total = 0;
  for (const b of buffers) total += b.length;
  let left = Math.max(0, Math.min(total, keepBytes(total)));
  const out: Buffer[] = [];
  for (const b of buffers) {
    if (left === 0) break;
    const part = b.subarray(0, Math.min(b.length, left));
    out.push(part);
    left -= part.length;
  }
  return out;
}
