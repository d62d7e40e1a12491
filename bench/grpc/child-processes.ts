/**
 * Child processes and temporary directories: all stopped and removed on every way out. The sets live
 * here only, so that the exit and signal handlers (registered when this module loads) see every child
 * any step started.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const children = new Set<ChildProcess>();
const tempDirs = new Set<string>();

export function removeTempDirs(): void {
  for (const dir of tempDirs) {
    try {
      fs.rmSync(dir, { recursive: true, force: true });
    } catch {
      // best effort on the way out
    }
    tempDirs.delete(dir);
  }
}

// SIGTERM, not SIGKILL: a guarded child is bench/child-guard.ts, which forwards SIGTERM to the server
// (and SIGKILLs it 20 s later); killed outright, the guard would leave the server running.
process.on('exit', () => {
  for (const child of children) child.kill('SIGTERM');
  removeTempDirs();
});
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    process.stderr.write(`\n${signal}: stopping child processes\n`);
    void stopAllChildren().finally(() => {
      removeTempDirs();
      process.exit(130);
    });
  });
}

export function makeTempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

export interface Started {
  child: ChildProcess;
  match: RegExpMatchArray;
  /** The last lines the child printed, for error messages. */
  tail: string[];
  /** Emits 'line' for every later line of the child's stdout. */
  lines: EventEmitter;
}

/** A server child and the address it printed when it was ready. */
export interface StartedServer {
  child: ChildProcess;
  address: string;
}

/**
 * Spawns a child and waits for a line of its stdout that matches `ready`. With `guarded`, the command
 * runs under bench/child-guard.ts, which stops it when this process goes away, however it goes (the
 * strata server and redis-server do not watch their stdin; our own children do).
 */
export function startChild(name: string, command: string, args: string[], ready: RegExp, options: { guarded?: boolean; removeDir?: string; timeoutMs?: number } = {}): Promise<Started> {
  const timeoutMs = options.timeoutMs ?? 20_000;
  return new Promise((resolve, reject) => {
    const guard = fileURLToPath(new URL('../child-guard.js', import.meta.url));
    const child = options.guarded
      ? spawn(process.execPath, [guard, ...(options.removeDir ? [`--rm=${options.removeDir}`] : []), command, ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
      : spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    children.add(child);
    const tail: string[] = [];
    const lines = new EventEmitter();
    let isReady = false;
    const remember = (line: string) => {
      tail.push(line);
      if (tail.length > 20) tail.shift();
    };
    const timer = setTimeout(() => fail(new Error(`${name} did not start within ${timeoutMs} ms`)), timeoutMs);
    const fail = (error: Error) => {
      if (isReady) return;
      isReady = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${error.message}\n${name} said:\n${tail.join('\n')}`));
    };
    // Both pipes are drained for the child's whole life: a full pipe would stall it.
    createInterface({ input: child.stdout! }).on('line', (line) => {
      remember(line);
      if (isReady) {
        lines.emit('line', line);
        return;
      }
      const match = line.match(ready);
      if (match) {
        isReady = true;
        clearTimeout(timer);
        resolve({ child, match, tail, lines });
      }
    });
    createInterface({ input: child.stderr! }).on('line', remember);
    child.stdin!.on('error', () => undefined);
    child.on('error', (error) => fail(error));
    child.on('exit', (code, signal) => {
      children.delete(child);
      fail(new Error(`${name} exited (code ${code}, signal ${signal}) before it was ready`));
    });
  });
}

/** Waits for a line of a started child that matches `pattern`. */
export function nextLine(started: Started, pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    const onLine = (line: string) => {
      const match = line.match(pattern);
      if (!match) return;
      cleanup();
      resolve(match);
    };
    const onExit = () => {
      cleanup();
      reject(new Error(`the child exited while waiting for ${pattern}:\n${started.tail.join('\n')}`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms:\n${started.tail.join('\n')}`));
    }, timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      started.lines.off('line', onLine);
      started.child.off('exit', onExit);
    };
    started.lines.on('line', onLine);
    started.child.on('exit', onExit);
  });
}

/** SIGTERM, then SIGKILL if it has not exited after `graceMs` (longer than child-guard's own 20 s). */
export async function stopChild(child: ChildProcess, graceMs = 25_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    children.delete(child);
    return;
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
  children.delete(child);
}

export async function stopAllChildren(): Promise<void> {
  await Promise.all([...children].map((child) => stopChild(child)));
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}
