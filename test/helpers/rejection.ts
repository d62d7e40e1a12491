import type { StrataClientError } from '../../src/client/client-error.js';

/** The error a promise rejects with; fails the test if it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<StrataClientError> {
  try {
    await promise;
  } catch (error) {
    return error as StrataClientError;
  }
  throw new Error('expected a rejection');
}
