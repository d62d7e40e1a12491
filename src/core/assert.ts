/**
 * Assertions guard invariants that must hold if the code is correct. A failed assertion is a bug,
 * never an expected condition: it throws AssertionError and callers must not catch it to carry on.
 * Expected failures (bad input, missing topics, I/O errors) are typed StrataErrors instead.
 */
export class AssertionError extends Error {
  override readonly name = 'AssertionError';
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionError(message);
}

export function assertSafeInteger(value: number, what: string): void {
  if (!Number.isSafeInteger(value)) throw new AssertionError(`${what} must be a safe integer, got ${value}`);
}
