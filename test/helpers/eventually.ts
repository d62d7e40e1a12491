import { setTimeout as sleep } from 'node:timers/promises';

export interface EventuallyOptions {
  /** What is awaited, for the failure message ("the member owns 2 partitions"). */
  what: string;
  /** Give up after this long (default 10 s: generous on a loaded 2-core machine). */
  timeoutMs?: number;
  /** Pause between tries (default 10 ms). */
  intervalMs?: number;
}

/**
 * Waits for something a test cannot be told about directly, by asking until it holds: `check` is
 * retried until it returns a value other than false, undefined or null without throwing (so an
 * `expect(...)` inside it works), and that value is returned. On timeout it fails naming `what` and
 * the last answer or error, never hanging the suite. Use it in place of a fixed sleep that guards a
 * race: wait for the real signal (a subscription started, a member in describe, a first output line).
 */
export async function eventually<T>(check: () => T | Promise<T>, options: EventuallyOptions): Promise<Exclude<T, false | undefined | null>> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const intervalMs = options.intervalMs ?? 10;
  const deadline = performance.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== false && value !== undefined && value !== null) return value as Exclude<T, false | undefined | null>;
      last = value;
    } catch (error) {
      last = error;
    }
    if (performance.now() >= deadline) {
      const detail = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${options.what} (last: ${detail})`, { cause: last });
    }
    await sleep(intervalMs);
  }
}
