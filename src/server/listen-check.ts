import { createServer } from 'node:net';
import { InvalidConfigError, PortInUseError, StrataError } from '../core/errors.js';

/**
 * Fails at once, with one line to say why, when the server could not listen on host:port, before
 * anything touches the data directory (opening it may create it, run recovery, write markers). It
 * listens on the address itself and lets go: the gRPC server binds a moment later, so another
 * process could still take the port in between; that bind's failure says the same (listenErrorOf).
 * Port 0 (any free port) cannot be taken.
 */
export async function checkCanListen(host: string, port: number, flag = '--port'): Promise<void> {
  if (port === 0) return;
  const probe = createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      probe.once('error', reject);
      probe.listen({ host, port, exclusive: true }, () => resolve());
    });
  } catch (error) {
    throw listenErrorOf(error, host, port, flag) ?? error;
  } finally {
    await new Promise<void>((resolve) => probe.close(() => resolve()));
  }
}

/** A failure to listen on host:port as a one-line Strata error, or undefined if it is something else. */
export function listenErrorOf(error: unknown, host: string, port: number, flag = '--port'): StrataError | undefined {
  if (error instanceof StrataError) return error;
  const errno = (error as NodeJS.ErrnoException | undefined)?.code;
  const text = error instanceof Error ? error.message : String(error);
  // grpc-js reports a failed bind in its message only ("... errors: [listen EADDRINUSE: ...]").
  if (errno === 'EADDRINUSE' || /\bEADDRINUSE\b/.test(text)) return new PortInUseError(`${host}:${port} is in use by another process: choose another ${flag}, or stop that process`);
  if (errno === 'EACCES' || /\bEACCES\b/.test(text)) return new InvalidConfigError(`cannot listen on ${host}:${port}: permission denied (ports below 1024 need privileges)`);
  if (errno === 'EADDRNOTAVAIL' || /\bEADDRNOTAVAIL\b/.test(text) || errno === 'ENOTFOUND') return new InvalidConfigError(`cannot listen on ${host}:${port}: the host is not an address of this machine`);
  return undefined;
}
