import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const STRATA_BIN = fileURLToPath(new URL('../../bin/strata.js', import.meta.url));
const COMPILED_CLI = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));

export interface ServerProcess {
  readonly address: string;
  readonly port: number;
  /** The HTTP port it printed (`strata http on ...`), if it bound one. */
  readonly httpPort: number | undefined;
  readonly child: ChildProcess;
  /** Logs written so far (pino JSON lines on stderr). */
  stderr(): string;
  /** Sends a signal and waits for the process to exit; returns its exit code or signal. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `strata serve` as a real process on a free port (port 0) and waits for its ready line. */
export function startServerProcess(dataDir: string, extraArgs: string[] = []): Promise<ServerProcess> {
  if (!existsSync(COMPILED_CLI)) throw new Error(`${COMPILED_CLI} is missing: run 'make build' (make test does) first`);
  const child = spawn(process.execPath, [STRATA_BIN, 'serve', '--data-dir', dataDir, '--port', '0', '--http-port', '0', '--log-level', 'warn', ...extraArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server did not start within 20 s: ${stderr}`));
    }, 20_000);
    const onEarlyExit = (code: number | null) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before it was ready: ${stderr}`));
    };
    child.once('exit', onEarlyExit);
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
      const match = /strata listening on ([\d.]+):(\d+)/.exec(stdout);
      if (!match) return;
      clearTimeout(timer);
      child.off('exit', onEarlyExit);
      const port = Number(match[2]);
      const httpMatch = /strata http on [\d.]+:(\d+)/.exec(stdout);
      resolve({
        address: `${match[1]}:${port}`,
        port,
        httpPort: httpMatch ? Number(httpMatch[1]) : undefined,
        child,
        stderr: () => stderr,
        stop: (signal = 'SIGTERM') => {
          if (child.exitCode === null && child.signalCode === null) child.kill(signal);
          return exited;
        },
      });
    });
  });
}
