import type { ManualClock } from '../../src/core/clock.js';

/** One turn of the event loop: callbacks queued with setImmediate (a fake server's answers) run. */
export const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Where a promise stands, readable without awaiting it. */
export function track<T>(promise: Promise<T>): { readonly isSettled: boolean; readonly outcome: string | undefined; readonly value: T | undefined } {
  const state = { isSettled: false, outcome: undefined as string | undefined, value: undefined as T | undefined };
  promise.then(
    (value) => Object.assign(state, { isSettled: true, outcome: 'acknowledged', value }),
    (error: Error) => Object.assign(state, { isSettled: true, outcome: `rejected: ${error.message}` }),
  );
  return state;
}

/**
 * Moves `clock` on `stepMs` at a time, giving the event loop a turn before each step, until `check`
 * returns something other than false, undefined or null, and returns it. The code under test then
 * sees time pass only through the clock, in steps; nothing waits on the real clock. Fails naming
 * `what` once `maxMs` of clock time passed. `stepMs` 0: the clock stays, for what must happen with
 * no time passing (fails after 1,000 turns).
 */
export async function advanceUntil<T>(clock: ManualClock, check: () => T, options: { what: string; stepMs?: number; maxMs?: number }): Promise<Exclude<T, false | undefined | null>> {
  const stepMs = options.stepMs ?? 1;
  const maxMs = options.maxMs ?? 600_000;
  const untilMs = clock.nowMs() + maxMs;
  for (let turns = 1; ; turns++) {
    await turn();
    const value = check();
    if (value !== false && value !== undefined && value !== null) return value as Exclude<T, false | undefined | null>;
    if (stepMs === 0 && turns >= 1_000) throw new Error(`${options.what}: not within 1000 turns of the event loop, with no time passing`);
    if (stepMs > 0 && clock.nowMs() >= untilMs) throw new Error(`${options.what}: not by ${maxMs} ms of clock time`);
    clock.advance(stepMs);
  }
}

/** `promise`'s own result (value or rejection), once it settles while `clock` is moved on by advanceUntil. */
export async function settleOn<T>(clock: ManualClock, promise: Promise<T>, what = 'the call settled'): Promise<T> {
  const tracked = track(promise);
  await advanceUntil(clock, () => tracked.isSettled, { what });
  return promise;
}
