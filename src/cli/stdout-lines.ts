import { once } from 'node:events';

/**
 * Lines to stdout for commands that print records as they come: a slow reader (`| less`) slows the
 * loop instead of filling memory (write() returning false, then 'drain'), and a reader that goes away
 * (`| head -1`: EPIPE) stops the command quietly through `closed` instead of crashing it, so a group
 * member still leaves cleanly.
 */
export class StdoutLines {
  private readonly controller = new AbortController();
  private readonly onError = (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') process.stderr.write(`stdout: ${error.message}\n`);
    this.controller.abort();
  };

  constructor(private readonly stream: NodeJS.WritableStream & { writableLength?: number } = process.stdout) {
    stream.on('error', this.onError);
  }

  /** Aborted once stdout cannot take more (its reader closed it, or it failed). */
  get closed(): AbortSignal {
    return this.controller.signal;
  }

  /** Writes one line; false once stdout is closed (nothing more will be written). */
  write(line: string): Promise<boolean> {
    return this.writeText(line + '\n');
  }

  /** Writes text as it is (a --format may or may not end lines); false once stdout is closed. */
  async writeText(text: string): Promise<boolean> {
    if (this.closed.aborted) return false;
    if (!this.stream.write(text)) await once(this.stream, 'drain', { signal: this.closed }).catch(() => undefined);
    return !this.closed.aborted;
  }

  dispose(): void {
    this.stream.off('error', this.onError);
  }
}

/** Runs `onSignal` on every SIGINT and SIGTERM until `dispose()`: a second signal must not kill a command that is still leaving cleanly. */
export function onStopSignals(onSignal: () => void): { dispose(): void } {
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    dispose() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}
