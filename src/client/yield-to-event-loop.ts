/**
 * The longest an iterator hands out records it already holds without giving the event loop a turn.
 * Handing out a held record resolves a promise at once, and `for await` resumes on the microtask
 * queue: without a macrotask now and then, a loop over a full buffer never lets timers (heartbeats,
 * the commit timer) or I/O (heartbeat answers, signals, the next responses) run, however long it goes on.
 */
export const MAX_MS_BETWEEN_YIELDS = 5;

/**
 * The same for consume() and consumeBatches(), which have no heartbeat to keep, while their read-ahead
 * is full: a turn lets timers and signals run, but each costs the replay (an 8-partition replay from
 * a server process took about 35 % more client CPU a record yielding every 5 ms than never; at 20 ms
 * it was within the noise of never, as the code before round robin, which yielded only when it waited).
 */
export const CONSUME_MS_BETWEEN_YIELDS = 20;

/**
 * ...and while their read-ahead has room and waits for the stream: then a partition whose lane ran
 * out gets its next response only with a turn of the event loop, and until then the others go on
 * without it (with turns every 20 ms, a 100k backlog kept the other partitions waiting up to 1,744
 * records; every 5 ms, up to 508).
 */
export const CONSUME_MS_BETWEEN_READS = 5;

/** One turn of the event loop: timers and I/O due by now run before the promise resolves. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
