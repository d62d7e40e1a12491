/**
 * The longest an iterator hands out records it already holds without giving the event loop a turn.
 * Handing out a held record resolves a promise at once, and `for await` resumes on the microtask
 * queue: without a macrotask now and then, a loop over a full buffer never lets timers (heartbeats,
 * the commit timer) or I/O (heartbeat answers, signals, the next responses) run, however long it goes on.
 */
export const MAX_MS_BETWEEN_YIELDS = 5;

/** One turn of the event loop: timers and I/O due by now run before the promise resolves. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
