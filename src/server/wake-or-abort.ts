/** Resolves when `register`'s wake function is called or `signal` aborts (the listener is removed either way). */
export function wakeOrAbort(register: (wake: () => void) => void, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      signal.removeEventListener('abort', done);
      resolve();
    };
    signal.addEventListener('abort', done, { once: true });
    register(done);
  });
}
