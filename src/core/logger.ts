import { pino, type Logger } from 'pino';

export type { Logger };

/** The process logger: JSON lines on stderr, so stdout stays free for a command's own output. */
export function createLogger(options: { level?: string; name?: string } = {}): Logger {
  return pino({ level: options.level ?? 'info', name: options.name ?? 'strata' }, pino.destination(2));
}

/** For tests and library use: drops everything. */
export const silentLogger: Logger = pino({ level: 'silent' });
