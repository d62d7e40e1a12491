/**
 * Runs one command as a child and ties its life to ours, for bench/grpc-bench.ts: when our stdin
 * closes (the bench exited, even by SIGKILL or a crash) or we get SIGTERM/SIGINT, the command gets
 * the same signal (SIGTERM for a closed stdin), and SIGKILL if it has not exited 20 s later. The
 * command's stdout and stderr are ours (inherited), so the bench reads them directly. With --rm=DIR,
 * DIR (the command's temporary data) is removed once the command has exited.
 *
 *   node dist/bench/child-guard.js [--rm=DIR] COMMAND [ARGS...]
 */
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';

const argv = process.argv.slice(2);
const removeDir = argv[0]?.startsWith('--rm=') ? argv.shift()!.slice('--rm='.length) : undefined;
const [command, ...args] = argv;
if (!command) {
  process.stderr.write('usage: child-guard COMMAND [ARGS...]\n');
  process.exit(2);
}
const child = spawn(command, args, { stdio: ['ignore', 'inherit', 'inherit'] });
let isStopping = false;
const stop = (signal: NodeJS.Signals) => {
  if (isStopping) return;
  isStopping = true;
  child.kill(signal);
  setTimeout(() => child.kill('SIGKILL'), 20_000).unref();
};
process.stdin.on('end', () => stop('SIGTERM'));
process.stdin.on('error', () => stop('SIGTERM'));
process.stdin.resume();
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGHUP', () => stop('SIGTERM'));
child.on('error', (error) => {
  process.stderr.write(`child-guard: cannot run ${command}: ${error.message}\n`);
  process.exit(127);
});
child.on('exit', (code, signal) => {
  if (removeDir) rmSync(removeDir, { recursive: true, force: true });
  process.exit(code ?? (signal ? 1 : 0));
});
