import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll } from 'vitest';
import { STRATA_BIN, startServerProcess, type ServerProcess } from './server-process.js';
import { makeTempDir } from './temp-dir.js';

const run = promisify(execFile);

/**
 * A server process for the describe block (started before its tests, SIGKILLed after them, its data
 * dir removed) and `strata(...args)`, which runs the CLI against it and resolves with its output
 * (rejects on a non-zero exit, with `code`, `stdout` and `stderr` on the error).
 */
export function useCliServer(): {
  readonly server: ServerProcess;
  strata(...args: string[]): Promise<{ stdout: string; stderr: string }>;
} {
  let dir: { path: string; remove: () => Promise<void> } | undefined;
  let server: ServerProcess | undefined;
  beforeAll(async () => {
    dir = await makeTempDir();
    server = await startServerProcess(dir.path);
  });
  afterAll(async () => {
    await server?.stop('SIGKILL');
    await dir?.remove();
  });
  return {
    get server() {
      if (!server) throw new Error('useCliServer: the server starts in beforeAll');
      return server;
    },
    strata: (...args) => run(process.execPath, [STRATA_BIN, ...args], { env: { ...process.env, STRATA_SERVER: server!.address }, timeout: 30_000 }),
  };
}
